//! `celeriac worker` seen by Python Celery's own remote-control tools: `celery inspect ping`,
//! `registered`, `active_queues` and `stats` (JSON output) list the worker with Celery's
//! fields, `celery control revoke ID` sent before the task keeps it from running (its result
//! is REVOKED), requests for other nodes are ignored, and `celery control shutdown` stops it.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::process::Stdio;
use std::time::Duration;

use celeriac_testkit::amqp::{self, TestQueues};
use celeriac_testkit::python::{Python, PythonOutput};
use serde_json::Value;
use tokio::process::{Child, Command};

const PATIENCE: Duration = Duration::from_mins(1);
const PYTHON_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/worker/python");

/// A `celeriac worker` on `queue` named `hostname`; killed on drop.
fn start_worker(queue: &str, hostname: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_celeriac"))
        .args(["worker", "-c", "3", "--hostname", hostname])
        .env("CELERIAC_BROKER_URL", amqp::amqp_url())
        .env("CELERIAC_QUEUES", queue)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// `celery -A control_app <args>` (the real Celery command line) against the test broker.
async fn celery(python: &Python, queue: &str, args: &[&str]) -> PythonOutput {
    python
        .celery(PYTHON_DIR)
        .args(["-A", "control_app"])
        .args(args)
        .env("CELERIAC_TEST_BROKER", amqp::amqp_url())
        .env("CELERIAC_TEST_QUEUE", queue)
        .output()
        .await
}

/// `celery -A control_app <kind> <command> --json -d <node>`: the node's answer (the run must
/// succeed).
async fn ask(python: &Python, queue: &str, node: &str, kind: &str, command: &[&str]) -> Value {
    let mut args = vec![kind];
    args.extend_from_slice(command);
    args.extend(["--json", "-d", node, "-t", "10"]);
    let out = celery(python, queue, &args).await;
    assert!(
        out.status.success(),
        "celery {args:?}: {}\n{}\n{}",
        out.status,
        out.stdout,
        out.stderr
    );
    let replies: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("celery {args:?} printed no JSON ({e}): {}", out.stdout));
    // `inspect` prints one object of replies, `control` a list of one-entry objects
    let answer = match &replies {
        Value::Array(list) => list.iter().find_map(|r| r.get(node)),
        other => other.get(node),
    };
    answer
        .unwrap_or_else(|| panic!("no reply from {node}: {replies}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_answers_celery_inspect_and_control_revoke() {
    let queues = TestQueues::new();
    let q = queues.queue("control");
    let node = format!("celeriac@{q}");
    let _worker = start_worker(&q, &node);
    let python = Python::find();
    python.require("celery");

    // ping doubles as the readiness wait: retry until the mailbox answers
    let ping = tokio::time::timeout(PATIENCE, async {
        loop {
            let out = celery(
                &python,
                &q,
                &["inspect", "ping", "--json", "-d", &node, "-t", "2"],
            )
            .await;
            if out.status.success() {
                return serde_json::from_str::<Value>(out.stdout.trim()).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the worker answers `celery inspect ping`");
    assert_eq!(ping, serde_json::json!({ node.clone(): {"ok": "pong"} }));

    // without a config file this worker has only the built-in celery.* tasks, which `inspect
    // registered` hides as Celery does (tests/worker/it/control.rs checks a worker with more)
    let registered = ask(&python, &q, &node, "inspect", &["registered"]).await;
    assert_eq!(registered, serde_json::json!([]), "{registered}");

    let active_queues = ask(&python, &q, &node, "inspect", &["active_queues"]).await;
    assert_eq!(active_queues[0]["name"], q.as_str(), "{active_queues}");
    assert_eq!(active_queues[0]["exchange"]["name"], q.as_str());
    assert_eq!(active_queues[0]["exchange"]["type"], "direct");
    assert_eq!(active_queues[0]["routing_key"], q.as_str());
    assert_eq!(active_queues[0]["durable"], true);

    // the revoke comes first, the task later: it must not run, and its result is REVOKED
    let id = uuid::Uuid::new_v4().to_string();
    let revoke = ask(&python, &q, &node, "control", &["revoke", &id]).await;
    assert_eq!(
        revoke,
        serde_json::json!({"ok": format!("tasks {{'{id}'}} flagged as revoked")})
    );
    let revoked = ask(&python, &q, &node, "inspect", &["revoked"]).await;
    assert_eq!(revoked, serde_json::json!([id.clone()]));
    let calls = serde_json::json!([
        {"name": "celery.accumulate", "args": [1, 2], "options": {"task_id": id}, "timeout": 30},
        {"name": "celery.accumulate", "args": [3, 4], "kwargs": {"index": -1}}
    ]);
    let out = python
        .script(format!("{PYTHON_DIR}/client.py"))
        .args(["--broker", &amqp::amqp_url(), "--queue", &q, "calls"])
        .arg(calls.to_string())
        .success()
        .await;
    let outcomes: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(outcomes[0]["id"], id.as_str());
    assert_eq!(outcomes[0]["state"], "REVOKED", "{outcomes}");
    assert_eq!(
        outcomes[0]["error"]["type"], "TaskRevokedError",
        "{outcomes}"
    );
    assert_eq!(
        outcomes[1]["value"], 4,
        "a task not revoked runs: {outcomes}"
    );

    // stats after: one task run (the revoked one is not counted), pool and broker facts
    let stats = ask(&python, &q, &node, "inspect", &["stats"]).await;
    assert_eq!(
        stats["total"],
        serde_json::json!({"celery.accumulate": 1}),
        "{stats}"
    );
    assert_eq!(stats["pool"]["max-concurrency"], 3, "{stats}");
    assert_eq!(stats["broker"]["transport"], "amqp");
    assert_eq!(stats["broker"]["port"], 5672);
    assert!(stats["pid"].as_u64().unwrap() > 0);
    assert!(stats["uptime"].is_u64() && stats["clock"].is_string());
    assert_eq!(stats["prefetch_count"], 12, "3 × the default multiplier 4");

    let unknown = ask(&python, &q, &node, "inspect", &["memsample"]).await;
    assert_eq!(
        unknown,
        serde_json::json!({"error": "KeyError('memsample')"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_answers_only_requests_addressed_to_it_and_shuts_down_on_request() {
    let queues = TestQueues::new();
    let q = queues.queue("control-dest");
    let node = format!("celeriac@{q}");
    let mut worker = start_worker(&q, &node);
    let python = Python::find();
    python.require("celery");
    tokio::time::timeout(PATIENCE, async {
        loop {
            let out = celery(&python, &q, &["inspect", "ping", "-d", &node, "-t", "2"]).await;
            if out.status.success() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("worker up");
    let other = format!("nobody@{q}");
    let out = celery(
        &python,
        &q,
        &["inspect", "ping", "--json", "-d", &other, "-t", "2"],
    )
    .await;
    assert!(
        !out.status.success() && !out.stdout.contains(&node),
        "a request for {other} is not answered by {node}: {}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(worker.try_wait().unwrap().is_none(), "still running");

    // `control shutdown` is never answered (as in Python) and stops the worker warmly
    let out = celery(
        &python,
        &q,
        &["control", "shutdown", "-d", &node, "-t", "1"],
    )
    .await;
    assert!(
        !out.status.success(),
        "no reply to shutdown: {}",
        out.stdout
    );
    let status = tokio::time::timeout(PATIENCE, worker.wait())
        .await
        .expect("the worker stops after `celery control shutdown`")
        .unwrap();
    assert!(status.success(), "{status}");
}
