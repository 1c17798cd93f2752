//! Events of retries and terminations, and their remote control, seen by Celery's own event
//! receiver and state machine (`tests/worker/python/events_probe.py`): a worker started without
//! task events sends none until `celery control enable_events`; a task that retries twice shows
//! two `task-retried` and three `task-received` (retries 0, 1, 2) and ends SUCCESS; a running
//! task stopped by `control terminate` is `task-revoked` with `terminated`; `disable_events`
//! stops task events again; `celery control heartbeat` sends a `worker-heartbeat` at once.

use std::time::Duration;

use celeriac_testkit::amqp::{self, TestQueues};
use celeriac_testkit::events_probe::EventsProbe;
use celeriac_testkit::python::Python;
use serde_json::{Value, json};

use crate::control::remote;
use crate::support::{PATIENCE, WorkerProcess, WorkerSpec, client_script, python_calls};

/// `celery -A control_app control <args>`: the node's reply.
async fn control(python: &Python, queue: &str, node: &str, args: &[&str]) -> Value {
    let command: Vec<&str> = std::iter::once("control")
        .chain(args.iter().copied())
        .collect();
    let replies = remote(python, queue, node, &command)
        .await
        .unwrap_or_else(|| panic!("celery control {args:?} got no reply"));
    replies
        .as_array()
        .and_then(|list| list.iter().find_map(|r| r.get(node)))
        .unwrap_or_else(|| panic!("no reply from {node}: {replies}"))
        .clone()
}

fn events_of<'a>(report: &'a Value, kind: &str, id: &str) -> Vec<&'a Value> {
    report["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind && (id.is_empty() || e["uuid"] == id))
        .collect()
}

/// Sends `tests.wait_cancel` and terminates it once it runs; returns its id.
async fn terminate_a_running_task(python: &Python, q: &str, node: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let calls = json!([{"name": "tests.wait_cancel", "options": {"task_id": id}, "timeout": 60}]);
    let client = python
        .script(client_script())
        .args(["--broker", &amqp::amqp_url(), "--queue", q, "calls"])
        .arg(calls.to_string())
        .spawn();
    let terminated = tokio::time::timeout(PATIENCE, async {
        loop {
            let reply = control(python, q, node, &["terminate", "SIGTERM", &id]).await;
            if reply == json!({"ok": format!("terminate: {id}")}) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(terminated.is_ok(), "the task ran and was terminated");
    let out = tokio::time::timeout(PATIENCE, client.wait_with_output())
        .await
        .expect("the client's result arrives")
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("REVOKED"));
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_events_of_retries_and_terminations_switched_by_remote_control() {
    let queues = TestQueues::new();
    let q = queues.queue("events-it");
    let node = format!("celeriac-test@{q}");
    let python = Python::find();
    python.require("celery");
    let probe = EventsProbe::start(&python, &node, &[]).await;
    let mut worker = WorkerProcess::start(WorkerSpec {
        hostname: Some(node.clone()),
        concurrency: Some(2),
        ..WorkerSpec::queue(&q)
    })
    .await;

    let quiet = python_calls(&q, &[], &json!([{"name": "tests.add", "args": [1, 2]}])).await;
    let enabled = control(&python, &q, &node, &["enable_events"]).await;
    assert_eq!(enabled, json!({"ok": "task events enabled"}));
    let flaky = python_calls(&q, &[], &json!([{"name": "tests.flaky"}])).await;
    assert_eq!(flaky[0]["value"], json!({"retries": 2}), "{flaky:?}");
    let terminated = terminate_a_running_task(&python, &q, &node).await;
    let disabled = control(&python, &q, &node, &["disable_events"]).await;
    assert_eq!(disabled, json!({"ok": "task events disabled"}));
    let quiet_again = python_calls(&q, &[], &json!([{"name": "tests.add", "args": [2, 3]}])).await;
    worker.signal("TERM");
    worker.wait_exit().await;
    let report = probe.report().await;

    for id in [&quiet[0]["id"], &quiet_again[0]["id"]] {
        let id = id.as_str().unwrap();
        assert!(
            report["events"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["uuid"] != id),
            "no task events while they are off ({id})"
        );
    }
    let id = flaky[0]["id"].as_str().unwrap();
    let received: Vec<&Value> = events_of(&report, "task-received", id);
    let attempts: Vec<&Value> = received.iter().map(|e| &e["retries"]).collect();
    assert_eq!(attempts, [&json!(0), &json!(1), &json!(2)], "{received:?}");
    let retried = events_of(&report, "task-retried", id);
    assert_eq!(retried.len(), 2, "{retried:?}");
    assert_eq!(retried[0]["exception"], "RuntimeError('flaky attempt 0')");
    assert_eq!(retried[0]["traceback"], "RuntimeError: flaky attempt 0\n");
    assert_eq!(report["tasks"][id]["state"], "SUCCESS", "{report}");
    assert_eq!(report["tasks"][id]["retries"], 2);

    let revoked = events_of(&report, "task-revoked", &terminated);
    assert_eq!(revoked.len(), 1, "{report}");
    assert_eq!(revoked[0]["terminated"], true);
    assert_eq!(revoked[0]["signum"], 15);
    assert_eq!(revoked[0]["expired"], false);
    assert_eq!(report["tasks"][&terminated]["state"], "REVOKED");
    assert!(!events_of(&report, "task-started", &terminated).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_heartbeat_sends_one_at_once() {
    let queues = TestQueues::new();
    let q = queues.queue("events-beat");
    let node = format!("celeriac-test@{q}");
    let python = Python::find();
    python.require("celery");
    let probe = EventsProbe::start(&python, &node, &["--until", "worker-heartbeat"]).await;
    // no heartbeats of its own: the one the probe sees is the one asked for
    let _worker = WorkerProcess::start(WorkerSpec {
        hostname: Some(node.clone()),
        config_toml: Some("without-heartbeat = true\n".to_owned()),
        ..WorkerSpec::queue(&q)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reply = control(&python, &q, &node, &["heartbeat"]).await;
    assert_eq!(
        reply,
        Value::Null,
        "Celery's heartbeat command returns None"
    );
    let report = probe.report().await;
    let events = report["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "only the requested heartbeat: {events:?}");
    assert_eq!(events[0]["type"], "worker-heartbeat");
    assert_eq!(events[0]["sw_ident"], "celeriac");
    assert!(events[0]["processed"].is_u64());
}
