//! `apps.backups.tasks.configuration_backup` end to end: a real Python Celery client sends it
//! through RabbitMQ to `celeriac worker`, the backup lands in a local directory and both S3
//! test servers, the catalog on PostgreSQL records it, and Django's ORM reads the row; manual
//! runs by anyone but an active administrator are refused and recorded.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use celeriac_testkit::amqp::{self, TestQueues};
use celeriac_testkit::db::TestDatabase;
use celeriac_testkit::python::Python;
use celeriac_testkit::s3::S3Server;
use serde_json::{Value, json};

use crate::run::stderr;
use crate::tree::{sample_copy, snapshot};
use crate::world::{S3Store, World};

pub(crate) const TASK: &str = "apps.backups.tasks.configuration_backup";

/// `auth_user` as Django creates it, reduced to the columns the administrator check reads.
/// A fresh PostgreSQL database with the catalog migrated by the binary.
pub(crate) async fn migrated_database() -> TestDatabase {
    let db = TestDatabase::create().await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_celeriac"))
        .args(["migrate", "--database-url", db.url()])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    db
}

pub(crate) async fn platform_users(db: &TestDatabase) {
    sqlx::query(
        "CREATE TABLE auth_user (id integer PRIMARY KEY, username text NOT NULL, \
         is_active boolean NOT NULL, is_superuser boolean NOT NULL)",
    )
    .execute(db.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO auth_user VALUES (1, 'admin', true, true), (2, 'staff', true, false), \
         (3, 'former-admin', false, true)",
    )
    .execute(db.pool())
    .await
    .unwrap();
}

/// Adds the keys and `root` as the one collection root to the world's config file.
pub(crate) fn collect_from(w: &World, root: &Path) {
    use std::fmt::Write as _;
    let mut text = std::fs::read_to_string(&w.config).unwrap();
    let _ = write!(
        text,
        "\n[keys]\nmain = {{ file = {:?} }}\nsecrets = {{ file = {:?} }}\n\n\
         [[collect.roots]]\npath = {:?}\n",
        w.key.display().to_string(),
        w.secrets_key.display().to_string(),
        root.display().to_string()
    );
    std::fs::write(&w.config, text).unwrap();
}

/// A world backing `source` up to a local store under `dir` (its path is returned) and to the
/// S3 stores `s3` (named `r2` and `b2`).
pub(crate) fn local_and_s3_world(
    s3: Vec<S3Store>,
    source: &Path,
    dir: &Path,
) -> (World, std::path::PathBuf) {
    let local = dir.join("local");
    let w = World::new(
        s3,
        &[&format!("local:{}", local.display()), "s3:r2", "s3:b2"],
    );
    collect_from(&w, source);
    (w, local)
}

/// Starts `celeriac worker` on `queue` with the world's config file and the catalog at `db`.
pub(crate) fn start_worker(w: &World, queue: &str, db: &str) -> tokio::process::Child {
    w.command(&["worker", "-Q", queue, "-c", "2"])
        .env("CELERIAC_BROKER_URL", amqp::amqp_url())
        .env("CELERIAC_DATABASE_URL", db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The Python client (tests/worker/python/client.py) sending `calls` to `queue`.
pub(crate) fn python_client(queue: &str, calls: &Value) -> celeriac_testkit::python::PythonCommand {
    let python = Python::find();
    python.require("celery");
    let client = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/worker/python/client.py"
    );
    python
        .script(client)
        .args(["--broker", &amqp::amqp_url(), "--queue", queue, "calls"])
        .arg(calls.to_string())
}

/// Sends `calls` with the Python client and returns its outcomes.
pub(crate) async fn python_calls(queue: &str, calls: &Value) -> Vec<Value> {
    let out = python_client(queue, calls).success().await;
    serde_json::from_str(out.stdout.trim()).unwrap()
}

/// The Django ORM's view of backup `id` (contrib/django/read_catalog.py).
pub(crate) async fn django_reads(url: &str, id: &str) -> Value {
    let python = Python::find();
    python.require("django");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../contrib/django/read_catalog.py"
    );
    let out = python
        .script(script)
        .arg(id)
        .env("CELERIAC_DJANGO_DATABASE_URL", url)
        .success()
        .await;
    serde_json::from_str(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_runs_the_task_and_django_reads_the_verified_row() {
    let db = migrated_database().await;
    platform_users(&db).await;

    let source = sample_copy();
    let (r2, b2) = (S3Server::r2(), S3Server::b2());
    let s3 = vec![
        S3Store::new("r2", &r2, &r2).await,
        S3Store::new("b2", &b2, &b2).await,
    ];
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = local_and_s3_world(s3, source.path(), dir.path());
    let queues = TestQueues::new();
    let queue = queues.queue("backups");
    let mut worker = start_worker(&w, &queue, db.url());

    let call =
        |user: i64| json!({"name": TASK, "kwargs": {"initiated_by_user_id": user}, "timeout": 120});
    let outcomes = python_calls(&queue, &json!([call(1), call(2), call(3), call(99)])).await;
    let _ = worker.start_kill();
    let id = outcomes[0]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("the admin's run returned no id: {outcomes:?}"))
        .to_owned();
    for (refused, reason) in outcomes[1..].iter().zip([
        "not an active platform administrator",
        "not an active platform administrator",
        "no platform user has this id",
    ]) {
        assert_eq!(refused["error"]["type"], "PermissionError", "{refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains(reason),
            "{refused}"
        );
    }

    let seen = django_reads(db.url(), &id).await;
    let local_path = check_verified_row(&seen, &outcomes[0]);
    // The local copy restores the tree (the .env sanitized; its real values in the bundle).
    let restored = w.path("restored");
    let out = w
        .run(&[
            "restore",
            &local_path,
            "--to",
            restored.to_str().unwrap(),
            "--key-file",
            w.key.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (want, got) = (snapshot(source.path()), snapshot(&restored));
    assert_eq!(
        want.get("docker-compose.yml"),
        got.get("docker-compose.yml"),
        "restored tree differs"
    );
    assert!(got.contains_key("nginx/nginx.conf"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_source_fails_with_an_alert_and_a_redelivered_task_id_is_one_backup() {
    let db = migrated_database().await;
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("notes.txt"), "not configuration").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let w = World::new(Vec::new(), &[&format!("local:{}", local.display())]);
    collect_from(&w, empty.path());
    let queues = TestQueues::new();
    let queue = queues.queue("backups");
    let mut worker = start_worker(&w, &queue, db.url());
    let task_id = uuid::Uuid::new_v4().to_string();
    let call = json!({"name": TASK, "options": {"task_id": task_id}, "timeout": 120});
    // The same task id twice: the second delivery finds the finished row.
    let outcomes = python_calls(&queue, &json!([call.clone()])).await;
    let again = python_calls(&queue, &json!([call])).await;
    let _ = worker.start_kill();
    let id = outcomes[0]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{outcomes:?}"));
    assert_eq!(again[0]["value"], outcomes[0]["value"]);

    let seen = django_reads(db.url(), id).await;
    assert_eq!(seen["status"], "FAILED", "{seen}");
    assert_eq!(seen["trigger"], "SCHEDULE");
    assert!(seen["initiated_by_id"].is_null());
    assert_eq!(seen["newest_first"].as_array().unwrap().len(), 1, "{seen}");
    let failures: Vec<&Value> = seen["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a[0] == "BACKUP_FAILURE")
        .collect();
    assert_eq!(failures.len(), 1, "{seen}");
    assert_eq!(failures[0][1], "CRITICAL");
    assert!(
        failures[0][3]
            .as_str()
            .unwrap()
            .contains("no configuration files found"),
        "{seen}"
    );
    // Nothing stored for a failed run.
    let leftovers: Vec<_> = walk_files(&local);
    assert!(leftovers.is_empty(), "{leftovers:?}");
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// The Django view of the admin's run: VERIFIED with every platform field, three verified
/// copies, one `ACCESS_DENIED` alert per refused user and no other row. Returns `local_path`.
fn check_verified_row(seen: &Value, call: &Value) -> String {
    assert_eq!(seen["status"], "VERIFIED", "{seen}");
    assert_eq!(seen["trigger"], "MANUAL");
    assert_eq!(seen["initiated_by_id"], 1);
    assert_eq!(seen["celery_task_id"], call["id"]);
    let filename = seen["filename"].as_str().unwrap();
    assert!(
        filename.starts_with("backup_configuration_") && filename.ends_with(".tar.gz.enc"),
        "{filename}"
    );
    assert!(seen["file_size"].as_u64().unwrap() > 0);
    assert!(seen["size_mb"].as_f64().is_some());
    assert!(seen["files_collected"].as_u64().unwrap() >= 10, "{seen}");
    assert!(
        seen["file_categories"]["docker"].as_u64().unwrap() > 0,
        "{seen}"
    );
    // The rest of the report's facts, as Django reads them, each with a value.
    let keys = seen["metadata_keys"].as_array().unwrap();
    for key in [
        "bytes",
        "categories",
        "file_list_sha256",
        "left_out",
        "main",
        "secrets_suspected",
        "skipped",
        "stores",
        "timings",
    ] {
        assert!(
            keys.iter().any(|k| k == key),
            "metadata lacks {key}: {seen}"
        );
    }
    assert_eq!(seen["metadata_null_keys"], json!([]), "{seen}");
    let paths: Vec<&str> = seen["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(paths.iter().all(|p| p.ends_with(filename)), "{paths:?}");
    assert!(Path::new(paths[0]).is_file(), "local_path {}", paths[0]);
    let copies = seen["copies"].as_array().unwrap();
    assert_eq!(copies.len(), 3, "{seen}");
    assert!(copies.iter().all(|c| c[2] == "VERIFIED"), "{copies:?}");
    let denied: Vec<&Value> = seen["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a[0] == "ACCESS_DENIED")
        .collect();
    assert_eq!(denied.len(), 3, "{seen}");
    assert!(denied.iter().all(|a| a[2].is_null()));
    let users: Vec<i64> = denied
        .iter()
        .map(|a| a[4]["user_id"].as_i64().unwrap())
        .collect();
    assert!(users.contains(&2) && users.contains(&3) && users.contains(&99));
    // One backup row: the refused runs made none.
    assert_eq!(seen["newest_first"].as_array().unwrap().len(), 1, "{seen}");

    paths[0].to_owned()
}

pub(crate) fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tasks_at_once_run_one_after_the_other() {
    let db = migrated_database().await;
    let source = sample_copy();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let w = World::new(Vec::new(), &[&format!("local:{}", local.display())]);
    collect_from(&w, source.path());
    let queues = TestQueues::new();
    let queue = queues.queue("backups");
    // Two task slots: without the lock both backups would run at the same time.
    let mut worker = start_worker(&w, &queue, db.url());
    let call = json!({"name": TASK, "timeout": 120});
    let outcomes = python_calls(&queue, &json!([call.clone(), call])).await;
    let _ = worker.start_kill();
    let mut windows = Vec::new();
    for outcome in &outcomes {
        let id = outcome["value"]
            .as_str()
            .unwrap_or_else(|| panic!("{outcomes:?}"));
        let seen = django_reads(db.url(), id).await;
        assert_eq!(seen["status"], "VERIFIED", "{seen}");
        let time = |field: &str| {
            chrono::DateTime::parse_from_rfc3339(seen[field].as_str().unwrap()).unwrap()
        };
        windows.push((time("started_at"), time("completed_at")));
    }
    windows.sort();
    assert!(
        windows[0].1 <= windows[1].0,
        "the two backups overlapped: {windows:?}"
    );
}

#[tokio::test]
async fn a_bad_admin_query_stops_the_worker_with_exit_78() {
    let source = sample_copy();
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(Vec::new(), &[&format!("local:{}", dir.path().display())]);
    collect_from(&w, source.path());
    let mut text = std::fs::read_to_string(&w.config).unwrap();
    text.push_str("\n[job]\nadmin-query = \"SELECT true FROM auth_user WHERE id = ?\"\n");
    std::fs::write(&w.config, text).unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = w
        .command(&["worker", "-Q", "unused"])
        .env("CELERIAC_BROKER_URL", amqp::amqp_url())
        .env("CELERIAC_HOME", home.path())
        .env_remove("CELERIAC_DATABASE_URL")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[job] admin-query"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("must bind the user id as $1"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_collect_roots_the_project_root_and_readable_system_folders_are_backed_up() {
    let db = migrated_database().await;
    let source = sample_copy();
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(Vec::new(), &[&format!("local:{}", dir.path().display())]);
    let text = format!(
        "{}\n[keys]\nmain = {{ file = {:?} }}\n\n[job]\nproject-root = {:?}\n",
        std::fs::read_to_string(&w.config).unwrap(),
        w.key.display().to_string(),
        source.path().display().to_string()
    );
    std::fs::write(&w.config, text).unwrap();
    let queues = TestQueues::new();
    let queue = queues.queue("backups");
    let mut worker = start_worker(&w, &queue, db.url());
    let outcomes = python_calls(&queue, &json!([{"name": TASK, "timeout": 120}])).await;
    let _ = worker.start_kill();
    let id = outcomes[0]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{outcomes:?}"));
    let seen = django_reads(db.url(), id).await;
    assert_eq!(seen["status"], "VERIFIED", "{seen}");
    assert!(
        seen["file_categories"]["docker"].as_u64().unwrap() > 0,
        "{seen}"
    );
}
