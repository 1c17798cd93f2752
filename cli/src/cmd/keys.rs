//! Where the backup commands get their keys. For writing (`backup`): `--key-file`, else
//! `CELERIAC_KEY` (base64 of 32 bytes), else `[keys] main` of the config file; the secrets key
//! likewise from `--secrets-key-file`, `CELERIAC_SECRETS_KEY`, `[keys] secrets`. For reading
//! (`verify --deep`, `restore`): a keyring of every `--key-file` (else of the set variables),
//! plus every key of the config file. Key bytes never reach output.

use std::path::{Path, PathBuf};

use anyhow::Context;
use celeriac_backup::{BackupKeys, KeyRef, RawKeys};
use celeriac_crypto::{Key, Keyring};

use crate::cmd::secrets;
use crate::cmd::status::Coded;

/// Environment variable holding the main key as base64 of 32 bytes.
pub(crate) const KEY_ENV: &str = "CELERIAC_KEY";
/// Environment variable holding the secrets bundle's key as base64 of 32 bytes.
pub(crate) const SECRETS_KEY_ENV: &str = "CELERIAC_SECRETS_KEY";

/// Warns (on stderr, as ssh does for identity files) when a key file can be read or written by
/// its group or by others: anyone who can read it can decrypt every backup made with it.
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_file() && mode & 0o077 != 0 {
            eprintln!(
                "celeriac: warning: key file {} is accessible by group or others (mode {mode:04o}); \
                 run `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
}

/// One key: the flag's file, else the environment variable when set, else the config entry.
fn pick(file: Option<&Path>, env: &str, config: Option<&KeyRef>) -> anyhow::Result<Option<Key>> {
    let key = if let Some(path) = file {
        warn_if_shared(path);
        Key::from_file(path)
    } else if std::env::var_os(env).is_some() {
        secrets::key_from_env(env)
    } else if let Some(reference) = config {
        secrets::load_key(reference)
    } else {
        return Ok(None);
    };
    key.map(Some).context("cannot load a key")
}

/// The keys of a backup run: the main key is required, the secrets key optional.
pub(crate) fn backup_keys(
    key_file: Option<&Path>,
    secrets_key_file: Option<&Path>,
    config: &RawKeys,
) -> anyhow::Result<BackupKeys> {
    let main = pick(key_file, KEY_ENV, config.main.as_ref())?.ok_or_else(|| {
        Coded::usage(anyhow::anyhow!(
            "no key given: pass --key-file FILE, set {KEY_ENV} (base64 of 32 bytes) or set \
             `[keys] main` in the config file"
        ))
    })?;
    let keys = BackupKeys::new(main);
    Ok(
        match pick(secrets_key_file, SECRETS_KEY_ENV, config.secrets.as_ref())? {
            Some(secrets) => keys.with_secrets_key(secrets),
            None => keys,
        },
    )
}

/// A keyring for reading: every `files` entry (or, when none, the keys in `CELERIAC_KEY` and
/// `CELERIAC_SECRETS_KEY` that are set) plus every key in the config file. May be empty.
pub(crate) fn reading_keyring(files: &[PathBuf], config: &RawKeys) -> anyhow::Result<Keyring> {
    let mut ring = Keyring::new();
    for path in files {
        warn_if_shared(path);
        ring.insert(Key::from_file(path).context("cannot load a key")?);
    }
    if files.is_empty() {
        for env in [KEY_ENV, SECRETS_KEY_ENV] {
            if std::env::var_os(env).is_some() {
                ring.insert(secrets::key_from_env(env).context("cannot load a key")?);
            }
        }
    }
    for reference in config
        .main
        .iter()
        .chain(&config.secrets)
        .chain(&config.previous)
    {
        ring.insert(
            secrets::load_key(reference).context("cannot load a key named in the config file")?,
        );
    }
    Ok(ring)
}

/// [`reading_keyring`] that must hold at least one key (`what` says what it is for).
pub(crate) fn required_keyring(
    files: &[PathBuf],
    config: &RawKeys,
    what: &str,
) -> anyhow::Result<Keyring> {
    let ring = reading_keyring(files, config)?;
    if ring.is_empty() {
        return Err(Coded::usage(anyhow::anyhow!(
            "{what} needs a key: pass --key-file FILE or set {KEY_ENV} (base64 of 32 bytes)"
        )));
    }
    Ok(ring)
}
