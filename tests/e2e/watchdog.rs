//! `celeriac check`, the dead man's switch, against a real PostgreSQL catalog: no good backup
//! raises one `BACKUP_MISSING` alert (not one per check), a recent verified backup resolves it,
//! and a gap longer than the allowed age raises it again.

use celeriac_catalog::{
    AlertFilter, AlertType, BackupStatus, BackupUpdate, Catalog, NewBackup, Trigger,
};
use chrono::Utc;
use serde_json::Value;

use crate::run::stderr;
use crate::task::migrated_database;

async fn check(db: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_celeriac"))
        .args(["check", "--json", "--database-url", db])
        .args(extra)
        .output()
        .await
        .unwrap();
    let found = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", stderr(&out)));
    (out.status.code(), found)
}

async fn open_missing(catalog: &Catalog) -> usize {
    catalog
        .alerts(AlertFilter {
            backup_id: None,
            open_only: true,
        })
        .await
        .unwrap()
        .iter()
        .filter(|a| a.alert_type == AlertType::BackupMissing)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switch_fires_once_per_gap_and_rearms_when_backups_are_back() {
    let db = migrated_database().await;
    let catalog = Catalog::open(db.url()).await.unwrap();

    let (code, found) = check(db.url(), &[]).await;
    assert_eq!(code, Some(1), "{found}");
    assert_eq!(found["stale"], true);
    assert_eq!(found["raised"], true);
    let (code, found) = check(db.url(), &[]).await;
    assert_eq!(code, Some(1));
    assert_eq!(found["raised"], false, "one alert per gap: {found}");
    assert_eq!(open_missing(&catalog).await, 1);

    let new = NewBackup::configuration(uuid::Uuid::new_v4(), Trigger::Schedule, Utc::now());
    catalog.insert_or_get_backup(&new).await.unwrap();
    catalog
        .update_backup(new.id, &BackupUpdate::status(BackupStatus::Verified))
        .await
        .unwrap();
    let (code, found) = check(db.url(), &[]).await;
    assert_eq!(code, Some(0), "{found}");
    assert_eq!(found["newest"], new.id.to_string());
    assert_eq!(found["resolved"], 1);
    assert_eq!(open_missing(&catalog).await, 0);

    // Allowed zero hours: the same backup is now too old, a new gap, a new alert.
    let (code, found) = check(db.url(), &["--max-age-hours", "0"]).await;
    assert_eq!(code, Some(1), "{found}");
    assert_eq!(found["raised"], true);
    assert_eq!(open_missing(&catalog).await, 1);
    catalog.close().await;
}
