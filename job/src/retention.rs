//! Retention: which stored copies are old enough to delete, and deleting them safely.
//!
//! Ages are per store (default: 365 days for S3 stores, 30 for local ones; a store may have its
//! own) and counted back from the **newest verified backup**, not from now: if backups stop, old
//! copies stop expiring too. The newest verified backup itself is never touched, so a verified
//! copy always remains. Each deletion is bracketed in the catalog: the copy row is marked
//! (`DELETED`, no `deleted_at`) before its objects go, and recorded (`deleted_at`) after; a
//! delete that failed in between is found again and retried by the next run.

use std::collections::BTreeMap;
use std::sync::Arc;

use celeriac_catalog::{Catalog, CatalogError};
use celeriac_store::{ObjectKey, Store, StoreKind};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::folder::delete_backup_objects;
use celeriac_error_chain::error_chain;

/// How long copies are kept, per store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Days for local stores.
    pub local_days: u32,
    /// Days for S3 stores.
    pub s3_days: u32,
    /// Days for a store by name, over its kind's default.
    pub stores: BTreeMap<String, u32>,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            local_days: 30,
            s3_days: 365,
            stores: BTreeMap::new(),
        }
    }
}

impl RetentionPolicy {
    /// The days `store` keeps copies.
    pub fn days_for(&self, store: &dyn Store) -> u32 {
        if let Some(days) = self.stores.get(store.id().as_str()) {
            return *days;
        }
        match store.kind() {
            StoreKind::S3 => self.s3_days,
            _ => self.local_days,
        }
    }
}

/// One copy retention deletes (or would).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneItem {
    /// The store.
    pub store: String,
    /// The backup.
    pub backup_id: Uuid,
    /// Its main artifact's key in that store.
    pub object_key: String,
    /// When the copy was recorded.
    pub created_at: DateTime<Utc>,
    /// An earlier run marked it but did not finish deleting it.
    pub retry: bool,
    /// Why it was not deleted (`None` when it was, or in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a retention run did (or, with `dry_run`, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Nothing was deleted: the plan only.
    pub dry_run: bool,
    /// The newest verified backup ages are counted from (`None`: nothing is pruned).
    pub newest_verified: Option<Uuid>,
    /// Per store: copies older than this go.
    pub cutoffs: BTreeMap<String, DateTime<Utc>>,
    /// The copies deleted (or to delete), oldest first per store.
    pub items: Vec<PruneItem>,
}

impl PruneReport {
    /// Copies whose deletion failed (retried by the next run).
    pub fn failed(&self) -> impl Iterator<Item = &PruneItem> {
        self.items.iter().filter(|i| i.error.is_some())
    }
}

/// Applies `policy` to the copies `catalog` lists in `stores` (stores it does not know are left
/// alone). With `dry_run` nothing is marked or deleted.
///
/// # Errors
/// [`CatalogError`] reading or marking the catalog; a store's failure to delete is recorded per
/// item instead.
pub async fn prune(
    catalog: &Catalog,
    stores: &[Arc<dyn Store>],
    policy: &RetentionPolicy,
    dry_run: bool,
) -> Result<PruneReport, CatalogError> {
    let mut report = PruneReport {
        dry_run,
        newest_verified: None,
        cutoffs: BTreeMap::new(),
        items: Vec::new(),
    };
    let Some(newest) = catalog.latest_verified().await? else {
        tracing::info!("retention: no verified backup yet, nothing is pruned");
        return Ok(report);
    };
    report.newest_verified = Some(newest.id);
    for store in stores {
        let days = policy.days_for(store.as_ref());
        let cutoff = newest.created_at - chrono::Duration::days(i64::from(days));
        report.cutoffs.insert(store.id().to_string(), cutoff);
        for copy in catalog
            .prunable_copies(store.id().as_str(), cutoff, newest.id)
            .await?
        {
            let mut item = PruneItem {
                store: copy.store_name.clone(),
                backup_id: copy.backup_id,
                object_key: copy.object_key.clone(),
                created_at: copy.created_at,
                retry: copy.status == celeriac_catalog::CopyStatus::Deleted,
                error: None,
            };
            if !dry_run {
                catalog.mark_copy_deleting(copy.id, Utc::now()).await?;
                match delete(store.as_ref(), &copy.object_key, copy.backup_id).await {
                    Ok(objects) => {
                        catalog.record_copy_deleted(copy.id, Utc::now()).await?;
                        tracing::info!(store = %item.store, backup = %item.backup_id, objects, "retention: copy deleted");
                    }
                    Err(err) => {
                        tracing::warn!(store = %item.store, backup = %item.backup_id, error = %err, "retention: delete failed, retried next run");
                        item.error = Some(err);
                    }
                }
            }
            report.items.push(item);
        }
    }
    Ok(report)
}

async fn delete(store: &dyn Store, key: &str, backup: Uuid) -> Result<usize, String> {
    let key = ObjectKey::new(key).map_err(|e| format!("the recorded key is invalid: {e}"))?;
    delete_backup_objects(store, &key, backup)
        .await
        .map_err(|e| error_chain(&e))
}
