//! `backups_backupcopy`: one row per backup and store, upserted as the copy moves through
//! [`CopyStatus`] (a retried upload updates its row, never adds one).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalog::{Catalog, dispatch};
use crate::codec::Fields;
use crate::enums::{CopyStatus, StoreKind};
use crate::error::CatalogError;

const TABLE: &str = "backups_backupcopy";

macro_rules! copy_columns {
    () => {
        "id, backup_id, store_name, store_kind, object_key, size, sha256, status, attempts, \
         error, created_at, updated_at, verified_at, deleted_at"
    };
}

/// The state of one copy to record (the whole state: an upsert replaces it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCopy {
    /// The backup it is a copy of (must exist).
    pub backup_id: Uuid,
    /// The store's configured name (`local`, `r2`, `b2`, ...); one row per backup and name.
    pub store_name: String,
    /// The store's kind.
    pub store_kind: StoreKind,
    /// The object's key (or path) in the store.
    pub object_key: String,
    /// Bytes stored.
    pub size: u64,
    /// SHA-256 (hex) of the stored bytes ("" until known).
    pub sha256: String,
    /// Where the copy stands.
    pub status: CopyStatus,
    /// Upload attempts so far.
    pub attempts: u32,
    /// The last error ("" when none).
    pub error: String,
    /// When this state was reached.
    pub at: DateTime<Utc>,
    /// When the copy was last verified.
    pub verified_at: Option<DateTime<Utc>>,
    /// When the copy was removed from the store.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A copy row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupCopy {
    /// Row id.
    pub id: i64,
    /// The backup it is a copy of.
    pub backup_id: Uuid,
    /// The store's configured name.
    pub store_name: String,
    /// The store's kind.
    pub store_kind: StoreKind,
    /// The object's key (or path) in the store.
    pub object_key: String,
    /// Bytes stored.
    pub size: u64,
    /// SHA-256 (hex) of the stored bytes.
    pub sha256: String,
    /// Where the copy stands.
    pub status: CopyStatus,
    /// Upload attempts.
    pub attempts: u32,
    /// The last error ("" when none).
    pub error: String,
    /// When the row was first recorded.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When the copy was last verified.
    pub verified_at: Option<DateTime<Utc>>,
    /// When the copy was removed from the store.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl BackupCopy {
    pub(crate) fn from_fields<R: Fields>(row: &R) -> Result<BackupCopy, CatalogError> {
        let attempts = row.unsigned(TABLE, "attempts")?;
        Ok(BackupCopy {
            id: row.int(TABLE, "id")?,
            backup_id: row.uuid(TABLE, "backup_id")?,
            store_name: row.text(TABLE, "store_name")?,
            store_kind: row.enumeration(TABLE, "store_kind")?,
            object_key: row.text(TABLE, "object_key")?,
            size: row.unsigned(TABLE, "size")?,
            sha256: row.text(TABLE, "sha256")?,
            status: row.enumeration(TABLE, "status")?,
            attempts: u32::try_from(attempts).map_err(|_| {
                CatalogError::invalid(TABLE, "attempts", &attempts.to_string(), "u32")
            })?,
            error: row.text(TABLE, "error")?,
            created_at: row.time(TABLE, "created_at")?,
            updated_at: row.time(TABLE, "updated_at")?,
            verified_at: row.opt_time(TABLE, "verified_at")?,
            deleted_at: row.opt_time(TABLE, "deleted_at")?,
        })
    }
}

impl Catalog {
    /// Records `copy`: creates the row for its backup and store, or replaces the stored state
    /// of the existing one (keeping its `created_at`). A missing backup is a
    /// [`CatalogError::Constraint`] on the foreign key.
    pub async fn record_copy(&self, copy: &NewCopy) -> Result<BackupCopy, CatalogError> {
        let size = i64::try_from(copy.size)
            .map_err(|_| CatalogError::invalid(TABLE, "size", &copy.size.to_string(), "size"))?;
        dispatch!(self, |pool, C| {
            let row = sqlx::query(concat!(
                "INSERT INTO backups_backupcopy (backup_id, store_name, store_kind, object_key, \
                 size, sha256, status, attempts, error, created_at, updated_at, verified_at, \
                 deleted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12) \
                 ON CONFLICT (backup_id, store_name) DO UPDATE SET \
                 store_kind = excluded.store_kind, object_key = excluded.object_key, \
                 size = excluded.size, sha256 = excluded.sha256, status = excluded.status, \
                 attempts = excluded.attempts, error = excluded.error, \
                 updated_at = excluded.updated_at, verified_at = excluded.verified_at, \
                 deleted_at = excluded.deleted_at RETURNING ",
                copy_columns!()
            ))
            .bind(C::id(copy.backup_id))
            .bind(&copy.store_name)
            .bind(copy.store_kind.as_str())
            .bind(&copy.object_key)
            .bind(size)
            .bind(&copy.sha256)
            .bind(copy.status.as_str())
            .bind(i64::from(copy.attempts))
            .bind(&copy.error)
            .bind(C::time(copy.at))
            .bind(C::opt_time(copy.verified_at))
            .bind(C::opt_time(copy.deleted_at))
            .fetch_one(pool)
            .await
            .map_err(|e| CatalogError::query("record copy", e))?;
            BackupCopy::from_fields(&row)
        })
    }

    /// The copies of backup `backup_id`, by store name.
    pub async fn copies(&self, backup_id: Uuid) -> Result<Vec<BackupCopy>, CatalogError> {
        dispatch!(self, |pool, C| {
            sqlx::query(concat!(
                "SELECT ",
                copy_columns!(),
                " FROM backups_backupcopy WHERE backup_id = $1 ORDER BY store_name"
            ))
            .bind(C::id(backup_id))
            .fetch_all(pool)
            .await
            .map_err(|e| CatalogError::query("list copies", e))?
            .iter()
            .map(BackupCopy::from_fields)
            .collect()
        })
    }
}
