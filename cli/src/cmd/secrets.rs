//! The edge where configured secrets become values: `{ env = "VAR" }` and `{ file = "PATH" }`
//! references to keys (`[keys]`, `KeyRef`) and to S3 credentials (`[stores.NAME]`, `SecretRef`)
//! are read here, in the binary, once per command. The libraries take resolved values and read
//! no environment variable or file for configuration. Errors name the variable or the file,
//! never the value.

use celeriac_backup::{BackupConfig, ConfigError, KeyRef, StoreCredentials, StoreTarget};
use celeriac_crypto::{CryptoError, Key, KeyOrigin};
use celeriac_store::{CredentialError, S3Credentials, SecretRef, SecretString, StoreId};
use zeroize::Zeroizing;

/// The key in environment variable `var` (base64 of 32 bytes).
pub(crate) fn key_from_env(var: &str) -> Result<Key, CryptoError> {
    let value = std::env::var_os(var).ok_or_else(|| CryptoError::KeyEnvMissing {
        var: var.to_owned(),
    })?;
    let text = Zeroizing::new(value.into_encoded_bytes());
    Key::from_base64_at(&text, KeyOrigin::Env(var.to_owned()))
}

/// The key a `[keys]` entry names.
pub(crate) fn load_key(reference: &KeyRef) -> Result<Key, CryptoError> {
    match reference {
        KeyRef::Env(var) => key_from_env(var),
        KeyRef::File(path) => Key::from_file(path),
    }
}

/// The secret a `{ env }` / `{ file }` reference names, trimmed; empty is an error.
pub(crate) fn load_secret(reference: &SecretRef) -> Result<SecretString, CredentialError> {
    let value = match reference {
        SecretRef::Env(name) => Zeroizing::new(
            std::env::var(name).map_err(|_| CredentialError::MissingEnv { name: name.clone() })?,
        ),
        SecretRef::File(path) => {
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
            origin: reference.to_string(),
        });
    }
    Ok(SecretString::new(trimmed))
}

/// The credentials of the S3 stores `names` of `config`.
pub(crate) fn store_credentials<'a>(
    config: &BackupConfig,
    names: impl IntoIterator<Item = &'a StoreId>,
) -> Result<StoreCredentials, ConfigError> {
    let mut out = StoreCredentials::new();
    for name in names {
        let options = config
            .s3
            .get(name)
            .ok_or_else(|| ConfigError::NoSuchStore { name: name.clone() })?;
        let credentials = load_secret(&options.access_key_id)
            .and_then(|id| {
                Ok(S3Credentials::new(
                    id,
                    load_secret(&options.secret_access_key)?,
                ))
            })
            .map_err(|source| ConfigError::Credentials {
                name: name.clone(),
                source,
            })?;
        out.insert(name.clone(), credentials);
    }
    Ok(out)
}

/// The credentials of every S3 store among `config.targets`.
pub(crate) fn target_credentials(config: &BackupConfig) -> Result<StoreCredentials, ConfigError> {
    let names: Vec<&StoreId> = config
        .targets
        .iter()
        .filter_map(|t| match t {
            StoreTarget::S3 { name } => Some(name),
            StoreTarget::Local { .. } => None,
        })
        .collect();
    store_credentials(config, names)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn a_secret_file_is_trimmed_and_errors_do_not_echo_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "  s3cr3t-value\n").unwrap();
        let loaded = load_secret(&SecretRef::File(path.clone())).unwrap();
        assert_eq!(loaded.expose_secret(), "s3cr3t-value");
        std::fs::write(&path, " \n").unwrap();
        let err = load_secret(&SecretRef::File(path)).unwrap_err();
        assert!(matches!(err, CredentialError::Empty { .. }));
        assert!(!err.to_string().contains("s3cr3t"));
        let missing = load_secret(&SecretRef::File(dir.path().join("absent"))).unwrap_err();
        assert!(matches!(missing, CredentialError::File { .. }));
    }

    #[test]
    fn unset_variables_are_named() {
        let name = "CELERIAC_CLI_TEST_SURELY_UNSET_SECRET";
        let err = load_secret(&SecretRef::Env(name.into())).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("environment variable {name} is not set")
        );
        let err = load_key(&KeyRef::Env(name.into())).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }

    #[test]
    fn key_files_load_and_credentials_need_a_configured_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let key = Key::generate_file(&path).unwrap();
        assert_eq!(load_key(&KeyRef::File(path)).unwrap().id(), key.id());
        let config = BackupConfig::from_toml(
            "[stores.r2]\nendpoint = \"https://x.example\"\nbucket = \"bkt\"\n\
             access-key-id = { env = \"CELERIAC_CLI_TEST_UNSET_A\" }\n\
             secret-access-key = { env = \"CELERIAC_CLI_TEST_UNSET_B\" }",
        )
        .unwrap();
        assert!(
            target_credentials(&config).is_ok(),
            "no target, nothing to load"
        );
        let r2 = StoreId::new("r2").unwrap();
        let err = store_credentials(&config, [&r2]).unwrap_err();
        assert_eq!(err.to_string(), "cannot load the credentials of store r2");
        let nope = StoreId::new("nope").unwrap();
        assert!(matches!(
            store_credentials(&config, [&nope]),
            Err(ConfigError::NoSuchStore { .. })
        ));
    }
}
