//! The configuration backup as a job: the Celery task `apps.backups.tasks.configuration_backup`
//! ([`ConfigurationBackup`]) and the catalog record of every run, whoever starts it
//! ([`Recorder`], [`outcome`]).
//!
//! ```text
//!   Python client ── delay(initiated_by_user_id=1) ──► RabbitMQ ──► celeriac worker
//!        ▲                                                             │ ConfigurationBackup
//!        │ result.get() == backup id                                   ├─ admin check (catalog)
//!        └──────────────── rpc reply ◄───────────────────────────────  ├─ Recorder::begin (IN_PROGRESS)
//!                                                                      ├─ single-flight lock
//!   Django ORM ◄── backups_backup / _backupcopy / _backupalert ◄───────├─ Pipeline::run (backup crate)
//!                                                                      └─ outcome → Recorder::finish
//! ```
//!
//! `celeriac backup` records its runs through the same [`Recorder`] and [`outcome`] (trigger
//! `CLI`), so the command and the task agree on statuses and alerts.

mod backup_id;
mod folder;
pub mod outcome;
mod prune_task;
mod record;
pub mod retention;
mod task;

pub use backup_id::backup_id_for_task;
pub use outcome::{LocalRoots, Outcome};
pub use prune_task::{PRUNE_TASK_NAME, PruneBackups};
pub use record::{Begun, Recorder, RunStart};
pub use retention::{PruneItem, PruneReport, RetentionPolicy, prune};
pub use task::{ConfigurationBackup, JobSettings, TASK_NAME};
