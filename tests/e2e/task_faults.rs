//! The configuration backup task under faults, with real services: the worker killed in the
//! middle of an upload (the redelivered message finishes the same backup, and no store keeps an
//! object the catalog does not list), one S3 store down for the whole run (PARTIAL and an alert
//! naming it), every store down (FAILED), and the catalog's database cut mid-run.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use celeriac_testkit::amqp::TestQueues;
use celeriac_testkit::proxy::FaultProxy;
use celeriac_testkit::s3::S3Server;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt as _;

use crate::task::{
    TASK, collect_from, django_reads, local_and_s3_world, migrated_database, python_calls,
    python_client, start_worker, walk_files,
};
use crate::tree::sample_copy;
use crate::world::{S3Store, World};

const PATIENCE: Duration = Duration::from_mins(5);

fn addr(endpoint: &str) -> std::net::SocketAddr {
    endpoint.trim_start_matches("http://").parse().unwrap()
}

/// Every key in `store` of the world.
async fn bucket_keys(w: &World, store: &str) -> BTreeSet<String> {
    w.store(store).bucket.keys().await.into_iter().collect()
}

/// The keys of every file under a local store's directory.
fn local_keys(root: &Path) -> BTreeSet<String> {
    walk_files(root)
        .into_iter()
        .map(|p| p.strip_prefix(root).unwrap().display().to_string())
        .collect()
}

/// The object keys a backup's copy rows name, with their sidecars and the secrets bundle
/// beside them (same folder), as a store should hold them.
fn expected_keys(seen: &Value, store: &str) -> BTreeSet<String> {
    let key = seen["copy_keys"][store]
        .as_str()
        .unwrap_or_else(|| panic!("no copy row for {store}: {seen}"))
        .to_owned();
    let secrets = key.replace(".tar.gz.enc", ".secrets.tar.gz.enc");
    [
        key.clone(),
        format!("{key}.sha256"),
        secrets.clone(),
        format!("{secrets}.sha256"),
    ]
    .into_iter()
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_upload_leaves_one_verified_backup_and_no_stray_object() {
    let db = migrated_database().await;
    let source = sample_copy();
    let (r2, b2) = (S3Server::r2(), S3Server::b2());
    let proxy = FaultProxy::start(addr(r2.endpoint())).await;
    let s3 = vec![
        S3Store::new("r2", &r2, &r2.via(proxy.addr())).await,
        S3Store::new("b2", &b2, &b2).await,
    ];
    let dir = tempfile::tempdir().unwrap();
    let (w, local) = local_and_s3_world(s3, source.path(), dir.path());
    let queues = TestQueues::new();
    let queue = queues.queue("backups");

    // R2 crawls: the first worker is surely inside the upload when it is killed.
    proxy.set_delay(Duration::from_millis(400));
    let mut first = start_worker(&w, &queue, db.url());
    let call = json!([{"name": TASK, "timeout": 300}]);
    let client = python_client(&queue, &call).spawn();
    tokio::time::timeout(PATIENCE, proxy.wait_until(|s| s.bytes_forwarded > 0))
        .await
        .expect("the upload to R2 started");
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    proxy.set_delay(Duration::ZERO);
    proxy.cut_all();

    // The message comes back to the queue; a new worker takes the same backup over.
    let mut second = start_worker(&w, &queue, db.url());
    let out = tokio::time::timeout(PATIENCE, client.wait_with_output())
        .await
        .expect("the client got its answer")
        .unwrap();
    let _ = second.start_kill();
    let mut logs = String::new();
    if let Some(mut err) = second.stderr.take() {
        let _ = tokio::time::timeout(Duration::from_secs(5), err.read_to_string(&mut logs)).await;
    }
    assert!(
        logs.contains("taking over an unfinished earlier attempt"),
        "the second worker did not resume the first one's backup:\n{logs}"
    );
    let outcomes: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "client printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let id = outcomes[0]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{outcomes:?}"));
    let seen = django_reads(db.url(), id).await;
    assert_eq!(seen["status"], "VERIFIED", "{seen}");
    assert_eq!(seen["newest_first"].as_array().unwrap().len(), 1, "{seen}");
    // Every store holds exactly what the catalog lists for this backup.
    assert_eq!(local_keys(&local), expected_keys(&seen, "local"));
    assert_eq!(bucket_keys(&w, "r2").await, expected_keys(&seen, "r2"));
    assert_eq!(bucket_keys(&w, "b2").await, expected_keys(&seen, "b2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_s3_store_down_is_partial_and_every_store_down_is_failed() {
    let db = migrated_database().await;
    let source = sample_copy();
    let (r2, b2) = (S3Server::r2(), S3Server::b2());
    let down = FaultProxy::start(addr(b2.endpoint())).await;
    down.set_refuse(true);
    let s3 = vec![
        S3Store::new("r2", &r2, &r2).await,
        S3Store::new("b2", &b2, &b2.via(down.addr())).await,
    ];
    let w = World::new(s3, &["s3:r2", "s3:b2"]);
    collect_from(&w, source.path());
    let queues = TestQueues::new();
    let queue = queues.queue("backups");
    let mut worker = start_worker(&w, &queue, db.url());
    let call = json!([{"name": TASK, "timeout": 300}]);
    let partial = python_calls(&queue, &call).await;
    let _ = worker.start_kill();
    worker.wait().await.unwrap();

    let r2_down = FaultProxy::start(addr(r2.endpoint())).await;
    r2_down.set_refuse(true);
    let s3 = vec![
        S3Store::new("r2", &r2, &r2.via(r2_down.addr())).await,
        S3Store::new("b2", &b2, &b2.via(down.addr())).await,
    ];
    let all_down = World::new(s3, &["s3:r2", "s3:b2"]);
    collect_from(&all_down, source.path());
    let mut worker = start_worker(&all_down, &queue, db.url());
    let failed = python_calls(&queue, &call).await;
    let _ = worker.start_kill();

    let id = partial[0]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{partial:?}"));
    let seen = django_reads(db.url(), id).await;
    assert_eq!(seen["status"], "PARTIAL", "{seen}");
    let alert = backup_alert(&seen, id, "BACKUP_FAILURE");
    assert_eq!(alert[1], "WARNING");
    assert!(alert[3].as_str().unwrap().contains("b2"), "{alert}");
    assert!(!alert[3].as_str().unwrap().contains("r2"), "{alert}");
    assert!(seen["paths"][1].as_str().unwrap().ends_with(".tar.gz.enc"));
    assert_eq!(seen["paths"][2], "", "no verified copy in b2, no b2_path");

    let id = failed[0]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{failed:?}"));
    let seen = django_reads(db.url(), id).await;
    assert_eq!(seen["status"], "FAILED", "{seen}");
    let alert = backup_alert(&seen, id, "BACKUP_FAILURE");
    assert_eq!(alert[1], "CRITICAL");
    assert!(
        bucket_keys(&all_down, "r2")
            .await
            .iter()
            .all(|k| !k.contains(id))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_cut_mid_run_still_records_the_right_status() {
    let db = migrated_database().await;
    let pg: std::net::SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = FaultProxy::start(pg).await;
    let via_proxy = db
        .url()
        .replace("127.0.0.1:5432", &proxy.addr().to_string());
    assert_ne!(via_proxy, db.url(), "the database URL names 127.0.0.1:5432");
    let source = sample_copy();
    let r2 = S3Server::r2();
    let slow = FaultProxy::start(addr(r2.endpoint())).await;
    let s3 = vec![S3Store::new("r2", &r2, &r2.via(slow.addr())).await];
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let w = World::new(s3, &[&format!("local:{}", local.display()), "s3:r2"]);
    collect_from(&w, source.path());
    let queues = TestQueues::new();
    let queue = queues.queue("backups");
    let mut worker = start_worker(&w, &queue, &via_proxy);
    // Slow uploads keep the run going while the database goes away and comes back.
    slow.set_delay(Duration::from_millis(200));
    let client = python_client(&queue, &json!([{"name": TASK, "timeout": 300}])).spawn();
    tokio::time::timeout(PATIENCE, slow.wait_until(|s| s.bytes_forwarded > 0))
        .await
        .expect("the upload started");
    proxy.set_refuse(true);
    proxy.cut_all();
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.set_refuse(false);
    slow.set_delay(Duration::ZERO);
    let out = tokio::time::timeout(PATIENCE, client.wait_with_output())
        .await
        .expect("the client got its answer")
        .unwrap();
    let _ = worker.start_kill();
    let mut logs = String::new();
    if let Some(mut err) = worker.stderr.take() {
        let _ = tokio::time::timeout(Duration::from_secs(5), err.read_to_string(&mut logs)).await;
    }
    let outcomes: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let id = outcomes[0]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{outcomes:?}\n{logs}"));
    let seen = django_reads(db.url(), id).await;
    assert_eq!(seen["status"], "VERIFIED", "{seen}\n{logs}");
    assert!(
        proxy.stats().refused > 0 || proxy.stats().cut > 0,
        "the database was never cut"
    );
}

/// The alert of `kind` raised for backup `id`.
fn backup_alert<'a>(seen: &'a Value, id: &str, kind: &str) -> &'a Value {
    seen["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a[0] == kind && a[2] == id)
        .unwrap_or_else(|| panic!("no {kind} alert for {id}: {seen}"))
}
