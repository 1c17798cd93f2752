//! Owns [`BrokerUrl`]: the parsed `amqp://` URL, which never prints its password.

use std::fmt;

use lapin::uri::AMQPUri;

/// The broker when none is named: a local RabbitMQ's default user on the default vhost (as
/// Celery's own default, `amqp://guest@localhost//`).
pub const DEFAULT_BROKER_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The largest AMQP frame asked for when the URL names none (the server may ask for less).
pub const DEFAULT_FRAME_MAX: u32 = 32 * 1024;

/// A broker URL did not parse (the text is not kept: it may hold a password).
#[derive(Debug, thiserror::Error)]
#[error("invalid broker url (expected amqp://user:password@host:port/vhost)")]
pub struct BrokerUrlError;

/// The broker URL: parsed, and never printed with its password.
#[derive(Clone)]
pub struct BrokerUrl {
    uri: AMQPUri,
}

/// The public parts of a [`BrokerUrl`] (never the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Host name or address.
    pub hostname: String,
    /// TCP port.
    pub port: u16,
    /// User name.
    pub userid: String,
    /// Virtual host, decoded (`/` for `%2f`).
    pub virtual_host: String,
    /// `amqps://`.
    pub ssl: bool,
}

impl BrokerUrl {
    /// Parses an `amqp://` or `amqps://` URL.
    ///
    /// Without a `?frame_max=` of its own, the URL asks for [`DEFAULT_FRAME_MAX`]: lapin keeps
    /// two buffers of 32 frames per connection, so RabbitMQ's default frame size (128 KiB)
    /// would cost 8 MiB of memory per connection; 32 KiB frames cost 2 MiB. Celery messages
    /// are far smaller than a frame; a larger body is only split into more frames.
    pub fn parse(text: &str) -> Result<Self, BrokerUrlError> {
        let mut uri = text.parse::<AMQPUri>().map_err(|_| BrokerUrlError)?;
        uri.query.frame_max.get_or_insert(DEFAULT_FRAME_MAX);
        Ok(Self { uri })
    }

    /// The parsed URI to hand to lapin.
    pub(crate) fn uri(&self) -> AMQPUri {
        self.uri.clone()
    }

    /// What kombu's `Connection.info()` reports, without the password: host, port, user,
    /// virtual host and whether TLS is used (`inspect stats` shows it).
    pub fn info(&self) -> BrokerInfo {
        let a = &self.uri.authority;
        BrokerInfo {
            hostname: a.host.clone(),
            port: a.port,
            userid: a.userinfo.username.clone(),
            virtual_host: self.uri.vhost.clone(),
            ssl: matches!(self.uri.scheme, lapin::uri::AMQPScheme::AMQPS),
        }
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
    fn frames_default_to_32_kib_unless_the_url_asks() {
        let url = BrokerUrl::parse("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(url.uri().query.frame_max, Some(DEFAULT_FRAME_MAX));
        let url = BrokerUrl::parse("amqp://h/%2f?frame_max=131072").unwrap();
        assert_eq!(url.uri().query.frame_max, Some(131_072));
    }

    #[test]
    fn the_password_is_never_printed() {
        let url = BrokerUrl::parse("amqp://user:s3cr3t@host:5673/v").unwrap();
        assert_eq!(url.safe_url(), "amqp://user:***@host:5673/v");
        assert_eq!(format!("{url}"), url.safe_url());
        assert_eq!(format!("{url:?}"), url.safe_url());
        let root = BrokerUrl::parse("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(root.safe_url(), "amqp://guest:***@127.0.0.1:5672/%2f");
        let info = url.info();
        assert_eq!(
            (info.hostname.as_str(), info.port, info.userid.as_str()),
            ("host", 5673, "user")
        );
        assert_eq!((info.virtual_host.as_str(), info.ssl), ("v", false));
        let err = BrokerUrl::parse("http://user:s3cr3t@[bad").unwrap_err();
        assert!(!format!("{err:?} {err}").contains("s3cr3t"));
    }
}
