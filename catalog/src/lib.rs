//! The backup catalog: where every backup run, each of its stored copies and every alert is
//! recorded, in the tables the Django platform's `backups` app reads (`backups_backup`,
//! `backups_backupcopy`, `backups_backupalert`). PostgreSQL in production, SQLite for the
//! embedded default; the same typed API and the same behaviour on both (one conformance suite,
//! `tests/backends.rs`, runs against each).
//!
//! ```text
//!   worker task / celeriac backup ──► Catalog ──► PostgreSQL ◄── Django ORM (managed = False)
//!   celeriac list / show / verify ──►    │    └─► SQLite (CELERIAC_HOME, embedded default)
//!   celeriac migrate ──► Catalog::migrate  (migrations/postgres/, migrations/sqlite/)
//! ```
//!
//! This crate knows SQL only: no crypto, object store or AMQP. The worker maps a backup report
//! to [`BackupUpdate`] / [`NewCopy`] / [`NewAlert`]; statuses, kinds and severities are enums
//! stored as text and constrained by CHECKs in the migrations. Schema and Django mapping:
//! `docs/catalog.md`.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), celeriac_catalog::CatalogError> {
//! use celeriac_catalog::{BackupStatus, BackupUpdate, Catalog, NewBackup, Trigger};
//! use chrono::Utc;
//!
//! let catalog = Catalog::open("sqlite:///var/lib/celeriac/catalog.db").await?;
//! catalog.migrate().await?;
//! let new = NewBackup::configuration(uuid::Uuid::new_v4(), Trigger::Cli, Utc::now());
//! let (row, created) = catalog.insert_or_get_backup(&new).await?;
//! assert!(created && row.status == BackupStatus::Pending);
//! catalog.update_backup(row.id, &BackupUpdate::status(BackupStatus::InProgress)).await?;
//! # Ok(()) }
//! ```

mod admin;
mod alerts;
mod backups;
mod beat;
mod catalog;
mod codec;
#[macro_use]
mod copies;
mod enums;
mod error;
mod lock;
mod metadata;
mod migrate;
mod naming;
mod retention;
mod url;

#[cfg(feature = "test-util")]
pub mod conformance;

pub use admin::{AdminQuery, AdminVerdict, DEFAULT_ADMIN_QUERY};
pub use alerts::{Alert, AlertFilter, NewAlert};
pub use backups::{Backup, BackupUpdate, NewBackup};
pub use beat::{BeatEntry, Recorded, SlotRecord};
pub use catalog::Catalog;
pub use codec::JsonObject;
pub use copies::{BackupCopy, NewCopy};
pub use enums::{
    AlertType, BackupStatus, BackupType, CopyStatus, Severity, StoreKind, Trigger, UnknownValue,
};
pub use error::CatalogError;
pub use lock::{BACKUP_LOCK_KEY, LockKind, RunLock};
pub use metadata::BackupMetadata;
pub use migrate::{MigrationInfo, MigrationReport, POSTGRES_MIGRATOR, SQLITE_MIGRATOR};
pub use naming::backup_filename;
pub use url::{CatalogUrl, redact};
