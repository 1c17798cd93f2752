//! The backup commands' part of the config file (`[backup]`, `[keys]`, `[limits]`, `[collect]`,
//! `[stores.NAME]`): found from `--config` / `CELERIAC_CONFIG` (or the deprecated
//! `CELERIAC_BACKUP_CONFIG`), read and checked by `sections`, parsed (unknown keys are errors),
//! with relative paths made relative to the file's directory. Every failure here exits 78
//! (configuration).

use std::path::{Path, PathBuf};

use anyhow::Context;
use celeriac_backup::{BackupConfig, ConfigError, RawBackupConfig};

use crate::cmd::sections::{self, Reader};
use crate::cmd::status::Coded;

/// The backup commands' former variable for the config file, still read when neither
/// `--config` nor `CELERIAC_CONFIG` names one.
pub(crate) const DEPRECATED_ENV: &str = "CELERIAC_BACKUP_CONFIG";

/// The config file to read: `--config` / `CELERIAC_CONFIG` (`given`), else the deprecated
/// `CELERIAC_BACKUP_CONFIG`, with a one-line warning on stderr.
pub(crate) fn path(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = given {
        return Some(path.to_owned());
    }
    let value = std::env::var_os(DEPRECATED_ENV).filter(|v| !v.is_empty())?;
    eprintln!(
        "celeriac: warning: {DEPRECATED_ENV} is deprecated, set {} instead",
        sections::CONFIG_ENV
    );
    Some(PathBuf::from(value))
}

/// The raw config of `path`, or the defaults when there is no file.
pub(crate) fn load_raw(path: Option<&Path>) -> anyhow::Result<RawBackupConfig> {
    let Some(path) = path else {
        return Ok(RawBackupConfig::default());
    };
    let mut raw: RawBackupConfig =
        sections::read(path)?.part(Reader::Backup, |err| ConfigError::Parse(err).into())?;
    if let Some(dir) = path.parent() {
        // `lim1.toml` has the empty parent: the current directory.
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let dir = std::path::absolute(dir)
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        raw.resolve_paths(&dir);
    }
    Ok(raw)
}

/// Validates `raw` (errors name the key at fault).
pub(crate) fn validate(raw: RawBackupConfig, path: Option<&Path>) -> anyhow::Result<BackupConfig> {
    BackupConfig::try_from(raw)
        .with_context(|| match path {
            Some(path) => format!("in the config file {}", path.display()),
            None => "invalid backup settings".to_owned(),
        })
        .map_err(Coded::config)
}
