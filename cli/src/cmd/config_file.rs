//! The backup commands' `--config FILE`: read, parse (unknown keys are errors) and make relative
//! paths relative to the file's directory. Every failure here exits 78 (configuration).

use std::path::Path;

use anyhow::Context;
use celeriac_backup::{BackupConfig, RawBackupConfig};

use crate::cmd::status::Coded;

/// Environment variable naming the config file when `--config` is not given.
pub(crate) const CONFIG_ENV: &str = "CELERIAC_BACKUP_CONFIG";

/// The raw config of `path`, or the defaults when there is no file.
pub(crate) fn load_raw(path: Option<&Path>) -> anyhow::Result<RawBackupConfig> {
    let Some(path) = path else {
        return Ok(RawBackupConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))
        .map_err(Coded::config)?;
    let mut raw = RawBackupConfig::from_toml(&text)
        .with_context(|| format!("in the config file {}", path.display()))
        .map_err(Coded::config)?;
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
