//! The catalog conformance suite against both backends (PostgreSQL: a fresh database per test
//! on `DATABASE_URL`; SQLite: a temp file per test), plus what each backend's database itself
//! must enforce: CHECK constraints refuse bogus values, and a bad stored value is a typed error.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use celeriac_catalog::{BackupStatus, Catalog, CatalogError, NewBackup, Trigger, conformance};
use celeriac_testkit::db::TestDatabase;
use sqlx::{Connection, Executor};
use uuid::Uuid;

/// A migrated catalog in a fresh PostgreSQL database (dropped with the returned guard).
async fn postgres() -> (Catalog, TestDatabase) {
    let db = TestDatabase::create().await;
    let catalog = Catalog::open(db.url()).await.unwrap();
    let report = catalog.migrate().await.unwrap();
    assert!(
        !report.applied.is_empty(),
        "a fresh database gets migrations"
    );
    (catalog, db)
}

/// A migrated catalog in a fresh SQLite file (removed with the returned guard).
async fn sqlite() -> (Catalog, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
    let catalog = Catalog::open(&url).await.unwrap();
    let report = catalog.migrate().await.unwrap();
    assert!(!report.applied.is_empty(), "a fresh file gets migrations");
    (catalog, dir)
}

macro_rules! suite {
    ($backend:ident: $($check:ident),+ $(,)?) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $check() {
                    let (catalog, _guard) = super::$backend().await;
                    celeriac_catalog::conformance::$check(&catalog).await;
                    catalog.close().await;
                }
            )+
        }
    };
}

macro_rules! both {
    ($($check:ident),+ $(,)?) => {
        suite!(postgres: $($check),+);
        suite!(sqlite: $($check),+);
    };
}

both!(
    migrate_is_idempotent,
    insert_round_trips_every_field,
    insert_or_get_is_idempotent_on_the_id,
    concurrent_inserts_of_one_id_create_one_row,
    celery_task_id_is_unique,
    update_writes_only_the_given_fields,
    update_of_a_missing_backup_is_not_found,
    list_is_newest_first_and_filters_by_status,
    latest_verified_is_the_newest_verified,
    copies_are_upserted_per_backup_and_store,
    alerts_are_raised_filtered_and_resolved,
    admin_check_reads_the_platform_users,
    backup_lock_is_held_by_one_run_at_a_time,
    prunable_copies_are_old_unkept_and_not_yet_deleted,
    beat_slots_are_recorded_forward_only,
    concurrent_beat_records_end_at_the_latest_slot,
    beat_leader_lock_is_its_own_and_exclusive,
);

async fn insert_one(catalog: &Catalog) -> Uuid {
    let new = NewBackup::configuration(Uuid::new_v4(), Trigger::Cli, conformance::t0());
    catalog.insert_or_get_backup(&new).await.unwrap();
    new.id
}

fn assert_check_violation(result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>, name: &str) {
    let err = result.expect_err("the database must refuse the value");
    let db = err.as_database_error().expect("a database error");
    assert_eq!(db.kind(), sqlx::error::ErrorKind::CheckViolation, "{db}");
    assert_eq!(db.constraint(), Some(name), "{db}");
}

#[tokio::test]
async fn postgres_check_constraints_refuse_bogus_values() {
    let (catalog, db) = postgres().await;
    let id = insert_one(&catalog).await;
    let cases = [
        (
            "UPDATE backups_backup SET status = 'DONE' WHERE id = $1",
            "backups_backup_status_check",
        ),
        (
            "UPDATE backups_backup SET status = 'verified' WHERE id = $1",
            "backups_backup_status_check",
        ),
        (
            "UPDATE backups_backup SET \"trigger\" = 'CRON' WHERE id = $1",
            "backups_backup_trigger_check",
        ),
        (
            "UPDATE backups_backup SET file_size = -1 WHERE id = $1",
            "backups_backup_file_size_check",
        ),
        (
            "UPDATE backups_backup SET metadata = '[1]' WHERE id = $1",
            "backups_backup_metadata_check",
        ),
    ];
    for (sql, constraint) in cases {
        let result = sqlx::query(sql).bind(id).execute(db.pool()).await;
        assert_check_violation(result, constraint);
    }
    let alert = sqlx::query(
        "INSERT INTO backups_backupalert (alert_type, severity, message) \
         VALUES ('BACKUP_FAILURE', 'SEVERE', 'x')",
    )
    .execute(db.pool())
    .await;
    assert_check_violation(alert, "backups_backupalert_severity_check");
    let alert = sqlx::query(
        "INSERT INTO backups_backupalert (alert_type, severity, message) \
         VALUES ('DISK_FULL', 'INFO', 'x')",
    )
    .execute(db.pool())
    .await;
    assert_check_violation(alert, "backups_backupalert_alert_type_check");
    // The row is untouched by the refused updates.
    let row = catalog.backup(id).await.unwrap().unwrap();
    assert_eq!(row.status, BackupStatus::Pending);
    catalog.close().await;
}

#[tokio::test]
async fn sqlite_check_constraints_refuse_bogus_values() {
    let (catalog, dir) = sqlite().await;
    let id = insert_one(&catalog).await;
    let path = dir.path().join("catalog.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let cases = [
        (
            "UPDATE backups_backup SET status = 'DONE' WHERE id = $1",
            "backups_backup_status_check",
        ),
        (
            "UPDATE backups_backup SET \"trigger\" = 'CRON' WHERE id = $1",
            "backups_backup_trigger_check",
        ),
        (
            "UPDATE backups_backup SET file_size = -1 WHERE id = $1",
            "backups_backup_file_size_check",
        ),
        (
            "UPDATE backups_backup SET metadata = 'not json' WHERE id = $1",
            "backups_backup_metadata_check",
        ),
    ];
    for (sql, constraint) in cases {
        let err = sqlx::query(sql)
            .bind(id.simple().to_string())
            .execute(&mut conn)
            .await
            .expect_err("the database must refuse the value");
        let db = err.as_database_error().expect("a database error");
        assert_eq!(db.kind(), sqlx::error::ErrorKind::CheckViolation, "{db}");
        assert!(db.message().ends_with(constraint), "{db}");
    }
    let row = catalog.backup(id).await.unwrap().unwrap();
    assert_eq!(row.status, BackupStatus::Pending);
    catalog.close().await;
}

fn assert_invalid_status(err: &CatalogError) {
    match err {
        CatalogError::InvalidValue {
            table,
            column,
            value,
            expected,
        } => {
            assert_eq!((*table, *column), ("backups_backup", "status"));
            assert_eq!(value, "DONE");
            assert_eq!(*expected, "BackupStatus");
        }
        other => panic!("expected InvalidValue, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "backups_backup.status holds \"DONE\", which is not a valid BackupStatus"
    );
}

#[tokio::test]
async fn postgres_unknown_stored_status_is_a_typed_error() {
    let (catalog, db) = postgres().await;
    let id = insert_one(&catalog).await;
    // Someone loosened the schema by hand and wrote a value this version does not know.
    db.pool()
        .execute("ALTER TABLE backups_backup DROP CONSTRAINT backups_backup_status_check")
        .await
        .unwrap();
    sqlx::query("UPDATE backups_backup SET status = 'DONE' WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await
        .unwrap();
    assert_invalid_status(&catalog.backup(id).await.unwrap_err());
    assert_invalid_status(&catalog.list_backups(None, 10).await.unwrap_err());
    catalog.close().await;
}

#[tokio::test]
async fn sqlite_unknown_stored_status_is_a_typed_error() {
    let (catalog, dir) = sqlite().await;
    let id = insert_one(&catalog).await;
    let path = dir.path().join("catalog.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    conn.execute("PRAGMA ignore_check_constraints = ON")
        .await
        .unwrap();
    sqlx::query("UPDATE backups_backup SET status = 'DONE' WHERE id = $1")
        .bind(id.simple().to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    assert_invalid_status(&catalog.backup(id).await.unwrap_err());
    catalog.close().await;
}

#[tokio::test]
async fn an_unreachable_postgres_is_a_transient_connect_error_without_the_password() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let err = Catalog::open("postgres://app:s3cret@127.0.0.1:1/platform")
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::Connect { .. }), "{err:?}");
    assert!(err.is_transient(), "{err:?}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert!(!format!("{err:?}").contains("s3cret"), "{err:?}");
}

/// Two processes starting at once (two `celeriac migrate`, or a worker and a beat with
/// `--migrate`) both end with the schema in place and neither fails.
async fn concurrent_migrations_both_succeed(url: &str) {
    let a = Catalog::open(url).await.unwrap();
    let b = Catalog::open(url).await.unwrap();
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(
        ra.applied.len() + rb.applied.len(),
        ra.applied.len().max(rb.applied.len()),
        "one of them applied everything, the other nothing: {ra:?} {rb:?}"
    );
    assert!(!ra.applied.is_empty() || !rb.applied.is_empty());
    insert_one(&a).await;
    assert_eq!(b.list_backups(None, 10).await.unwrap().len(), 1);
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_migrations_both_succeed() {
    let db = TestDatabase::create().await;
    concurrent_migrations_both_succeed(db.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_migrations_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
    concurrent_migrations_both_succeed(&url).await;
}

/// A leader whose lock session is killed on the server (a failover of the database, an
/// administrator's `pg_terminate_backend`) learns it at its next check, and another taker
/// gets the lock.
#[tokio::test]
async fn postgres_a_killed_lock_session_is_a_lost_lock() {
    use std::time::Duration;

    use celeriac_catalog::LockKind;

    let (catalog, db) = postgres().await;
    let mut leader = catalog
        .lock(LockKind::BeatLeader, Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    leader.check(Duration::from_secs(5)).await.unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'celeriac beat leader lock' AND datname = current_database()",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(killed, [true], "one lock session to kill");
    let err = leader.check(Duration::from_secs(5)).await.unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::LockLost {
                lock: "beat leader",
                ..
            }
        ),
        "{err:?}"
    );
    let next = catalog
        .lock(LockKind::BeatLeader, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(next.is_some(), "the lock of a killed session was not free");
    catalog.close().await;
}
