//! Running the binary with a clean environment and a home of its own, and writing catalog rows.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use celeriac_catalog::{BackupMetadata, BackupStatus, BackupUpdate, Catalog, NewBackup, Trigger};
use chrono::{DateTime, TimeZone, Utc};
use tokio::process::Command;
use uuid::Uuid;

/// What a run of the binary gave.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// The binary with none of the caller's celeriac variables, its home in `home`.
pub(crate) fn celeriac(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_celeriac"));
    cmd.stdin(Stdio::null())
        .env("CELERIAC_HOME", home)
        .env_remove("CELERIAC_DATABASE_URL")
        .env_remove("CELERIAC_CONFIG")
        .env_remove("CELERIAC_BACKUP_CONFIG")
        .env_remove("CELERIAC_KEY")
        .env_remove("CELERIAC_SECRETS_KEY")
        .env_remove("XDG_DATA_HOME")
        .kill_on_drop(true);
    cmd
}

/// Runs `cmd` to its end.
pub(crate) async fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().await.unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The embedded catalog's URL for `home`.
pub(crate) fn embedded_url(home: &Path) -> String {
    format!("sqlite://{}", home.join("catalog.db").display())
}

/// A fresh temporary directory, and a `home` path inside it that does not exist yet.
pub(crate) fn fresh_home() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    (tmp, home)
}

/// `2026-12-0D 02:00:00` UTC.
pub(crate) fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, d, 2, 0, 0).unwrap()
}

/// Writes a finished backup created at `at` in `status` with `files` collected files.
pub(crate) async fn finished_row(
    catalog: &Catalog,
    at: DateTime<Utc>,
    status: BackupStatus,
    files: u64,
) -> Uuid {
    let id = Uuid::new_v4();
    let new = NewBackup::configuration(id, Trigger::Schedule, at);
    catalog.insert_or_get_backup(&new).await.unwrap();
    let metadata = BackupMetadata {
        files_collected: files,
        file_categories: [("nginx".to_owned(), files)].into(),
        other: celeriac_catalog::JsonObject::new(),
    };
    let update = BackupUpdate {
        status: Some(status),
        file_size: Some(4096),
        metadata: Some(metadata.to_object()),
        completed_at: Some(Some(at)),
        ..BackupUpdate::default()
    };
    catalog.update_backup(id, &update).await.unwrap();
    id
}
