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

impl SecretRef {
    /// Reads the secret. Call it once at startup, in the binary: libraries take resolved
    /// [`SecretString`]s and never read the environment themselves.
    pub fn load(&self) -> Result<SecretString, CredentialError> {
        let value = match self {
            Self::Env(name) => Zeroizing::new(
                std::env::var(name)
                    .map_err(|_| CredentialError::MissingEnv { name: name.clone() })?,
            ),
            Self::File(path) => {
                Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
                    CredentialError::File {
                        path: path.clone(),
                        source,
                    }
                })?)
            }
        };
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(CredentialError::Empty {
                origin: self.to_string(),
            });
        }
        Ok(SecretString::new(trimmed))
    }
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
    fn file_ref_is_trimmed_and_errors_do_not_echo_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "  s3cr3t-value\n").unwrap();
        let loaded = SecretRef::File(path.clone()).load().unwrap();
        assert_eq!(loaded.expose_secret(), "s3cr3t-value");

        std::fs::write(&path, " \n").unwrap();
        let err = SecretRef::File(path).load().unwrap_err();
        assert!(matches!(err, CredentialError::Empty { .. }));

        let missing = SecretRef::File(dir.path().join("absent"))
            .load()
            .unwrap_err();
        assert!(matches!(missing, CredentialError::File { .. }));
    }

    #[test]
    fn missing_env_names_the_variable() {
        let name = format!("CELERIAC_STORE_TEST_UNSET_{}", rand::random::<u64>());
        let err = SecretRef::Env(name.clone()).load().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("environment variable {name} is not set")
        );
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
