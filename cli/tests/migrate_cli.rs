//! `celeriac migrate` as a process, then the real Django ORM (pinned in requirements-test.txt)
//! reading what the catalog wrote through `contrib/django/backups/models.py`, on PostgreSQL and
//! on SQLite; and the exit codes of a missing, malformed or unreachable database URL.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Stdio;

use celeriac_catalog::{
    AlertType, BackupMetadata, BackupStatus, BackupUpdate, Catalog, CopyStatus, JsonObject,
    NewAlert, NewBackup, NewCopy, Severity, StoreKind, Trigger,
};
use celeriac_testkit::db::TestDatabase;
use celeriac_testkit::python::Python;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use tokio::process::Command;
use uuid::Uuid;

fn celeriac() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_celeriac"));
    cmd.stdin(Stdio::null())
        .env_remove("CELERIAC_DATABASE_URL")
        .kill_on_drop(true);
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().await.unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn contrib_django() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("contrib/django")
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 2, 0, 7).unwrap() + Duration::microseconds(123_456)
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Migrates `url` through the binary twice (applied, then up to date).
async fn migrate_twice(url: &str) {
    let first = run(celeriac().arg("migrate").env("CELERIAC_DATABASE_URL", url)).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first
            .stdout
            .contains("applied 20261203000001 backup catalog"),
        "{}",
        first.stdout
    );
    assert!(!first.stdout.contains("up to date"), "{}", first.stdout);
    let second = run(celeriac().args(["migrate", "--json", "--database-url", url])).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    let report: Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!(report["applied"], json!([]));
    assert_eq!(
        report["already_applied"][0],
        json!({"version": 20_261_203_000_001_i64, "description": "backup catalog"})
    );
}

/// Writes a verified backup with three copies, a failed one with its alert, and an
/// ACCESS_DENIED alert; returns the verified backup's id and the failed one's.
async fn write_rows(catalog: &Catalog) -> (Uuid, Uuid) {
    let id = Uuid::new_v4();
    let mut new = NewBackup::configuration(id, Trigger::Manual, t0());
    new.status = BackupStatus::InProgress;
    new.celery_task_id = Some("5b1c7d9e-0000-4000-8000-000000000001".into());
    new.initiated_by_id = Some(1);
    new.started_at = Some(t0());
    catalog.insert_or_get_backup(&new).await.unwrap();
    let key = format!("celeriac/{}/{id}/{}", t0().format("%Y/%m/%d"), new.filename);
    let done = t0() + Duration::seconds(12);
    for (store, kind) in [
        ("local", StoreKind::Local),
        ("r2", StoreKind::S3),
        ("b2", StoreKind::S3),
    ] {
        catalog
            .record_copy(&NewCopy {
                backup_id: id,
                store_name: store.into(),
                store_kind: kind,
                object_key: key.clone(),
                size: 3_670_016,
                sha256: "ab".repeat(32),
                status: CopyStatus::Verified,
                attempts: 1,
                error: String::new(),
                at: done,
                verified_at: Some(done),
                deleted_at: None,
            })
            .await
            .unwrap();
    }
    catalog
        .update_backup(
            id,
            &BackupUpdate {
                status: Some(BackupStatus::Verified),
                file_size: Some(3_670_016), // 3.5 MiB
                checksum: Some("ab".repeat(32)),
                key_id: Some("0123456789abcdef0123456789abcdef".into()),
                local_path: Some(format!("/var/backups/celeriac/{key}")),
                r2_path: Some(key.clone()),
                b2_path: Some(key.clone()),
                metadata: Some(
                    BackupMetadata {
                        files_collected: 42,
                        file_categories: [("nginx", 3), ("env", 1), ("docker", 38)]
                            .map(|(k, v)| (k.to_owned(), v))
                            .into(),
                        other: object(json!({
                            "bytes_per_category": {"nginx": 10240, "env": 77, "docker": 1_048_576},
                            "skipped": [],
                            "timings_ms": {"collect": 12, "store": 340, "verify": 55},
                        })),
                    }
                    .to_object(),
                ),
                completed_at: Some(Some(done)),
                verified_at: Some(Some(done)),
                ..BackupUpdate::default()
            },
        )
        .await
        .unwrap();

    let failed = Uuid::new_v4();
    let mut new = NewBackup::configuration(failed, Trigger::Schedule, t0() + Duration::days(1));
    new.status = BackupStatus::Failed;
    catalog.insert_or_get_backup(&new).await.unwrap();
    catalog
        .raise_alert(&NewAlert {
            alert_type: AlertType::BackupFailure,
            severity: Severity::Critical,
            backup_id: Some(failed),
            message: "no configuration files found".into(),
            details: object(json!({"roots": ["/srv/platform"]})),
            created_at: t0() + Duration::days(1),
        })
        .await
        .unwrap();
    catalog
        .raise_alert(&NewAlert {
            alert_type: AlertType::AccessDenied,
            severity: Severity::Warning,
            backup_id: None,
            message: "user 7 is not an active administrator".into(),
            details: object(json!({"user_id": 7, "reason": "not a superuser"})),
            created_at: t0() + Duration::days(2),
        })
        .await
        .unwrap();
    (id, failed)
}

/// Runs contrib/django/read_catalog.py against `url` for backup `id`.
async fn django_reads(url: &str, id: Uuid) -> Value {
    let python = Python::find();
    python.require("django");
    let out = python
        .script(contrib_django().join("read_catalog.py"))
        .arg(id.to_string())
        .env("CELERIAC_DJANGO_DATABASE_URL", url)
        .success()
        .await;
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("read_catalog.py printed no JSON ({e}): {}", out.stdout))
}

fn check_django_view(seen: &Value, id: Uuid, failed: Uuid) {
    assert_eq!(seen["id"], json!(id.to_string()));
    assert_eq!(seen["status"], "VERIFIED");
    assert_eq!(seen["status_display"], "Verified");
    assert_eq!(seen["backup_type"], "CONFIGURATION");
    assert_eq!(seen["trigger"], "MANUAL");
    assert_eq!(
        seen["filename"],
        "backup_configuration_20261203_020007.tar.gz.enc"
    );
    assert_eq!(seen["file_size"], 3_670_016);
    assert_eq!(seen["size_mb"], 3.5);
    assert_eq!(seen["checksum"], json!("ab".repeat(32)));
    let key = format!("celeriac/2026/12/03/{id}/backup_configuration_20261203_020007.tar.gz.enc");
    assert_eq!(
        seen["paths"],
        json!([format!("/var/backups/celeriac/{key}"), key, key])
    );
    assert_eq!(seen["files_collected"], 42);
    assert_eq!(
        seen["file_categories"],
        json!({"nginx": 3, "env": 1, "docker": 38})
    );
    assert_eq!(
        seen["metadata_keys"],
        json!([
            "bytes_per_category",
            "file_categories",
            "files_collected",
            "skipped",
            "timings_ms"
        ])
    );
    assert_eq!(
        seen["celery_task_id"],
        "5b1c7d9e-0000-4000-8000-000000000001"
    );
    assert_eq!(seen["initiated_by_id"], 1);
    assert_eq!(seen["tenant_id"], Value::Null);
    assert_eq!(seen["created_at"], "2026-12-03T02:00:07.123456+00:00");
    assert_eq!(seen["verified_at"], "2026-12-03T02:00:19.123456+00:00");
    assert_eq!(
        seen["copies"],
        json!([
            ["b2", "S3", "VERIFIED", 1, 3_670_016],
            ["local", "LOCAL", "VERIFIED", 1, 3_670_016],
            ["r2", "S3", "VERIFIED", 1, 3_670_016],
        ])
    );
    assert_eq!(seen["verified_count"], 1);
    assert_eq!(
        seen["newest_first"],
        json!([failed.to_string(), id.to_string()])
    );
    assert_eq!(
        seen["alerts"],
        json!([
            [
                "ACCESS_DENIED",
                "WARNING",
                null,
                "user 7 is not an active administrator",
                {"user_id": 7, "reason": "not a superuser"},
                null
            ],
            [
                "BACKUP_FAILURE",
                "CRITICAL",
                failed.to_string(),
                "no configuration files found",
                {"roots": ["/srv/platform"]},
                null
            ],
        ])
    );
    assert_eq!(seen["alerts_of_backup"], 0);
    let no_drift = json!({"unmapped": [], "missing": []});
    for table in [
        "backups_backup",
        "backups_backupcopy",
        "backups_backupalert",
    ] {
        assert_eq!(
            seen["column_drift"][table], no_drift,
            "the Django model and the migrated table {table} differ"
        );
    }
    assert_eq!(
        seen["bogus_status"], "refused",
        "the CHECK constraint must refuse a bogus status written through Django"
    );
    assert_eq!(seen["status_after_bogus"], "VERIFIED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrated_by_the_binary_is_read_by_django() {
    let db = TestDatabase::create().await;
    migrate_twice(db.url()).await;
    let catalog = Catalog::open(db.url()).await.unwrap();
    let (id, failed) = write_rows(&catalog).await;
    catalog.close().await;
    let seen = django_reads(db.url(), id).await;
    check_django_view(&seen, id, failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrated_by_the_binary_is_read_by_django() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
    migrate_twice(&url).await;
    let catalog = Catalog::open(&url).await.unwrap();
    let (id, failed) = write_rows(&catalog).await;
    catalog.close().await;
    let seen = django_reads(&url, id).await;
    check_django_view(&seen, id, failed);
}

#[tokio::test]
async fn bad_database_urls_exit_with_their_codes_and_no_password() {
    let missing = run(celeriac().arg("migrate")).await;
    assert_eq!(missing.code, 64, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("CELERIAC_DATABASE_URL"),
        "{}",
        missing.stderr
    );

    let unsupported =
        run(celeriac().args(["migrate", "--database-url", "mysql://u:s3cret@h/db"])).await;
    assert_eq!(unsupported.code, 78, "{}", unsupported.stderr);
    assert!(unsupported.stderr.contains("unsupported catalog URL"));

    let malformed = run(celeriac()
        .arg("migrate")
        .env("CELERIAC_DATABASE_URL", "postgres://u:s3cret@h:port/db"))
    .await;
    assert_eq!(malformed.code, 78, "{}", malformed.stderr);
    assert!(malformed.stderr.contains("invalid catalog URL"));

    let unreachable = run(celeriac().args([
        "migrate",
        "--database-url",
        "postgres://u:s3cret@127.0.0.1:1/db",
    ]))
    .await;
    assert_eq!(unreachable.code, 1, "{}", unreachable.stderr);
    assert!(
        unreachable.stderr.contains("cannot connect to the catalog"),
        "{}",
        unreachable.stderr
    );

    for run in [&unsupported, &malformed, &unreachable] {
        assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}
