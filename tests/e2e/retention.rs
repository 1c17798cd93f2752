//! Retention end to end: three real backups made by the task (local store and R2), the older
//! two moved back in time in the catalog, then `celeriac prune --dry-run` and `celeriac prune`:
//! per-store ages counted from the newest verified backup, objects and rows, the newest backup
//! untouched, and a delete that fails (R2 down) marked and retried by the next run.

use std::collections::BTreeSet;
use std::time::Duration;

use celeriac_testkit::amqp::TestQueues;
use celeriac_testkit::db::TestDatabase;
use celeriac_testkit::proxy::FaultProxy;
use celeriac_testkit::s3::S3Server;
use serde_json::{Value, json};

use crate::run::stderr;
use crate::task::{TASK, collect_from, migrated_database, python_calls, start_worker, walk_files};
use crate::tree::sample_copy;
use crate::world::{S3Store, World};

/// Moves backup `id` (and its copies) `days` back in time.
async fn age(db: &TestDatabase, id: &str, days: i32) {
    for sql in [
        "UPDATE backups_backup SET created_at = created_at - make_interval(days => $1) \
         WHERE id = $2::uuid",
        "UPDATE backups_backupcopy SET created_at = created_at - make_interval(days => $1) \
         WHERE backup_id = $2::uuid",
    ] {
        sqlx::query(sql)
            .bind(days)
            .bind(id)
            .execute(db.pool())
            .await
            .unwrap();
    }
}

/// `celeriac prune --json --database-url DB <extra>`: exit code and report.
async fn prune(w: &World, db: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["prune", "--json", "--database-url", db];
    args.extend(extra);
    let out = w.run(&args).await;
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", stderr(&out)));
    (out.status.code(), report)
}

/// `(store, status, deleted_at is set)` of backup `id`'s copies.
async fn copy_states(db: &TestDatabase, id: &str) -> BTreeSet<(String, String, bool)> {
    let rows: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT store_name, status, deleted_at IS NOT NULL FROM backups_backupcopy \
         WHERE backup_id = $1::uuid",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await
    .unwrap();
    rows.into_iter().collect()
}

fn ids(report: &Value) -> BTreeSet<(String, String)> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["store"].as_str().unwrap().to_owned(),
                i["backup_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario in order: three backups, a dry run, a run with R2 down, its retry"
)]
async fn prune_deletes_what_is_past_each_stores_age_and_retries_a_failed_delete() {
    let db = migrated_database().await;
    let source = sample_copy();
    let r2 = S3Server::r2();
    let proxy =
        FaultProxy::start(r2.endpoint().trim_start_matches("http://").parse().unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let w = World::new(
        vec![S3Store::new("r2", &r2, &r2.via(proxy.addr())).await],
        &[&format!("local:{}", local.display()), "s3:r2"],
    );
    collect_from(&w, source.path());
    let queues = TestQueues::new();
    let queue = queues.queue("backups");
    let mut worker = start_worker(&w, &queue, db.url());
    let call = json!({"name": TASK, "timeout": 120});
    let outcomes = python_calls(&queue, &json!([call.clone(), call.clone(), call])).await;
    let _ = worker.start_kill();
    let id: Vec<String> = outcomes
        .iter()
        .map(|o| {
            o["value"]
                .as_str()
                .unwrap_or_else(|| panic!("{outcomes:?}"))
                .to_owned()
        })
        .collect();
    // The oldest is 400 days old (past both ages), the middle one 40 (past local's 30 only).
    age(&db, &id[0], 400).await;
    age(&db, &id[1], 40).await;

    let expected: BTreeSet<(String, String)> = [
        ("local".to_owned(), id[0].clone()),
        ("local".to_owned(), id[1].clone()),
        ("r2".to_owned(), id[0].clone()),
    ]
    .into_iter()
    .collect();
    let (code, dry) = prune(&w, db.url(), &["--dry-run"]).await;
    assert_eq!(code, Some(0), "{dry}");
    assert_eq!(dry["newest_verified"], json!(id[2]));
    assert_eq!(ids(&dry), expected, "{dry:#}");
    assert!(
        copy_states(&db, &id[0])
            .await
            .iter()
            .all(|(_, s, _)| s == "VERIFIED")
    );
    let files_before = walk_files(&local).len();

    // R2 is down for the real run: local deletions go through, the R2 one is marked and fails.
    proxy.set_refuse(true);
    let (code, first) = prune(&w, db.url(), &[]).await;
    assert_eq!(code, Some(1), "{first:#}");
    let failed: Vec<&Value> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| !i["error"].is_null())
        .collect();
    assert_eq!(failed.len(), 1, "{first:#}");
    assert_eq!(failed[0]["store"], "r2");
    let states = copy_states(&db, &id[0]).await;
    assert!(
        states.contains(&("local".into(), "DELETED".into(), true)),
        "{states:?}"
    );
    assert!(
        states.contains(&("r2".into(), "DELETED".into(), false)),
        "{states:?}"
    );
    // Two backups' local objects are gone (two artifacts with sidecars each listed once).
    let files_after = walk_files(&local).len();
    assert_eq!(
        files_before - files_after,
        2 * 4,
        "{files_before} -> {files_after}"
    );
    assert!(
        !walk_files(&local)
            .iter()
            .any(|p| p.to_string_lossy().contains(&id[0]))
    );
    assert!(
        walk_files(&local)
            .iter()
            .any(|p| p.to_string_lossy().contains(&id[2]))
    );

    // R2 back: the next run retries the marked copy and finds nothing else.
    proxy.set_refuse(false);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (code, second) = prune(&w, db.url(), &[]).await;
    assert_eq!(code, Some(0), "{second:#}");
    assert_eq!(
        ids(&second),
        [("r2".to_owned(), id[0].clone())].into_iter().collect()
    );
    assert_eq!(second["items"][0]["retry"], true);
    let states = copy_states(&db, &id[0]).await;
    assert!(
        states.contains(&("r2".into(), "DELETED".into(), true)),
        "{states:?}"
    );
    let left: Vec<String> = w.store("r2").bucket.keys().await;
    assert!(left.iter().all(|k| !k.contains(&id[0])), "{left:?}");
    assert!(
        left.iter().any(|k| k.contains(&id[1])),
        "R2 keeps the 40-day-old backup"
    );
    let (_, third) = prune(&w, db.url(), &[]).await;
    assert!(third["items"].as_array().unwrap().is_empty(), "{third:#}");
}
