//! End-to-end tests of what crosses processes: the real Python Celery client sends
//! `apps.backups.tasks.configuration_backup` (and the retention and freshness tasks) through
//! RabbitMQ to `celeriac worker`, which stores the backup in a local directory and the S3 test
//! servers and records it in the catalog on PostgreSQL, where Django's ORM reads it. Faults on
//! purpose: the worker killed mid-upload, stores down, the database cut.
//!
//! This directory is a test target of the `celeriac` package (`cli/Cargo.toml`, `[[test]]
//! e2e`), so the tests run the binary that cargo builds for them (`CARGO_BIN_EXE_celeriac`).
//! The helpers that drive `celeriac backup` (a work dir with keys, config and S3 stores; sample
//! trees; process output) are shared with `cli/tests/backup_cli`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

#[allow(
    dead_code,
    reason = "shared with cli/tests/backup_cli; not every helper is used here"
)]
#[path = "../../cli/tests/backup_cli/run.rs"]
mod run;
#[allow(
    dead_code,
    reason = "shared with cli/tests/backup_cli; not every helper is used here"
)]
#[path = "../../cli/tests/backup_cli/tree.rs"]
mod tree;
#[allow(
    dead_code,
    reason = "shared with cli/tests/backup_cli; not every helper is used here"
)]
#[path = "../../cli/tests/backup_cli/world.rs"]
mod world;

mod retention;
mod task;
mod task_faults;
mod watchdog;
