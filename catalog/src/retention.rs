//! What retention needs from the catalog: the copies in one store that are old enough to go, and
//! the two steps that bracket deleting one (marked first, then recorded gone), so a delete that
//! failed half-way is found again and retried by the next run.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalog::{Catalog, dispatch};
use crate::copies::BackupCopy;
use crate::enums::CopyStatus;
use crate::error::CatalogError;

impl Catalog {
    /// The copies in `store_name` of backups created before `before`, except those of backup
    /// `keep`, that are not recorded as deleted (a copy marked but not yet recorded is included:
    /// its delete is retried), oldest first.
    ///
    /// # Errors
    /// [`CatalogError`].
    pub async fn prunable_copies(
        &self,
        store_name: &str,
        before: DateTime<Utc>,
        keep: Uuid,
    ) -> Result<Vec<BackupCopy>, CatalogError> {
        dispatch!(self, |pool, C| {
            sqlx::query(concat!(
                "SELECT ",
                copy_columns!(),
                " FROM backups_backupcopy WHERE store_name = $1 AND deleted_at IS NULL \
                 AND backup_id IN (SELECT id FROM backups_backup WHERE created_at < $2 \
                 AND id <> $3) ORDER BY created_at, id"
            ))
            .bind(store_name)
            .bind(C::time(before))
            .bind(C::id(keep))
            .fetch_all(pool)
            .await
            .map_err(|e| CatalogError::query("list prunable copies", e))?
            .iter()
            .map(BackupCopy::from_fields)
            .collect()
        })
    }

    /// Marks copy `id` as being deleted (status `DELETED`, `deleted_at` still empty), before
    /// its objects are removed.
    ///
    /// # Errors
    /// [`CatalogError`].
    pub async fn mark_copy_deleting(&self, id: i64, at: DateTime<Utc>) -> Result<(), CatalogError> {
        self.set_copy_deleted(id, at, None, "mark copy deleting")
            .await
    }

    /// Records that copy `id`'s objects are gone (`deleted_at`).
    ///
    /// # Errors
    /// [`CatalogError`].
    pub async fn record_copy_deleted(
        &self,
        id: i64,
        at: DateTime<Utc>,
    ) -> Result<(), CatalogError> {
        self.set_copy_deleted(id, at, Some(at), "record copy deleted")
            .await
    }

    async fn set_copy_deleted(
        &self,
        id: i64,
        at: DateTime<Utc>,
        deleted_at: Option<DateTime<Utc>>,
        operation: &'static str,
    ) -> Result<(), CatalogError> {
        dispatch!(self, |pool, C| {
            sqlx::query(
                "UPDATE backups_backupcopy SET status = $1, updated_at = $2, deleted_at = $3 \
                 WHERE id = $4",
            )
            .bind(CopyStatus::Deleted.as_str())
            .bind(C::time(at))
            .bind(C::opt_time(deleted_at))
            .bind(id)
            .execute(pool)
            .await
            .map_err(|e| CatalogError::query(operation, e))?;
        });
        Ok(())
    }
}
