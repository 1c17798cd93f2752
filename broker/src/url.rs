//! Owns [`BrokerUrl`]: the parsed `amqp://` URL, which never prints its password.

use std::fmt;

use lapin::uri::AMQPUri;

/// A broker URL did not parse (the text is not kept: it may hold a password).
#[derive(Debug, thiserror::Error)]
#[error("invalid broker url (expected amqp://user:password@host:port/vhost)")]
pub struct BrokerUrlError;

/// The broker URL: parsed, and never printed with its password.
pub struct BrokerUrl {
    uri: AMQPUri,
}

impl BrokerUrl {
    /// Parses an `amqp://` or `amqps://` URL.
    pub fn parse(text: &str) -> Result<Self, BrokerUrlError> {
        let uri = text.parse::<AMQPUri>().map_err(|_| BrokerUrlError)?;
        Ok(Self { uri })
    }

    /// The parsed URI to hand to lapin.
    pub(crate) fn uri(&self) -> AMQPUri {
        self.uri.clone()
    }

    /// The URL with the password replaced by `***`, for logs.
    pub fn safe_url(&self) -> String {
        let a = &self.uri.authority;
        let vhost = if self.uri.vhost == "/" {
            "%2f"
        } else {
            &self.uri.vhost
        };
        format!(
            "{}://{}:***@{}:{}/{}",
            self.uri.scheme, a.userinfo.username, a.host, a.port, vhost
        )
    }
}

impl fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.safe_url())
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.safe_url())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_printed() {
        let url = BrokerUrl::parse("amqp://user:s3cr3t@host:5673/v").unwrap();
        assert_eq!(url.safe_url(), "amqp://user:***@host:5673/v");
        assert_eq!(format!("{url}"), url.safe_url());
        assert_eq!(format!("{url:?}"), url.safe_url());
        let root = BrokerUrl::parse("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(root.safe_url(), "amqp://guest:***@127.0.0.1:5672/%2f");
        let err = BrokerUrl::parse("http://user:s3cr3t@[bad").unwrap_err();
        assert!(!format!("{err:?} {err}").contains("s3cr3t"));
    }
}
