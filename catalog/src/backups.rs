//! `backups_backup`: one row per backup run. Created at the start of a run (insert-or-get by
//! the run's UUID, so a redelivered task finds its row), updated as it goes, read by the
//! platform and by `celeriac list/show`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalog::{Catalog, dispatch};
use crate::codec::{Fields, JsonObject};
use crate::enums::{BackupStatus, BackupType, Trigger};
use crate::error::CatalogError;
use crate::naming::backup_filename;

const TABLE: &str = "backups_backup";

macro_rules! backup_columns {
    () => {
        "id, backup_type, tenant_id, filename, status, file_size, checksum, key_id, local_path, \
         r2_path, b2_path, metadata, celery_task_id, \"trigger\", initiated_by_id, error_message, \
         created_at, started_at, completed_at, verified_at"
    };
}

/// A backup row to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBackup {
    /// The run's id (derived from the Celery task id by the worker).
    pub id: Uuid,
    /// What is backed up.
    pub backup_type: BackupType,
    /// The platform's tenant, when a backup belongs to one (configuration backups: none).
    pub tenant_id: Option<i64>,
    /// The artifact's file name; [`NewBackup::configuration`] sets the original convention.
    pub filename: String,
    /// The status to start in (usually `PENDING` or `IN_PROGRESS`).
    pub status: BackupStatus,
    /// Who started it.
    pub trigger: Trigger,
    /// The Celery task id (unique across rows), when run as a task.
    pub celery_task_id: Option<String>,
    /// The platform user who asked for it (manual runs).
    pub initiated_by_id: Option<i64>,
    /// Facts known at the start (usually empty).
    pub metadata: JsonObject,
    /// When the row is created (the file name's time).
    pub created_at: DateTime<Utc>,
    /// When the run started, if it already has.
    pub started_at: Option<DateTime<Utc>>,
}

impl NewBackup {
    /// A configuration backup created at `at`, `PENDING`, named
    /// `backup_configuration_YYYYMMDD_HHMMSS.tar.gz.enc` after `at`.
    pub fn configuration(id: Uuid, trigger: Trigger, at: DateTime<Utc>) -> NewBackup {
        NewBackup {
            id,
            backup_type: BackupType::Configuration,
            tenant_id: None,
            filename: backup_filename(at),
            status: BackupStatus::Pending,
            trigger,
            celery_task_id: None,
            initiated_by_id: None,
            metadata: JsonObject::new(),
            created_at: at,
            started_at: None,
        }
    }
}

/// A backup row as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Backup {
    /// The run's id.
    pub id: Uuid,
    /// What was backed up.
    pub backup_type: BackupType,
    /// The platform's tenant, if any.
    pub tenant_id: Option<i64>,
    /// The artifact's file name.
    pub filename: String,
    /// Where the run stands.
    pub status: BackupStatus,
    /// Size of the stored artifact in bytes (0 until known).
    pub file_size: u64,
    /// SHA-256 (hex) of the stored artifact ("" until known).
    pub checksum: String,
    /// Id of the key the artifact is encrypted with ("" until known).
    pub key_id: String,
    /// The local copy's path ("" when none).
    pub local_path: String,
    /// The R2 copy's object key ("" when none).
    pub r2_path: String,
    /// The B2 copy's object key ("" when none).
    pub b2_path: String,
    /// The run's report facts (`files_collected`, `file_categories`, ...).
    pub metadata: JsonObject,
    /// The Celery task id, when run as a task.
    pub celery_task_id: Option<String>,
    /// Who started it.
    pub trigger: Trigger,
    /// The platform user who asked for it.
    pub initiated_by_id: Option<i64>,
    /// Why it failed ("" when it did not).
    pub error_message: String,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the run started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the run ended.
    pub completed_at: Option<DateTime<Utc>>,
    /// When every copy was last verified.
    pub verified_at: Option<DateTime<Utc>>,
}

impl Backup {
    /// `file_size` in MB of 1024 × 1024 bytes, rounded to two decimals, as the platform's
    /// `get_size_mb()` shows it (contrib/django/backups/models.py; Python rounds exact ties
    /// to even, this rounds them away from zero).
    #[allow(
        clippy::cast_precision_loss,
        reason = "sizes far below 2^52 bytes; a display value"
    )]
    pub fn size_mb(&self) -> f64 {
        (self.file_size as f64 / (1024.0 * 1024.0) * 100.0).round() / 100.0
    }

    pub(crate) fn from_fields<R: Fields>(row: &R) -> Result<Backup, CatalogError> {
        Ok(Backup {
            id: row.uuid(TABLE, "id")?,
            backup_type: row.enumeration(TABLE, "backup_type")?,
            tenant_id: row.opt_int(TABLE, "tenant_id")?,
            filename: row.text(TABLE, "filename")?,
            status: row.enumeration(TABLE, "status")?,
            file_size: row.unsigned(TABLE, "file_size")?,
            checksum: row.text(TABLE, "checksum")?,
            key_id: row.text(TABLE, "key_id")?,
            local_path: row.text(TABLE, "local_path")?,
            r2_path: row.text(TABLE, "r2_path")?,
            b2_path: row.text(TABLE, "b2_path")?,
            metadata: row.json(TABLE, "metadata")?,
            celery_task_id: row.opt_text(TABLE, "celery_task_id")?,
            trigger: row.enumeration(TABLE, "trigger")?,
            initiated_by_id: row.opt_int(TABLE, "initiated_by_id")?,
            error_message: row.text(TABLE, "error_message")?,
            created_at: row.time(TABLE, "created_at")?,
            started_at: row.opt_time(TABLE, "started_at")?,
            completed_at: row.opt_time(TABLE, "completed_at")?,
            verified_at: row.opt_time(TABLE, "verified_at")?,
        })
    }
}

/// Changes to a backup row: every `Some` field is written, every `None` left as it is (for
/// the nullable times, `Some(None)` writes NULL).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackupUpdate {
    /// New status.
    pub status: Option<BackupStatus>,
    /// Stored artifact size in bytes.
    pub file_size: Option<u64>,
    /// Stored artifact SHA-256 (hex).
    pub checksum: Option<String>,
    /// Encryption key id.
    pub key_id: Option<String>,
    /// Local copy path.
    pub local_path: Option<String>,
    /// R2 object key.
    pub r2_path: Option<String>,
    /// B2 object key.
    pub b2_path: Option<String>,
    /// The whole metadata object (replaces the stored one).
    pub metadata: Option<JsonObject>,
    /// Why it failed.
    pub error_message: Option<String>,
    /// When the run started (`Some(None)` clears it, e.g. when a retried task redoes its row).
    pub started_at: Option<Option<DateTime<Utc>>>,
    /// When the run ended (`Some(None)` clears it).
    pub completed_at: Option<Option<DateTime<Utc>>>,
    /// When every copy was verified (`Some(None)` clears it, e.g. after a failed re-verify).
    pub verified_at: Option<Option<DateTime<Utc>>>,
}

impl BackupUpdate {
    /// An update that only sets the status.
    pub fn status(status: BackupStatus) -> BackupUpdate {
        BackupUpdate {
            status: Some(status),
            ..BackupUpdate::default()
        }
    }
}

fn size_to_db(size: Option<u64>) -> Result<Option<i64>, CatalogError> {
    size.map(|s| {
        i64::try_from(s)
            .map_err(|_| CatalogError::invalid(TABLE, "file_size", &s.to_string(), "size"))
    })
    .transpose()
}

impl Catalog {
    /// Creates the row unless one with `new.id` exists, and returns the stored row and whether
    /// this call created it. Calling it again with the same id (a redelivered task) returns the
    /// existing row unchanged. A `celery_task_id` already used by another id is
    /// [`CatalogError::TaskIdTaken`].
    pub async fn insert_or_get_backup(
        &self,
        new: &NewBackup,
    ) -> Result<(Backup, bool), CatalogError> {
        const OP: &str = "insert backup";
        let inserted = dispatch!(self, |pool, C| {
            sqlx::query(concat!(
                "INSERT INTO backups_backup (id, backup_type, tenant_id, filename, status, \
                 metadata, celery_task_id, \"trigger\", initiated_by_id, created_at, started_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (id) DO NOTHING RETURNING ",
                backup_columns!()
            ))
            .bind(C::id(new.id))
            .bind(new.backup_type.as_str())
            .bind(new.tenant_id)
            .bind(&new.filename)
            .bind(new.status.as_str())
            .bind(C::json(&new.metadata))
            .bind(new.celery_task_id.as_deref())
            .bind(new.trigger.as_str())
            .bind(new.initiated_by_id)
            .bind(C::time(new.created_at))
            .bind(C::opt_time(new.started_at))
            .fetch_optional(pool)
            .await
            .map_err(|e| match CatalogError::query(OP, e) {
                CatalogError::Constraint { constraint, .. }
                    if constraint.contains("celery_task_id") =>
                {
                    CatalogError::TaskIdTaken {
                        task_id: new.celery_task_id.clone().unwrap_or_default(),
                    }
                }
                other => other,
            })?
            .map(|row| Backup::from_fields(&row))
            .transpose()?
        });
        if let Some(row) = inserted {
            return Ok((row, true));
        }
        let existing = self
            .backup(new.id)
            .await?
            .ok_or(CatalogError::BackupNotFound { id: new.id })?;
        Ok((existing, false))
    }

    /// Applies `update` to backup `id` and returns the row as stored afterwards.
    pub async fn update_backup(
        &self,
        id: Uuid,
        update: &BackupUpdate,
    ) -> Result<Backup, CatalogError> {
        const OP: &str = "update backup";
        let file_size = size_to_db(update.file_size)?;
        let row = dispatch!(self, |pool, C| {
            sqlx::query(concat!(
                "UPDATE backups_backup SET \
                 status = COALESCE($2, status), \
                 file_size = COALESCE($3, file_size), \
                 checksum = COALESCE($4, checksum), \
                 key_id = COALESCE($5, key_id), \
                 local_path = COALESCE($6, local_path), \
                 r2_path = COALESCE($7, r2_path), \
                 b2_path = COALESCE($8, b2_path), \
                 metadata = COALESCE($9, metadata), \
                 error_message = COALESCE($10, error_message), \
                 started_at = CASE WHEN $11 THEN $12 ELSE started_at END, \
                 completed_at = CASE WHEN $13 THEN $14 ELSE completed_at END, \
                 verified_at = CASE WHEN $15 THEN $16 ELSE verified_at END \
                 WHERE id = $1 RETURNING ",
                backup_columns!()
            ))
            .bind(C::id(id))
            .bind(update.status.map(BackupStatus::as_str))
            .bind(file_size)
            .bind(update.checksum.as_deref())
            .bind(update.key_id.as_deref())
            .bind(update.local_path.as_deref())
            .bind(update.r2_path.as_deref())
            .bind(update.b2_path.as_deref())
            .bind(C::opt_json(update.metadata.as_ref()))
            .bind(update.error_message.as_deref())
            .bind(update.started_at.is_some())
            .bind(C::opt_time(update.started_at.flatten()))
            .bind(update.completed_at.is_some())
            .bind(C::opt_time(update.completed_at.flatten()))
            .bind(update.verified_at.is_some())
            .bind(C::opt_time(update.verified_at.flatten()))
            .fetch_optional(pool)
            .await
            .map_err(|e| CatalogError::query(OP, e))?
            .map(|row| Backup::from_fields(&row))
            .transpose()?
        });
        row.ok_or(CatalogError::BackupNotFound { id })
    }

    /// The backup with this id, if any.
    pub async fn backup(&self, id: Uuid) -> Result<Option<Backup>, CatalogError> {
        dispatch!(self, |pool, C| {
            sqlx::query(concat!(
                "SELECT ",
                backup_columns!(),
                " FROM backups_backup WHERE id = $1"
            ))
            .bind(C::id(id))
            .fetch_optional(pool)
            .await
            .map_err(|e| CatalogError::query("get backup", e))?
            .map(|row| Backup::from_fields(&row))
            .transpose()
        })
    }

    /// The backup recorded for this Celery task id, if any.
    pub async fn backup_by_task_id(&self, task_id: &str) -> Result<Option<Backup>, CatalogError> {
        dispatch!(self, |pool, C| {
            sqlx::query(concat!(
                "SELECT ",
                backup_columns!(),
                " FROM backups_backup WHERE celery_task_id = $1"
            ))
            .bind(task_id)
            .fetch_optional(pool)
            .await
            .map_err(|e| CatalogError::query("get backup by task id", e))?
            .map(|row| Backup::from_fields(&row))
            .transpose()
        })
    }

    /// Backups newest first (by `created_at`, then id), only those in `status` when given, at
    /// most `limit` of them.
    pub async fn list_backups(
        &self,
        status: Option<BackupStatus>,
        limit: u32,
    ) -> Result<Vec<Backup>, CatalogError> {
        dispatch!(self, |pool, C| {
            sqlx::query(concat!(
                "SELECT ",
                backup_columns!(),
                " FROM backups_backup WHERE ($1 IS NULL OR status = $1) \
                 ORDER BY created_at DESC, id DESC LIMIT $2"
            ))
            .bind(status.map(BackupStatus::as_str))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(|e| CatalogError::query("list backups", e))?
            .iter()
            .map(Backup::from_fields)
            .collect()
        })
    }

    /// The newest `VERIFIED` backup, if any (what `restore --latest` picks).
    pub async fn latest_verified(&self) -> Result<Option<Backup>, CatalogError> {
        Ok(self
            .list_backups(Some(BackupStatus::Verified), 1)
            .await?
            .into_iter()
            .next())
    }
}
