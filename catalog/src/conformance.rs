//! The shared catalog conformance suite (feature `test-util`): one async fn per property of the
//! [`Catalog`] contract. `tests/backends.rs` runs every one against PostgreSQL and SQLite; each
//! takes a freshly migrated, empty catalog and panics with a message naming the property when
//! the backend misbehaves.
#![allow(
    clippy::missing_panics_doc,
    reason = "a conformance check reports a violation by panicking, like assert!"
)]

use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};
use futures::future::join_all;
use serde_json::json;
use uuid::Uuid;

use crate::{
    AlertFilter, AlertType, BackupStatus, BackupType, BackupUpdate, Catalog, CatalogError,
    CopyStatus, JsonObject, LockKind, NewAlert, NewBackup, NewCopy, Severity, SlotRecord,
    StoreKind, Trigger,
};

/// A fixed instant with sub-microsecond digits, so truncation to microseconds is exercised.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 2, 0, 7)
        .single()
        .and_then(|t| t.with_nanosecond(123_456_789))
        .expect("a valid instant")
}

/// `t` to the microsecond, as the catalog stores it.
pub fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    crate::codec::to_micros(t)
}

fn object(value: serde_json::Value) -> JsonObject {
    match value {
        serde_json::Value::Object(map) => map,
        other => panic!("not a JSON object: {other}"),
    }
}

fn report_metadata() -> JsonObject {
    object(json!({
        "files_collected": 42,
        "file_categories": {"nginx": 3, "env": 1, "docker": 38},
        "bytes_per_category": {"nginx": 10_240, "env": 77, "docker": 1_048_576},
        "skipped": [{"path": "/etc/letsencrypt/live", "reason": "permission denied"}],
        "secrets_bundle": {"object_key": "x.secrets.tar.gz.enc", "sha256": "ab".repeat(32)},
        "timings_ms": {"collect": 12, "store": 340, "verify": 55},
        "unicode": "café ✓",
    }))
}

async fn must<T>(what: &str, fut: impl Future<Output = Result<T, CatalogError>>) -> T {
    match fut.await {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e} ({e:?})"),
    }
}

/// A second `migrate` applies nothing and reports the first one's migrations as in place.
pub async fn migrate_is_idempotent(catalog: &Catalog) {
    let again = must("migrate again", catalog.migrate()).await;
    assert!(again.applied.is_empty(), "applied twice: {again:?}");
    assert!(
        again
            .already_applied
            .iter()
            .any(|m| m.description == "backup catalog"),
        "the catalog migration is not reported in place: {again:?}"
    );
    assert!(
        again
            .already_applied
            .iter()
            .any(|m| m.version == 20_261_204_000_002 && m.description == "beat state"),
        "the beat state migration is not reported in place: {again:?}"
    );
}

/// Every field written by insert comes back as written (times to the microsecond).
pub async fn insert_round_trips_every_field(catalog: &Catalog) {
    let id = Uuid::new_v4();
    let mut new = NewBackup::configuration(id, Trigger::Manual, t0());
    new.status = BackupStatus::InProgress;
    new.tenant_id = Some(7);
    new.celery_task_id = Some(format!("task-{id}"));
    new.initiated_by_id = Some(1);
    new.metadata = report_metadata();
    new.started_at = Some(t0() + Duration::milliseconds(5));
    let (row, created) = must("insert", catalog.insert_or_get_backup(&new)).await;
    assert!(created, "a new id must be created");
    assert_eq!(row.id, id);
    assert_eq!(row.backup_type, BackupType::Configuration);
    assert_eq!(row.tenant_id, Some(7));
    assert_eq!(
        row.filename,
        "backup_configuration_20261203_020007.tar.gz.enc"
    );
    assert_eq!(row.status, BackupStatus::InProgress);
    assert_eq!(row.trigger, Trigger::Manual);
    assert_eq!(row.celery_task_id.as_deref(), Some(&*format!("task-{id}")));
    assert_eq!(row.initiated_by_id, Some(1));
    assert_eq!(row.metadata, report_metadata());
    assert_eq!(row.created_at, micros(t0()));
    assert_eq!(
        row.started_at,
        Some(micros(t0() + Duration::milliseconds(5)))
    );
    assert_eq!(
        (row.completed_at, row.verified_at),
        (None, None),
        "unset times"
    );
    assert_eq!(
        (
            row.file_size,
            &*row.checksum,
            &*row.key_id,
            &*row.error_message
        ),
        (0, "", "", ""),
        "defaults"
    );
    assert_eq!(
        (&*row.local_path, &*row.r2_path, &*row.b2_path),
        ("", "", "")
    );
    let read = must("get", catalog.backup(id)).await;
    assert_eq!(
        read.as_ref(),
        Some(&row),
        "get returns what insert returned"
    );
    let missing = must("get missing", catalog.backup(Uuid::new_v4())).await;
    assert_eq!(missing, None);
}

/// Inserting an existing id again (a redelivered task) returns the stored row unchanged and
/// creates nothing.
pub async fn insert_or_get_is_idempotent_on_the_id(catalog: &Catalog) {
    let id = Uuid::new_v4();
    let first = NewBackup::configuration(id, Trigger::Schedule, t0());
    let (stored, created) = must("first insert", catalog.insert_or_get_backup(&first)).await;
    assert!(created);
    let mut second = NewBackup::configuration(id, Trigger::Cli, t0() + Duration::hours(1));
    second.status = BackupStatus::Failed;
    let (again, created) = must("second insert", catalog.insert_or_get_backup(&second)).await;
    assert!(!created, "the same id must not be created twice");
    assert_eq!(again, stored, "the second insert changed the row");
    let all = must("list", catalog.list_backups(None, 100)).await;
    assert_eq!(all.iter().filter(|b| b.id == id).count(), 1);
}

/// Redeliveries racing each other: concurrent inserts of one id create exactly one row, and
/// every caller gets that row back.
pub async fn concurrent_inserts_of_one_id_create_one_row(catalog: &Catalog) {
    let id = Uuid::new_v4();
    let tries: Vec<NewBackup> = (0..4_i64)
        .map(|n| {
            let mut new = NewBackup::configuration(id, Trigger::Schedule, t0());
            new.initiated_by_id = Some(n);
            new
        })
        .collect();
    let results = join_all(tries.iter().map(|n| catalog.insert_or_get_backup(n))).await;
    let mut created = 0;
    let mut rows = Vec::new();
    for result in results {
        let (row, was_created) = result.unwrap_or_else(|e| panic!("concurrent insert: {e:?}"));
        created += usize::from(was_created);
        rows.push(row);
    }
    assert_eq!(created, 1, "exactly one insert creates the row");
    assert!(
        rows.windows(2).all(|w| w[0] == w[1]),
        "every caller sees the same row: {rows:?}"
    );
    let all = must("list", catalog.list_backups(None, 100)).await;
    assert_eq!(all.iter().filter(|b| b.id == id).count(), 1);
}

/// Two rows can never share a Celery task id; the row is found by it.
pub async fn celery_task_id_is_unique(catalog: &Catalog) {
    let task = format!("task-{}", Uuid::new_v4());
    let mut a = NewBackup::configuration(Uuid::new_v4(), Trigger::Schedule, t0());
    a.celery_task_id = Some(task.clone());
    must("insert a", catalog.insert_or_get_backup(&a)).await;
    let mut b = NewBackup::configuration(Uuid::new_v4(), Trigger::Schedule, t0());
    b.celery_task_id = Some(task.clone());
    match catalog.insert_or_get_backup(&b).await {
        Err(CatalogError::TaskIdTaken { task_id }) => assert_eq!(task_id, task),
        other => panic!("a reused task id must be TaskIdTaken, got {other:?}"),
    }
    let found = must("by task id", catalog.backup_by_task_id(&task)).await;
    assert_eq!(found.map(|r| r.id), Some(a.id));
    assert_eq!(
        must("no such task", catalog.backup_by_task_id("nope")).await,
        None
    );
    // Rows without a task id (CLI runs) do not collide with each other.
    for _ in 0..2 {
        let cli = NewBackup::configuration(Uuid::new_v4(), Trigger::Cli, t0());
        must("insert cli", catalog.insert_or_get_backup(&cli)).await;
    }
}

/// An update writes its `Some` fields and leaves the others alone.
pub async fn update_writes_only_the_given_fields(catalog: &Catalog) {
    let id = Uuid::new_v4();
    let mut new = NewBackup::configuration(id, Trigger::Schedule, t0());
    new.metadata = object(json!({"files_collected": 0}));
    must("insert", catalog.insert_or_get_backup(&new)).await;

    let started = t0() + Duration::seconds(1);
    let running = must(
        "start",
        catalog.update_backup(
            id,
            &BackupUpdate {
                status: Some(BackupStatus::InProgress),
                started_at: Some(Some(started)),
                ..BackupUpdate::default()
            },
        ),
    )
    .await;
    assert_eq!(running.status, BackupStatus::InProgress);
    assert_eq!(running.started_at, Some(micros(started)));
    assert_eq!(running.metadata, new.metadata, "metadata untouched");

    let done = t0() + Duration::seconds(9);
    let size = 3 * 1024 * 1024 + 512 * 1024; // 3.5 MiB
    let finished = must(
        "finish",
        catalog.update_backup(
            id,
            &BackupUpdate {
                status: Some(BackupStatus::Verified),
                file_size: Some(size),
                checksum: Some("ab".repeat(32)),
                key_id: Some("0123456789abcdef0123456789abcdef".into()),
                local_path: Some("/var/backups/x.tar.gz.enc".into()),
                r2_path: Some("celeriac/configuration/x.tar.gz.enc".into()),
                b2_path: Some("celeriac/configuration/x.tar.gz.enc".into()),
                metadata: Some(report_metadata()),
                completed_at: Some(Some(done)),
                verified_at: Some(Some(done)),
                ..BackupUpdate::default()
            },
        ),
    )
    .await;
    assert_eq!(finished.status, BackupStatus::Verified);
    assert_eq!(finished.file_size, size);
    assert!((finished.size_mb() - 3.5).abs() < f64::EPSILON);
    assert_eq!(finished.started_at, Some(micros(started)), "kept");
    assert_eq!(finished.completed_at, Some(micros(done)));
    assert_eq!(finished.metadata, report_metadata(), "metadata replaced");
    assert_eq!(finished.r2_path, "celeriac/configuration/x.tar.gz.enc");
    assert_eq!(finished.error_message, "");

    let failed = must(
        "status only",
        catalog.update_backup(id, &BackupUpdate::status(BackupStatus::Completed)),
    )
    .await;
    assert_eq!(failed.status, BackupStatus::Completed);
    assert_eq!(failed.checksum, "ab".repeat(32), "checksum kept");
    assert_eq!(failed.file_size, size, "size kept");
    assert_eq!(failed.verified_at, Some(micros(done)), "verified_at kept");

    // A retried run redoes its row: back to IN_PROGRESS, end times cleared, start time new.
    let restarted = t0() + Duration::minutes(10);
    let redo = must(
        "redo",
        catalog.update_backup(
            id,
            &BackupUpdate {
                status: Some(BackupStatus::InProgress),
                started_at: Some(Some(restarted)),
                completed_at: Some(None),
                verified_at: Some(None),
                ..BackupUpdate::default()
            },
        ),
    )
    .await;
    assert_eq!(redo.started_at, Some(micros(restarted)));
    assert_eq!(
        (redo.completed_at, redo.verified_at),
        (None, None),
        "cleared"
    );
    assert_eq!(redo.checksum, "ab".repeat(32), "untouched fields kept");
    let read = must("get", catalog.backup(id)).await;
    assert_eq!(read, Some(redo), "get sees the last update");
}

/// Updating an id that is not there is `BackupNotFound`, not a silent no-op.
pub async fn update_of_a_missing_backup_is_not_found(catalog: &Catalog) {
    let id = Uuid::new_v4();
    match catalog
        .update_backup(id, &BackupUpdate::status(BackupStatus::Failed))
        .await
    {
        Err(CatalogError::BackupNotFound { id: missing }) => assert_eq!(missing, id),
        other => panic!("expected BackupNotFound, got {other:?}"),
    }
}

async fn insert_at(catalog: &Catalog, at: DateTime<Utc>, status: BackupStatus) -> Uuid {
    let mut new = NewBackup::configuration(Uuid::new_v4(), Trigger::Schedule, at);
    new.status = status;
    must("insert", catalog.insert_or_get_backup(&new)).await;
    new.id
}

/// `list_backups` is newest first, filters by status and honours its limit.
pub async fn list_is_newest_first_and_filters_by_status(catalog: &Catalog) {
    let day = Duration::days(1);
    // Inserted out of order; one pair differs by a single microsecond.
    let b = insert_at(catalog, t0() + day, BackupStatus::Failed).await;
    let a = insert_at(catalog, t0(), BackupStatus::Verified).await;
    let d = insert_at(catalog, t0() + day * 3, BackupStatus::Verified).await;
    let c = insert_at(
        catalog,
        t0() + day * 3 - Duration::microseconds(1),
        BackupStatus::Partial,
    )
    .await;
    let ids = |rows: Vec<crate::Backup>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(must("all", catalog.list_backups(None, 100)).await),
        [d, c, b, a]
    );
    assert_eq!(
        ids(must(
            "verified",
            catalog.list_backups(Some(BackupStatus::Verified), 100)
        )
        .await),
        [d, a]
    );
    assert_eq!(
        ids(must(
            "failed",
            catalog.list_backups(Some(BackupStatus::Failed), 100)
        )
        .await),
        [b]
    );
    assert!(
        must(
            "in progress",
            catalog.list_backups(Some(BackupStatus::InProgress), 100)
        )
        .await
        .is_empty()
    );
    assert_eq!(
        ids(must("limit", catalog.list_backups(None, 2)).await),
        [d, c]
    );
}

/// `latest_verified` is the newest `VERIFIED` row, ignoring newer rows in other states.
pub async fn latest_verified_is_the_newest_verified(catalog: &Catalog) {
    assert_eq!(must("empty", catalog.latest_verified()).await, None);
    let old = insert_at(catalog, t0(), BackupStatus::Verified).await;
    let new = insert_at(catalog, t0() + Duration::hours(1), BackupStatus::Verified).await;
    insert_at(catalog, t0() + Duration::hours(2), BackupStatus::Partial).await;
    insert_at(catalog, t0() + Duration::hours(3), BackupStatus::Completed).await;
    let latest = must("latest", catalog.latest_verified()).await;
    assert_eq!(latest.map(|b| b.id), Some(new));
    assert_ne!(old, new);
}

fn copy(backup_id: Uuid, store: &str, status: CopyStatus, at: DateTime<Utc>) -> NewCopy {
    NewCopy {
        backup_id,
        store_name: store.into(),
        store_kind: if store == "local" {
            StoreKind::Local
        } else {
            StoreKind::S3
        },
        object_key: format!("celeriac/configuration/2026/12/03/{backup_id}/x.tar.gz.enc"),
        size: 1234,
        sha256: "cd".repeat(32),
        status,
        attempts: 1,
        error: String::new(),
        at,
        verified_at: None,
        deleted_at: None,
    }
}

/// One copy row per backup and store: recording it again updates it in place.
pub async fn copies_are_upserted_per_backup_and_store(catalog: &Catalog) {
    let id = insert_at(catalog, t0(), BackupStatus::InProgress).await;
    let first = must(
        "pending",
        catalog.record_copy(&copy(id, "r2", CopyStatus::Pending, t0())),
    )
    .await;
    assert_eq!(first.status, CopyStatus::Pending);
    assert_eq!(first.created_at, micros(t0()));

    let later = t0() + Duration::seconds(30);
    let mut verified = copy(id, "r2", CopyStatus::Verified, later);
    verified.attempts = 3;
    verified.verified_at = Some(later);
    let second = must("verified", catalog.record_copy(&verified)).await;
    assert_eq!(second.id, first.id, "same row");
    assert_eq!(second.status, CopyStatus::Verified);
    assert_eq!(second.attempts, 3);
    assert_eq!(second.created_at, micros(t0()), "created_at kept");
    assert_eq!(second.updated_at, micros(later));
    assert_eq!(second.verified_at, Some(micros(later)));

    let mut failed = copy(id, "b2", CopyStatus::Failed, later);
    failed.error = "connection refused".into();
    failed.size = 0;
    must("b2", catalog.record_copy(&failed)).await;
    must(
        "local",
        catalog.record_copy(&copy(id, "local", CopyStatus::Corrupt, later)),
    )
    .await;

    let copies = must("copies", catalog.copies(id)).await;
    let summary: Vec<_> = copies
        .iter()
        .map(|c| (c.store_name.as_str(), c.store_kind, c.status))
        .collect();
    assert_eq!(
        summary,
        [
            ("b2", StoreKind::S3, CopyStatus::Failed),
            ("local", StoreKind::Local, CopyStatus::Corrupt),
            ("r2", StoreKind::S3, CopyStatus::Verified),
        ]
    );
    assert_eq!(copies[0].error, "connection refused");
    assert_eq!(copies[2], second);
    assert!(
        must("other backup", catalog.copies(Uuid::new_v4()))
            .await
            .is_empty()
    );

    match catalog
        .record_copy(&copy(Uuid::new_v4(), "r2", CopyStatus::Pending, t0()))
        .await
    {
        Err(CatalogError::Constraint { .. }) => {}
        other => panic!("a copy of a missing backup must be refused, got {other:?}"),
    }
}

/// Alerts are stored as raised, filtered by backup and open state, resolved once.
pub async fn alerts_are_raised_filtered_and_resolved(catalog: &Catalog) {
    let id = insert_at(catalog, t0(), BackupStatus::Partial).await;
    let failure = must(
        "raise failure",
        catalog.raise_alert(&NewAlert {
            alert_type: AlertType::BackupFailure,
            severity: Severity::Critical,
            backup_id: Some(id),
            message: "store b2 failed".into(),
            details: object(json!({"stores": ["b2"], "status": "PARTIAL"})),
            created_at: t0(),
        }),
    )
    .await;
    assert_eq!(failure.alert_type, AlertType::BackupFailure);
    assert_eq!(failure.severity, Severity::Critical);
    assert_eq!(failure.backup_id, Some(id));
    assert_eq!(failure.details["stores"], json!(["b2"]));
    assert_eq!(failure.created_at, micros(t0()));
    assert_eq!(failure.resolved_at, None);

    let denied = must(
        "raise denied",
        catalog.raise_alert(&NewAlert {
            alert_type: AlertType::AccessDenied,
            severity: Severity::Warning,
            backup_id: None,
            message: "user 5 is not an active administrator".into(),
            details: object(json!({"user_id": 5, "reason": "inactive"})),
            created_at: t0() + Duration::seconds(1),
        }),
    )
    .await;
    assert_eq!(denied.backup_id, None);

    let all = must("all", catalog.alerts(AlertFilter::default())).await;
    let ids: Vec<_> = all.iter().map(|a| a.id).collect();
    assert_eq!(ids, [denied.id, failure.id], "newest first");
    let mine = must(
        "by backup",
        catalog.alerts(AlertFilter {
            backup_id: Some(id),
            open_only: false,
        }),
    )
    .await;
    assert_eq!(mine, std::slice::from_ref(&failure));

    let when = t0() + Duration::minutes(5);
    let resolved = must("resolve", catalog.resolve_alert(failure.id, when)).await;
    assert_eq!(resolved.resolved_at, Some(micros(when)));
    let again = must(
        "resolve again",
        catalog.resolve_alert(failure.id, when + Duration::hours(1)),
    )
    .await;
    assert_eq!(
        again.resolved_at,
        Some(micros(when)),
        "first resolution kept"
    );
    let open = must(
        "open",
        catalog.alerts(AlertFilter {
            backup_id: None,
            open_only: true,
        }),
    )
    .await;
    assert_eq!(open, [denied]);
    match catalog.resolve_alert(i64::MAX, when).await {
        Err(CatalogError::AlertNotFound { id }) => assert_eq!(id, i64::MAX),
        other => panic!("expected AlertNotFound, got {other:?}"),
    }
}

/// The administrator check: an active superuser is an administrator, an inactive one or a
/// plain user is not, an unknown id is unknown; a query over a missing table is a permanent
/// error (never a silent yes).
pub async fn admin_check_reads_the_platform_users(catalog: &Catalog) {
    use crate::{AdminQuery, AdminVerdict};
    let setup = [
        "CREATE TABLE auth_user (id integer PRIMARY KEY, username text NOT NULL, \
         is_active boolean NOT NULL, is_superuser boolean NOT NULL)",
        "INSERT INTO auth_user VALUES (1, 'admin', true, true), (2, 'staff', true, false), \
         (3, 'former-admin', false, true)",
    ];
    for sql in setup {
        crate::catalog::dispatch!(catalog, |pool, C| {
            sqlx::query(sql)
                .execute(pool)
                .await
                .unwrap_or_else(|e| panic!("setting up auth_user: {e}"));
        });
    }
    let query = AdminQuery::default();
    for (user, want) in [
        (1, AdminVerdict::Admin),
        (2, AdminVerdict::NotAdmin),
        (3, AdminVerdict::NotAdmin),
        (99, AdminVerdict::Unknown),
    ] {
        let got = must("check admin", catalog.check_admin(&query, user)).await;
        assert_eq!(got, want, "user {user}");
    }
    let missing = AdminQuery::new("SELECT is_superuser FROM no_such_user_table WHERE id = $1")
        .unwrap_or_else(|e| panic!("a valid query: {e}"));
    match catalog.check_admin(&missing, 1).await {
        Err(e) => assert!(!e.is_transient(), "a missing table is permanent: {e:?}"),
        Ok(v) => panic!("a missing table answered {v:?}"),
    }
}

/// The backup lock is held by one run at a time: a second taker waits its bounded time and
/// gets nothing; after a release the next one gets it, and dropping a lock releases it too.
pub async fn backup_lock_is_held_by_one_run_at_a_time(catalog: &Catalog) {
    let wait = std::time::Duration::from_millis(300);
    let first = must("first lock", catalog.lock_backups(wait))
        .await
        .unwrap_or_else(|| panic!("a free lock was not granted"));
    let started = std::time::Instant::now();
    let second = must("second lock", catalog.lock_backups(wait)).await;
    assert!(second.is_none(), "two runs held the backup lock at once");
    assert!(started.elapsed() >= wait, "the second taker did not wait");
    must("release", first.release()).await;
    let third = must("third lock", catalog.lock_backups(wait))
        .await
        .unwrap_or_else(|| panic!("a released lock was not granted"));
    drop(third);
    // A dropped PostgreSQL lock goes with its connection, which the server notices at once.
    let fourth = must(
        "fourth lock",
        catalog.lock_backups(std::time::Duration::from_secs(5)),
    )
    .await;
    assert!(fourth.is_some(), "a dropped lock was not released");
}

/// Retention's view: copies in one store of backups older than a cutoff, except the kept one,
/// until recorded deleted; a copy only marked stays listed (its delete is retried).
pub async fn prunable_copies_are_old_unkept_and_not_yet_deleted(catalog: &Catalog) {
    let day = Duration::days(1);
    let mut ids = Vec::new();
    for age in [400, 200, 0] {
        let at = t0() - day * age;
        let new = NewBackup::configuration(Uuid::new_v4(), Trigger::Schedule, at);
        must("insert", catalog.insert_or_get_backup(&new)).await;
        for store in ["r2", "local"] {
            let copy = NewCopy {
                backup_id: new.id,
                store_name: store.into(),
                store_kind: StoreKind::S3,
                object_key: format!("p/{}/x.tar.gz.enc", new.id),
                size: 1,
                sha256: "ab".repeat(32),
                status: CopyStatus::Verified,
                attempts: 1,
                error: String::new(),
                at,
                verified_at: Some(at),
                deleted_at: None,
            };
            must("copy", catalog.record_copy(&copy)).await;
        }
        ids.push(new.id);
    }
    let (old, middle, newest) = (ids[0], ids[1], ids[2]);
    let prunable = |before| catalog.prunable_copies("r2", before, newest);
    let listed = must("prunable", prunable(t0() - day * 365)).await;
    assert_eq!(
        listed.iter().map(|c| c.backup_id).collect::<Vec<_>>(),
        [old],
        "only the 400-day-old copy in r2 is older than 365 days"
    );
    let listed = must("prunable", prunable(t0() + day)).await;
    assert_eq!(
        listed.iter().map(|c| c.backup_id).collect::<Vec<_>>(),
        [old, middle],
        "the kept backup is never listed, oldest first"
    );
    let copy = listed[0].id;
    must("mark", catalog.mark_copy_deleting(copy, t0())).await;
    let listed = must("prunable", prunable(t0() - day * 365)).await;
    assert_eq!(listed.len(), 1, "a marked copy is still listed");
    assert_eq!(listed[0].status, CopyStatus::Deleted);
    assert_eq!(listed[0].deleted_at, None);
    must("record", catalog.record_copy_deleted(copy, t0())).await;
    assert!(
        must("prunable", prunable(t0() - day * 365))
            .await
            .is_empty(),
        "a recorded deletion is not listed again"
    );
    let others = must("copies", catalog.copies(old)).await;
    let local = others
        .iter()
        .find(|c| c.store_name == "local")
        .expect("local copy");
    assert_eq!(
        local.status,
        CopyStatus::Verified,
        "another store's copy is untouched"
    );
}

fn slot_record(
    entry: &str,
    slot: DateTime<Utc>,
    task_id: Option<&str>,
    skipped: u64,
) -> SlotRecord {
    SlotRecord {
        entry: entry.to_owned(),
        slot,
        task_id: task_id.map(str::to_owned),
        skipped,
        at: slot + Duration::milliseconds(250),
    }
}

/// Beat's last slot per entry: absent until recorded, then moved only forward (an earlier or
/// equal slot changes nothing and says so), with the task id and the policy's skip counts;
/// entries are independent.
pub async fn beat_slots_are_recorded_forward_only(catalog: &Catalog) {
    let name = "configuration-backup-daily";
    assert_eq!(must("read unknown", catalog.beat_entry(name)).await, None);
    let first = must(
        "record first",
        catalog.record_beat_slot(&slot_record(name, t0(), Some("id-1"), 0)),
    )
    .await;
    assert!(first.advanced, "a first record must be stored");
    assert_eq!(first.entry.name, name);
    assert_eq!(first.entry.last_slot, micros(t0()));
    assert_eq!(first.entry.last_task_id.as_deref(), Some("id-1"));
    assert_eq!(
        (first.entry.last_skipped, first.entry.skipped_total),
        (0, 0)
    );
    assert_eq!(
        first.entry.updated_at,
        micros(t0() + Duration::milliseconds(250))
    );
    let read = must("read", catalog.beat_entry(name)).await;
    assert_eq!(read.as_ref(), Some(&first.entry), "read back as recorded");

    for (what, slot) in [
        ("an earlier slot", t0() - Duration::days(1)),
        ("the same slot", t0()),
        (
            "a slot a microsecond earlier",
            t0() - Duration::microseconds(1),
        ),
    ] {
        let back = must(
            what,
            catalog.record_beat_slot(&slot_record(name, slot, Some("old"), 9)),
        )
        .await;
        assert!(!back.advanced, "{what} moved the entry");
        assert_eq!(back.entry, first.entry, "{what} changed the stored state");
    }

    let later = t0() + Duration::days(1);
    let skipped = must(
        "record a skip",
        catalog.record_beat_slot(&slot_record(name, later, None, 3)),
    )
    .await;
    assert!(skipped.advanced);
    assert_eq!(skipped.entry.last_slot, micros(later));
    assert_eq!(
        skipped.entry.last_task_id, None,
        "a skipped slot has no task id"
    );
    assert_eq!(
        (skipped.entry.last_skipped, skipped.entry.skipped_total),
        (3, 3)
    );
    let next = must(
        "record after the skip",
        catalog.record_beat_slot(&slot_record(
            name,
            later + Duration::days(1),
            Some("id-3"),
            2,
        )),
    )
    .await;
    assert_eq!((next.entry.last_skipped, next.entry.skipped_total), (2, 5));
    assert_eq!(next.entry.last_task_id.as_deref(), Some("id-3"));

    let other = must(
        "record another entry",
        catalog.record_beat_slot(&slot_record("ping", t0() - Duration::days(9), None, 0)),
    )
    .await;
    assert!(other.advanced, "entries are independent");
    let still = must("read after the other", catalog.beat_entry(name)).await;
    assert_eq!(still, Some(next.entry));
}

/// Records racing for one entry (two leaders for a moment) end at the latest slot, whatever
/// order they land in.
pub async fn concurrent_beat_records_end_at_the_latest_slot(catalog: &Catalog) {
    let name = "tick";
    let order = [3_i64, 7, 1, 9, 0, 5, 8, 2, 6, 4];
    let records: Vec<SlotRecord> = order
        .iter()
        .map(|k| {
            slot_record(
                name,
                t0() + Duration::seconds(*k),
                Some(&format!("id-{k}")),
                0,
            )
        })
        .collect();
    let results = join_all(records.iter().map(|r| catalog.record_beat_slot(r))).await;
    for result in results {
        if let Err(e) = result {
            panic!("a concurrent record failed: {e} ({e:?})");
        }
    }
    let stored = must("read", catalog.beat_entry(name))
        .await
        .unwrap_or_else(|| panic!("nothing recorded"));
    assert_eq!(stored.last_slot, micros(t0() + Duration::seconds(9)));
    assert_eq!(stored.last_task_id.as_deref(), Some("id-9"));
}

/// Beat's leader lock has one holder at a time and is independent of the backup lock; its
/// holder's check passes while it holds it, and a released lock goes to the next taker.
pub async fn beat_leader_lock_is_its_own_and_exclusive(catalog: &Catalog) {
    let short = std::time::Duration::from_millis(300);
    let mut leader = must("leader lock", catalog.lock(LockKind::BeatLeader, short))
        .await
        .unwrap_or_else(|| panic!("a free leader lock was not granted"));
    assert_eq!(leader.kind(), LockKind::BeatLeader);
    let follower = must(
        "second leader lock",
        catalog.lock(LockKind::BeatLeader, short),
    )
    .await;
    assert!(follower.is_none(), "two beats led at once");
    let backup = must("backup lock beside it", catalog.lock_backups(short))
        .await
        .unwrap_or_else(|| panic!("the leader lock blocked the backup lock"));
    must(
        "check held lock",
        leader.check(std::time::Duration::from_secs(5)),
    )
    .await;
    must("release backup", backup.release()).await;
    let follower = catalog.lock(LockKind::BeatLeader, std::time::Duration::from_secs(10));
    let (follower, ()) = tokio::join!(follower, async {
        tokio::time::sleep(short).await;
        must("release leader", leader.release()).await;
    });
    let follower = match follower {
        Ok(Some(lock)) => lock,
        Ok(None) => panic!("a waiting follower did not get a released leader lock"),
        Err(e) => panic!("follower: {e} ({e:?})"),
    };
    drop(follower);
}
