//! From a backup in the catalog to its stored copies: which argument names a catalog backup
//! ([`Subject`]), the stores of the config by the names the catalog records
//! (`[stores.NAME]`, and the local targets `local`, `local-2`, … in order; without a config
//! file, `local` is the embedded store `$CELERIAC_HOME/store`), and where each copy row is
//! ([`locate`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use celeriac_backup::Bundle;
use celeriac_backup::Expected;
use celeriac_backup::{AddressError, ArtifactAddress, ArtifactName, BackupConfig};
use celeriac_catalog::{Backup, BackupCopy, Catalog, CatalogError, CopyStatus, StoreKind};
use celeriac_store::{LocalStore, ObjectKey, Sha256Digest, Store, StoreId};
use uuid::Uuid;

use crate::cmd::backup_setup::EMBEDDED_STORE;
use crate::cmd::read_progress::Reading;
use crate::cmd::{home, secrets};

/// What `verify` and `restore` are given: a backup id of the catalog (anything that parses as
/// a UUID), or an artifact address (a path, `local:PATH`, `s3:NAME/KEY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    /// A backup in the catalog.
    Backup(Uuid),
    /// One stored artifact.
    Artifact(ArtifactAddress),
}

impl FromStr for Subject {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match Uuid::parse_str(s) {
            Ok(id) => Ok(Self::Backup(id)),
            Err(_) => s.parse().map(Self::Artifact),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Backup(id) => write!(f, "backup {id}"),
            Self::Artifact(address) => address.fmt(f),
        }
    }
}

/// A store by name, or why it cannot be used.
type Opened = Result<Arc<dyn Store>, String>;

/// The stores a catalog copy can be in, by the name the catalog records.
#[derive(Debug, Default)]
pub(crate) struct NamedStores {
    stores: BTreeMap<String, Opened>,
    /// The embedded store's directory, when `local` is the embedded default (no config file).
    embedded: Option<PathBuf>,
}

impl NamedStores {
    /// Every store `config` names: its local targets (`local`, `local-2`, …), every
    /// `[stores.NAME]` table (a store whose credentials cannot be loaded is kept with the
    /// reason), and without a config file the embedded store as `local`.
    pub(crate) fn from_config(config: &BackupConfig, config_path: Option<&Path>) -> Self {
        let mut stores = BTreeMap::new();
        let mut embedded = None;
        for (id, root) in config.local_roots() {
            stores.insert(id.to_string(), Ok(local(id, root)));
        }
        if config_path.is_none()
            && !stores.contains_key("local")
            && let Ok(home) = home::dir()
            && let Ok(id) = StoreId::new("local")
        {
            let root = home.join(EMBEDDED_STORE);
            stores.insert("local".to_owned(), Ok(local(id, root.clone())));
            embedded = Some(root);
        }
        for name in config.s3.keys() {
            let opened = secrets::store_credentials(config, [name])
                .and_then(|credentials| config.open_s3(name, &credentials))
                .map_err(|e| format!("{:#}", anyhow::Error::new(e)));
            stores.insert(name.to_string(), opened);
        }
        Self { stores, embedded }
    }

    /// The same stores, each drawing its reads through `reading`.
    pub(crate) fn watched(mut self, reading: &Reading) -> Self {
        for store in self.stores.values_mut().flatten() {
            *store = reading.watch(store.clone());
        }
        self
    }
}

fn local(id: StoreId, root: PathBuf) -> Arc<dyn Store> {
    Arc::new(LocalStore::new(id, root))
}

/// Where one copy row can be read: its store and key (perhaps several candidates), a label.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    /// The candidates, the configured store first.
    pub(crate) candidates: Vec<(Arc<dyn Store>, ObjectKey)>,
    /// `STORE:KEY`, for messages.
    pub(crate) label: String,
    /// Why there is no candidate, when there is none.
    pub(crate) missing: Option<String>,
}

/// The candidates for `copy` of `backup`: the configured store of that name, then, when it is
/// the backup's only local copy, the directory the row's `local_path` points at (so a backup
/// written with `--store local:DIR` is found without a config file; with several local copies
/// `local_path` cannot tell whose directory it is).
pub(crate) fn locate(
    copy: &BackupCopy,
    backup: &Backup,
    stores: &NamedStores,
    only_local: bool,
) -> Located {
    let label = format!("{}:{}", copy.store_name, copy.object_key);
    let key = match ObjectKey::new(copy.object_key.clone()) {
        Ok(key) => key,
        Err(err) => {
            return Located {
                candidates: Vec::new(),
                label,
                missing: Some(format!("the recorded object key is not valid: {err}")),
            };
        }
    };
    let mut candidates = Vec::new();
    let mut missing = None;
    match stores.stores.get(&copy.store_name) {
        // The embedded store stands in for `local` only for backups it holds: one whose local
        // copy was written elsewhere (a config file's target) is not "missing" from it.
        Some(Ok(_))
            if stores.embedded.as_ref().is_some_and(|root| {
                copy.store_name == "local"
                    && !backup.local_path.is_empty()
                    && !Path::new(&backup.local_path).starts_with(root)
            }) =>
        {
            missing = Some(format!(
                "the local copy is not in the embedded store ({}): give the config file the \
                 backup was made with",
                backup.local_path
            ));
        }
        Some(Ok(store)) => candidates.push((Arc::clone(store), key.clone())),
        Some(Err(why)) => missing = Some(why.clone()),
        None => {
            missing = Some(format!(
                "no store named {} is configured (add [stores.{}] or its local target to the \
                 config file)",
                copy.store_name, copy.store_name
            ));
        }
    }
    if copy.store_kind == StoreKind::Local
        && only_local
        && let Some(root) = backup.local_path.strip_suffix(copy.object_key.as_str())
        && !root.is_empty()
        && let Ok(id) = StoreId::new(copy.store_name.clone())
    {
        candidates.push((local(id, PathBuf::from(root)), key));
    }
    if !candidates.is_empty() {
        missing = None;
    }
    Located {
        candidates,
        label,
        missing,
    }
}

/// Whether `copies` holds exactly one local copy (see [`locate`]).
pub(crate) fn is_only_local(copies: &[BackupCopy]) -> bool {
    copies
        .iter()
        .filter(|c| c.store_kind == StoreKind::Local)
        .count()
        == 1
}

/// What a copy's bytes must match: its recorded size and SHA-256 (`None` when the row has no
/// digest, e.g. a copy whose upload never finished).
pub(crate) fn expected(copy: &BackupCopy) -> Option<Expected> {
    let sha256: Sha256Digest = copy.sha256.parse().ok()?;
    Some(Expected {
        size: Some(copy.size),
        sha256,
    })
}

/// The copies to restore from, best first: verified (most recently verified first), then stored,
/// then the ones whose upload failed (their store may hold them after all). Corrupt and deleted
/// copies are left out.
pub(crate) fn restore_order(copies: &[BackupCopy]) -> Vec<&BackupCopy> {
    let rank = |c: &BackupCopy| match c.status {
        CopyStatus::Verified => Some(0),
        CopyStatus::Stored => Some(1),
        CopyStatus::Pending | CopyStatus::Failed => Some(2),
        CopyStatus::Corrupt | CopyStatus::Deleted => None,
    };
    let mut usable: Vec<(u8, &BackupCopy)> = copies
        .iter()
        .filter_map(|c| rank(c).map(|r| (r, c)))
        .collect();
    usable.sort_by(|(ra, a), (rb, b)| ra.cmp(rb).then(b.verified_at.cmp(&a.verified_at)));
    usable.into_iter().map(|(_, c)| c).collect()
}

/// One copy to restore from: where, what it must match, a label for messages.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// The store.
    pub(crate) store: Arc<dyn Store>,
    /// The artifact of the asked-for bundle.
    pub(crate) key: ObjectKey,
    /// The main archive's key beside it (to tell "no secrets bundle" from "no copy").
    pub(crate) main_key: Option<ObjectKey>,
    /// What it must match (`None`: what its store recorded).
    pub(crate) expected: Option<Expected>,
    /// `STORE:KEY`.
    pub(crate) label: String,
}

/// Which catalog backup to restore.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Which {
    /// This one.
    Id(Uuid),
    /// The newest `VERIFIED` one.
    Latest,
}

/// The backup `which` names and the copies to restore `bundle` from, best first (see
/// [`restore_order`]; each local copy may give two candidates, see [`locate`]).
pub(crate) async fn restore_sources(
    catalog: &Catalog,
    which: Which,
    stores: &NamedStores,
    bundle: Bundle,
) -> anyhow::Result<(Backup, Vec<Source>)> {
    let row = match which {
        Which::Id(id) => catalog
            .backup(id)
            .await?
            .ok_or(CatalogError::BackupNotFound { id })?,
        Which::Latest => catalog
            .latest_verified()
            .await?
            .ok_or_else(|| anyhow::anyhow!("the catalog holds no VERIFIED backup"))?,
    };
    let copies = catalog.copies(row.id).await?;
    let mut sources = Vec::new();
    let mut unusable = Vec::new();
    let only_local = is_only_local(&copies);
    for copy in restore_order(&copies) {
        let located = locate(copy, &row, stores, only_local);
        if let Some(why) = located.missing {
            unusable.push(format!("{}: {why}", located.label));
            continue;
        }
        for (store, main) in located.candidates {
            let (key, expected) = match bundle {
                Bundle::Main => (main.clone(), expected(copy)),
                Bundle::Secrets => match ArtifactName::sibling_key(&main, Bundle::Secrets) {
                    Ok(key) => (key, None),
                    Err(_) => continue,
                },
            };
            sources.push(Source {
                label: format!("{}:{key}", copy.store_name),
                store,
                key,
                main_key: Some(main),
                expected,
            });
        }
    }
    for why in &unusable {
        eprintln!("celeriac: cannot use the copy {why}");
    }
    if sources.is_empty() {
        anyhow::bail!(
            "backup {} ({}) has no copy to restore from{}",
            row.id,
            row.status,
            if copies.is_empty() {
                " (it stored none)"
            } else {
                ""
            }
        );
    }
    Ok((row, sources))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_is_a_catalog_id_and_anything_else_an_artifact() {
        let id = "01a23f2d-9aff-7135-92b1-85b9d532feca";
        assert_eq!(
            id.parse::<Subject>().unwrap(),
            Subject::Backup(Uuid::parse_str(id).unwrap())
        );
        assert!(matches!(
            "backups/x.tar.gz.enc".parse::<Subject>().unwrap(),
            Subject::Artifact(ArtifactAddress::Local { .. })
        ));
        assert!(matches!(
            format!("./{id}").parse::<Subject>().unwrap(),
            Subject::Artifact(ArtifactAddress::Local { .. })
        ));
        assert!(matches!(
            "s3:r2/a/b.tar.gz.enc".parse::<Subject>().unwrap(),
            Subject::Artifact(ArtifactAddress::S3 { .. })
        ));
    }
}
