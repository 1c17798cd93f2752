//! [`Recorder`]: writes one run into the catalog. A run's row is created (or found again, on a
//! redelivered task) as soon as the run is asked for, `PENDING` while it waits for the
//! single-flight lock, `IN_PROGRESS` (with `started_at`) once it runs, so a waiting or running
//! backup is visible; its copy rows, alerts and final status are written when it ends.

use celeriac_catalog::{
    Backup, BackupStatus, BackupUpdate, Catalog, CatalogError, NewBackup, Trigger,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::outcome::Outcome;

/// Who starts a run and on whose behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStart {
    /// The backup id (from the task id for a task).
    pub id: Uuid,
    /// Schedule, manual (a user asked) or the command line.
    pub trigger: Trigger,
    /// The Celery task id, for a task.
    pub celery_task_id: Option<String>,
    /// The platform user who asked, for a manual run.
    pub initiated_by_id: Option<i64>,
    /// Now.
    pub at: DateTime<Utc>,
}

/// The row a run works on, and whether an earlier delivery already finished it.
#[derive(Debug, Clone, PartialEq)]
pub enum Begun {
    /// A new run: the row was just created `PENDING`.
    New(Backup),
    /// An unfinished earlier attempt taken over (a redelivered or retried task): the row is
    /// `PENDING` again, and whatever that attempt stored must be cleared first.
    Resumed(Backup),
    /// An earlier delivery of the same task already finished this backup.
    Finished(Backup),
}

/// Records runs in a catalog.
#[derive(Debug, Clone)]
pub struct Recorder {
    catalog: Catalog,
}

impl Recorder {
    /// A recorder writing to `catalog`.
    pub fn new(catalog: Catalog) -> Self {
        Self { catalog }
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Creates the run's row `PENDING`, or takes over the row of an unfinished earlier attempt
    /// with the same id (its creation time, and so its file name, stay the first attempt's).
    ///
    /// # Errors
    /// [`CatalogError`]; [`CatalogError::is_transient`] says whether to try again.
    pub async fn begin(&self, start: &RunStart) -> Result<Begun, CatalogError> {
        let mut new = NewBackup::configuration(start.id, start.trigger, start.at);
        new.status = BackupStatus::Pending;
        new.celery_task_id.clone_from(&start.celery_task_id);
        new.initiated_by_id = start.initiated_by_id;
        let (row, created) = self.catalog.insert_or_get_backup(&new).await?;
        if created {
            return Ok(Begun::New(row));
        }
        if row.status.is_final() {
            return Ok(Begun::Finished(row));
        }
        let again = BackupUpdate {
            status: Some(BackupStatus::Pending),
            started_at: Some(None),
            completed_at: Some(None),
            error_message: Some(String::new()),
            ..BackupUpdate::default()
        };
        Ok(Begun::Resumed(
            self.catalog.update_backup(row.id, &again).await?,
        ))
    }

    /// Marks the run `IN_PROGRESS` from `at` (it holds the lock now). Returns `None` without
    /// writing when the row is already final: another delivery of the same task finished it
    /// while this one waited.
    ///
    /// # Errors
    /// [`CatalogError`].
    pub async fn start(&self, id: Uuid, at: DateTime<Utc>) -> Result<Option<Backup>, CatalogError> {
        let row = self
            .catalog
            .backup(id)
            .await?
            .ok_or(CatalogError::BackupNotFound { id })?;
        if row.status.is_final() {
            return Ok(None);
        }
        let running = BackupUpdate {
            status: Some(BackupStatus::InProgress),
            started_at: Some(Some(at)),
            ..BackupUpdate::default()
        };
        self.catalog.update_backup(id, &running).await.map(Some)
    }

    /// Writes a finished run: one row per store copy, the alerts, then the backup row's final
    /// state (last, so a row in a final status always has its copies and alerts).
    ///
    /// # Errors
    /// [`CatalogError`].
    pub async fn finish(&self, id: Uuid, outcome: &Outcome) -> Result<Backup, CatalogError> {
        for copy in &outcome.copies {
            self.catalog.record_copy(copy).await?;
        }
        for alert in &outcome.alerts {
            self.catalog.raise_alert(alert).await?;
        }
        self.catalog.update_backup(id, &outcome.update).await
    }
}
