//! Remote control of a worker with a running task, through Python Celery's own command line:
//! `inspect registered` lists the tasks, `inspect active` and `inspect query_task` show the
//! running task with the fields of Celery's `Request.info()`, and `control terminate` (revoke
//! with terminate) stops it through its cancellation token, the client's result being REVOKED.

use std::path::PathBuf;
use std::time::Duration;

use celeriac_testkit::amqp::{self, TestQueues};
use celeriac_testkit::python::Python;
use serde_json::{Value, json};

use crate::support::{PATIENCE, WorkerProcess, WorkerSpec, client_script};

pub fn python_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// `celery -A control_app <args> --json -d <node>`; the parsed output, or `None` when the run
/// failed (no node replied).
pub async fn remote(python: &Python, queue: &str, node: &str, args: &[&str]) -> Option<Value> {
    let out = python
        .celery(python_dir())
        .args(["-A", "control_app"])
        .args(args)
        .args(["--json", "-d", node, "-t", "5"])
        .env("CELERIAC_TEST_BROKER", amqp::amqp_url())
        .env("CELERIAC_TEST_QUEUE", queue)
        .output()
        .await;
    out.status.success().then(|| {
        serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("celery {args:?} printed no JSON ({e}): {}", out.stdout))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_active_and_terminate_a_running_task() {
    let queues = TestQueues::new();
    let q = queues.queue("control-it");
    let node = format!("celeriac-test@{q}");
    let worker = WorkerProcess::start(WorkerSpec {
        hostname: Some(node.clone()),
        concurrency: Some(2),
        ..WorkerSpec::queue(&q)
    })
    .await;
    let python = Python::find();
    python.require("celery");

    let registered = remote(&python, &q, &node, &["inspect", "registered"])
        .await
        .expect("the worker answers inspect registered");
    let names = registered[&node].as_array().unwrap();
    assert!(
        names.contains(&json!("tests.add")) && names.contains(&json!("tests.wait_cancel")),
        "{registered}"
    );

    // a task that runs until it is cancelled, sent by the real client, which waits for it
    let id = uuid::Uuid::new_v4().to_string();
    let calls = json!([{"name": "tests.wait_cancel", "options": {"task_id": id}, "timeout": 60}]);
    let client = python
        .script(client_script())
        .args(["--broker", &amqp::amqp_url(), "--queue", &q, "calls"])
        .arg(calls.to_string())
        .spawn();

    let active = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(reply) = remote(&python, &q, &node, &["inspect", "active"]).await
                && reply[&node].as_array().is_some_and(|a| !a.is_empty())
            {
                return reply[&node][0].clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the running task shows in inspect active");
    assert_eq!(active["id"], id.as_str(), "{active}");
    assert_eq!(active["name"], "tests.wait_cancel");
    assert_eq!(active["type"], "tests.wait_cancel");
    assert_eq!(active["hostname"], node.as_str());
    assert_eq!(active["args"], json!([]));
    assert_eq!(
        active["acknowledged"], false,
        "acks_late: not acked while running"
    );
    assert!(active["time_start"].as_f64().unwrap() > 1.0e9, "{active}");
    assert_eq!(active["delivery_info"]["routing_key"], q.as_str());
    assert_eq!(active["delivery_info"]["redelivered"], false);
    assert_eq!(active["worker_pid"], worker.pid());

    let query = remote(&python, &q, &node, &["inspect", "query_task", &id])
        .await
        .unwrap();
    assert_eq!(query[&node][&id][0], "active", "{query}");
    assert_eq!(query[&node][&id][1]["id"], id.as_str());

    let terminate = remote(
        &python,
        &q,
        &node,
        &["control", "terminate", "SIGTERM", &id],
    )
    .await
    .unwrap();
    assert_eq!(
        terminate,
        json!([{ node.clone(): {"ok": format!("terminate: {id}")} }])
    );
    let out = tokio::time::timeout(PATIENCE, client.wait_with_output())
        .await
        .expect("the client's result arrives")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let outcomes: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("client printed no JSON ({e}): {stdout}"));
    assert_eq!(outcomes[0]["state"], "REVOKED", "{outcomes}");
    assert_eq!(
        outcomes[0]["error"]["type"], "TaskRevokedError",
        "{outcomes}"
    );
    worker
        .wait_for_log("task terminated by remote control")
        .await;
    let active = remote(&python, &q, &node, &["inspect", "active"])
        .await
        .unwrap();
    assert_eq!(active[&node], json!([]), "nothing runs any more");
}
