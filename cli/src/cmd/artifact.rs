//! From `ARTIFACT` arguments (a local path or `s3:NAME/KEY`) to stores and object keys: the
//! copies `verify` checks and `restore` falls back through. With a config file, the same
//! artifact in every store of `backup.stores` is a further fallback copy.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use celeriac_backup::Bundle;
use celeriac_backup::{ArtifactAddress, ArtifactName, BackupConfig, StoreTarget};
use celeriac_store::{ObjectKey, Store};

use crate::cmd::secrets;
use crate::cmd::status::Coded;

/// One copy of an artifact: where it is, and a label for messages.
#[derive(Debug, Clone)]
pub(crate) struct Copy {
    /// The store holding it.
    pub(crate) store: Arc<dyn Store>,
    /// Its key there.
    pub(crate) key: ObjectKey,
    /// `s3:NAME/KEY` or the file path.
    pub(crate) label: String,
    /// For local copies: the file, to avoid trying one file twice.
    file: Option<PathBuf>,
}

/// Opens the copy named by `address`; with `bundle`, the named backup's artifact of that bundle
/// (its sibling when the address names the other one).
pub(crate) fn open(
    address: &ArtifactAddress,
    config: &BackupConfig,
    bundle: Option<Bundle>,
) -> anyhow::Result<Copy> {
    match address {
        ArtifactAddress::Local { path } => {
            let path = std::path::absolute(path)
                .with_context(|| format!("cannot resolve {}", path.display()))?;
            let (store, key) = ArtifactAddress::local_store(&path).map_err(Coded::usage)?;
            let key = select_bundle(key, bundle)?;
            let file = store.root().join(key.as_str());
            Ok(Copy {
                label: file.display().to_string(),
                store: Arc::new(store),
                key,
                file: Some(file),
            })
        }
        ArtifactAddress::S3 { store, key } => {
            let credentials = secrets::store_credentials(config, [store]).map_err(Coded::config)?;
            let opened = config.open_s3(store, &credentials).map_err(Coded::config)?;
            let key = select_bundle(key.clone(), bundle)?;
            Ok(Copy {
                label: format!("s3:{store}/{key}"),
                store: opened,
                key,
                file: None,
            })
        }
    }
}

fn select_bundle(key: ObjectKey, bundle: Option<Bundle>) -> anyhow::Result<ObjectKey> {
    match bundle {
        None => Ok(key),
        Some(bundle) => ArtifactName::sibling_key(&key, bundle)
            .with_context(|| format!("cannot tell which backup {key} belongs to"))
            .map_err(Coded::usage),
    }
}

/// The copies to try, in order: every `addresses` entry, then (when the first one's file name is
/// an artifact name) the same artifact in each configured store not already listed. A store
/// that cannot be opened (e.g. missing credentials) is left out with a warning.
pub(crate) fn copies(
    addresses: &[ArtifactAddress],
    config: &BackupConfig,
    bundle: Option<Bundle>,
) -> anyhow::Result<Vec<Copy>> {
    let mut out: Vec<Copy> = Vec::new();
    for address in addresses {
        push_new(&mut out, open(address, config, bundle)?);
    }
    let Some(first) = out.first() else {
        return Ok(out);
    };
    let Ok(name) = ArtifactName::from_key(&first.key) else {
        return Ok(out);
    };
    let Ok(key) = name.object_key(config.prefix()) else {
        return Ok(out);
    };
    for target in &config.targets {
        match configured(target, config, &key) {
            Ok(copy) => push_new(&mut out, copy),
            Err(err) => {
                tracing::warn!(store = %target, error = format!("{err:#}"), "store left out of the fallback list");
            }
        }
    }
    Ok(out)
}

/// The artifact `key` in the configured `target`.
fn configured(
    target: &StoreTarget,
    config: &BackupConfig,
    key: &ObjectKey,
) -> anyhow::Result<Copy> {
    match target {
        StoreTarget::Local { path } => {
            let file = path.join(key.as_str());
            open(&ArtifactAddress::Local { path: file }, config, None)
        }
        StoreTarget::S3 { name } => open(
            &ArtifactAddress::S3 {
                store: name.clone(),
                key: key.clone(),
            },
            config,
            None,
        ),
    }
}

fn push_new(list: &mut Vec<Copy>, copy: Copy) {
    let same = |c: &Copy| match (&c.file, &copy.file) {
        (Some(a), Some(b)) => same_file(a, b),
        (None, None) => c.store.id() == copy.store.id() && c.key == copy.key,
        _ => false,
    };
    if !list.iter().any(same) {
        list.push(copy);
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}
