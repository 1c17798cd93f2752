//! Credentials handling: [`SecretString`] (redacted, zeroized) and [`SecretRef`], the
//! config-file reference to where a secret lives (an environment variable or a file), so that
//! secret values never sit in the committed TOML.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use zeroize::Zeroizing;

/// A secret string: no `Display`, a redacted `Debug`, zeroed when dropped.
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret value, for the one place that must send it (the request signer).
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

/// Where a secret lives, as written in the config file:
///
/// ```toml
/// access-key-id = { env = "R2_ACCESS_KEY_ID" }
/// secret-access-key = { file = "/run/secrets/r2_secret_access_key" }
/// ```
///
/// A literal value (`access-key-id = "AKIA..."`) is rejected when the config is parsed: secret
/// values come only from the environment or from files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum SecretRef {
    /// The value of this environment variable.
    Env(String),
    /// The contents of this file, without surrounding whitespace.
    File(PathBuf),
}

/// Why a [`SecretRef`] could not be read. Never contains the secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The environment variable is unset or not Unicode.
    #[error("environment variable {name} is not set")]
    MissingEnv {
        /// The variable's name.
        name: String,
    },
    /// The file could not be read.
    #[error("cannot read secret file {}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The secret is empty after trimming whitespace.
    #[error("secret from {origin} is empty")]
    Empty {
        /// `env NAME` or `file PATH`.
        origin: String,
    },
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => write!(f, "env {name}"),
            Self::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretString::new("hunter2");
        assert_eq!(format!("{s:?}"), "SecretString(<redacted>)");
        assert_eq!(s.expose_secret(), "hunter2");
    }

    #[test]
    fn config_syntax_accepts_refs_and_rejects_literals() {
        #[derive(Deserialize)]
        struct T {
            k: SecretRef,
        }
        let env: T = toml::from_str("k = { env = \"R2_KEY\" }").unwrap();
        assert_eq!(env.k, SecretRef::Env("R2_KEY".into()));
        let file: T = toml::from_str("k = { file = \"/run/secrets/x\" }").unwrap();
        assert_eq!(file.k, SecretRef::File("/run/secrets/x".into()));
        assert!(toml::from_str::<T>("k = \"AKIAEXAMPLE\"").is_err());
        assert!(toml::from_str::<T>("k = { env = \"A\", file = \"/b\" }").is_err());
    }
}
