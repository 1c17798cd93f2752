//! From flags and the config file to what a backup run needs: the validated config, the keys,
//! the opened stores and the collect spec, in one function ([`setup`]) that `celeriac backup`
//! and the worker's task both build their pipeline with.
//!
//! Flags win over the config file (`--source` replaces `[[collect.roots]]`, `--store`
//! `backup.stores`, `--key-file` `[keys] main`). With **no config file**, what is still missing
//! comes from the embedded default in `CELERIAC_HOME`: the local store `store/` and the key
//! `keys/main.key`, generated on first use (0600 in a 0700 directory, in `celeriac keygen`'s
//! format) with a one-time note on stderr to keep it safe. A config file gets no defaults: a
//! missing store or key there is an error, as before.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use celeriac_backup::Pipeline;
use celeriac_backup::{
    BackupConfig, BackupKeys, CollectSpec, KeyRef, RawBackupConfig, StoreTarget,
};
use celeriac_crypto::{CryptoError, Key};
use celeriac_job::LocalRoots;
use celeriac_store::Store;

use crate::cmd::status::Coded;
use crate::cmd::{config_file, home, keys, secrets};

/// The embedded default's local store, inside `CELERIAC_HOME`.
pub(crate) const EMBEDDED_STORE: &str = "store";
/// The embedded default's key file, inside `CELERIAC_HOME`.
pub(crate) const EMBEDDED_KEY: &str = "keys/main.key";

/// What the command line says about a run (all optional).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Request<'a> {
    /// `--source DIR`s.
    pub(crate) sources: &'a [PathBuf],
    /// `--store` targets.
    pub(crate) stores: &'a [StoreTarget],
    /// `--key-file`.
    pub(crate) key_file: Option<&'a Path>,
    /// `--secrets-key-file`.
    pub(crate) secrets_key_file: Option<&'a Path>,
    /// The config file (already resolved from `--config` / `CELERIAC_CONFIG`).
    pub(crate) config: Option<&'a Path>,
}

/// Everything a run needs, ready.
#[derive(Debug)]
pub(crate) struct Setup {
    /// The validated config (pipeline options, limits, targets).
    pub(crate) config: BackupConfig,
    /// What to collect.
    pub(crate) spec: CollectSpec,
    /// The keys.
    pub(crate) keys: BackupKeys,
    /// The opened stores, in target order.
    pub(crate) stores: Vec<Arc<dyn Store>>,
    /// The local stores' directories, by store id.
    pub(crate) roots: LocalRoots,
}

impl Setup {
    /// The pipeline this setup describes (the config's streaming, retry and verification
    /// options and restore limits), and the stores and local roots beside it.
    pub(crate) fn into_pipeline(self) -> (Pipeline, Vec<Arc<dyn Store>>, LocalRoots) {
        let pipeline =
            Pipeline::new(self.spec, self.stores.clone(), self.keys).with_config(&self.config);
        (pipeline, self.stores, self.roots)
    }
}

/// The validated config and collect spec only (for `backup --dry-run`: no key, no store, no
/// embedded default created).
pub(crate) fn plan(request: &Request<'_>) -> anyhow::Result<(BackupConfig, CollectSpec)> {
    let mut raw = config_file::load_raw(request.config)?;
    apply_flags(&mut raw, request)?;
    let config = config_file::validate(raw, request.config)?;
    let spec = collect_spec(&config)?;
    Ok((config, spec))
}

/// Loads the config file, applies the flags and the embedded defaults, loads the keys and the
/// store credentials, opens the stores.
///
/// # Errors
/// Usage (64) when nothing is to be collected or no store / key is given with a config file;
/// configuration (78) for the file, keys or credentials; I/O for the embedded default.
pub(crate) fn setup(request: &Request<'_>) -> anyhow::Result<Setup> {
    let mut raw = config_file::load_raw(request.config)?;
    apply_flags(&mut raw, request)?;
    if request.config.is_none() {
        apply_embedded_defaults(&mut raw, request)?;
    }
    let keys = keys::backup_keys(request.key_file, request.secrets_key_file, &raw.keys)?;
    let config = config_file::validate(raw, request.config)?;
    let spec = collect_spec(&config)?;
    if config.targets.is_empty() {
        return Err(Coded::usage(anyhow::anyhow!(
            "no store: pass --store local:PATH or --store s3:NAME, or set `backup.stores`"
        )));
    }
    let stores = open_stores(&config)?;
    let roots = config.local_roots().into_iter().collect();
    Ok(Setup {
        config,
        spec,
        keys,
        stores,
        roots,
    })
}

/// Loads the S3 credentials (from the environment variables or files the config names) and
/// opens every target.
pub(crate) fn open_stores(config: &BackupConfig) -> anyhow::Result<Vec<Arc<dyn Store>>> {
    let credentials = secrets::target_credentials(config).map_err(Coded::config)?;
    config.open_targets(&credentials).map_err(Coded::config)
}

/// The validated `[collect]` table, or a usage error when no root is given.
fn collect_spec(config: &BackupConfig) -> anyhow::Result<CollectSpec> {
    config.collect.clone().ok_or_else(|| {
        Coded::usage(anyhow::anyhow!(
            "nothing to collect: pass --source DIR or add [[collect.roots]] to the config file"
        ))
    })
}

/// Puts the command-line sources and stores in place of the config file's.
fn apply_flags(raw: &mut RawBackupConfig, request: &Request<'_>) -> anyhow::Result<()> {
    if !request.sources.is_empty() {
        let roots = request
            .sources
            .iter()
            .map(|dir| {
                std::path::absolute(dir)
                    .with_context(|| format!("cannot resolve {}", dir.display()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        raw.set_roots(roots);
    }
    if !request.stores.is_empty() {
        if request.config.is_none()
            && let Some(StoreTarget::S3 { name }) = request
                .stores
                .iter()
                .find(|s| matches!(s, StoreTarget::S3 { .. }))
        {
            return Err(Coded::usage(anyhow::anyhow!(
                "--store s3:{name} needs --config FILE with a [stores.{name}] table"
            )));
        }
        let targets = request
            .stores
            .iter()
            .map(|s| match s {
                StoreTarget::Local { path } => std::path::absolute(path)
                    .map(|path| StoreTarget::Local { path })
                    .with_context(|| format!("cannot resolve {}", path.display())),
                StoreTarget::S3 { .. } => Ok(s.clone()),
            })
            .collect::<anyhow::Result<_>>()?;
        raw.set_store_targets(targets);
    }
    Ok(())
}

/// Without a config file: the local store in `CELERIAC_HOME` when no `--store` is given, and
/// the home's key when no key is given (flag or `CELERIAC_KEY`).
fn apply_embedded_defaults(raw: &mut RawBackupConfig, request: &Request<'_>) -> anyhow::Result<()> {
    let needs_store = raw.store_targets().is_empty();
    let needs_key = request.key_file.is_none()
        && std::env::var_os(keys::KEY_ENV).is_none()
        && raw.keys.main.is_none();
    if !needs_store && !needs_key {
        return Ok(());
    }
    let home = home::ensure()?;
    if needs_store {
        let store = home.join(EMBEDDED_STORE);
        home::ensure_private_dir(&store)?;
        raw.set_store_targets(vec![StoreTarget::Local { path: store }]);
    }
    if needs_key {
        let path = embedded_key(&home)?;
        raw.keys.main = Some(KeyRef::File(path));
    }
    Ok(())
}

/// The embedded key's file in `home`, generated when missing (with a note on stderr; the key
/// itself is never printed).
pub(crate) fn embedded_key(home: &Path) -> anyhow::Result<PathBuf> {
    let path = home.join(EMBEDDED_KEY);
    if path.exists() {
        return Ok(path);
    }
    if let Some(dir) = path.parent() {
        home::ensure_private_dir(dir)?;
    }
    match Key::generate_file(&path) {
        Ok(key) => {
            eprintln!(
                "celeriac: generated a new backup key (id {}) at {}\n\
                 celeriac: keep it safe and back it up somewhere other than this machine: \
                 without it, no backup made with it can be restored",
                key.id(),
                path.display()
            );
            Ok(path)
        }
        // Another run generated it first: use theirs.
        Err(CryptoError::KeyFileExists { .. }) => Ok(path),
        Err(err) => Err(anyhow::Error::new(err))
            .with_context(|| format!("cannot create the backup key at {}", path.display())),
    }
}

/// For reading (verify, restore) without a config file: the embedded key, when it exists, is
/// offered beside the others.
pub(crate) fn offer_embedded_key(raw: &mut RawBackupConfig, config: Option<&Path>) {
    if config.is_some() {
        return;
    }
    if let Ok(home) = home::dir() {
        let path = home.join(EMBEDDED_KEY);
        if path.is_file() {
            raw.keys.previous.push(KeyRef::File(path));
        }
    }
}
