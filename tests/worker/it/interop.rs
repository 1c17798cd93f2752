//! The real Python Celery client (`send_task`, `delay`, `result.get()`) against the worker.

use celeriac_testkit::amqp::TestQueues;
use serde_json::{Value, json};

use crate::support::{WorkerProcess, WorkerSpec, python_calls};

fn value(outcome: &Value) -> &Value {
    assert!(outcome.get("error").is_none(), "call failed: {outcome}");
    &outcome["value"]
}

fn error(outcome: &Value) -> &Value {
    outcome
        .get("error")
        .unwrap_or_else(|| panic!("call should have failed: {outcome}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_get_returns_values_for_args_kwargs_unicode_and_nested_json() {
    let queues = TestQueues::new();
    let q = queues.queue("interop");
    let _worker = WorkerProcess::start(WorkerSpec::queue(&q)).await;
    let nested = json!({"a": [1, 2.5, {"b": null, "c": [true, false]}], "ünï": "ç🚀", "n": -7});
    let calls = json!([
        {"name": "tests.add", "args": [2, 3]},
        {"name": "tests.add", "args": [40, 2], "via": "delay"},
        {"name": "tests.add", "args": [1], "kwargs": {}, "via": "send_task"},
        {"name": "tests.echo", "args": ["héllo wörld ✓", nested.clone()], "kwargs": {"k": "日本語", "deep": nested.clone()}},
        {"name": "tests.echo", "args": [], "kwargs": {"x": [1, [2, [3, [4]]]]}, "via": "delay"},
        {"name": "celery.accumulate", "args": [1, "two", [3]]},
        {"name": "celery.accumulate", "args": [10, 20, 30], "kwargs": {"index": 1}},
    ]);
    let out = python_calls(&q, &[], &calls).await;
    assert_eq!(value(&out[0]), &json!(5));
    assert_eq!(value(&out[1]), &json!(42));
    // a missing argument is a TypeError, as Python would raise
    assert_eq!(error(&out[2])["type"], "TypeError", "{}", out[2]);
    assert_eq!(
        value(&out[3]),
        &json!({"args": ["héllo wörld ✓", nested], "kwargs": {"k": "日本語", "deep": nested}})
    );
    assert_eq!(
        value(&out[4]),
        &json!({"args": [], "kwargs": {"x": [1, [2, [3, [4]]]]}})
    );
    assert_eq!(value(&out[5]), &json!([1, "two", [3]]));
    assert_eq!(value(&out[6]), &json!(20));
    for o in &out {
        assert_ne!(o["state"], "PENDING", "{o}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_task_raises_not_registered_and_failures_raise_their_type() {
    let queues = TestQueues::new();
    let q = queues.queue("interop-err");
    let worker = WorkerProcess::start(WorkerSpec::queue(&q)).await;
    let calls = json!([
        {"name": "no.such.task", "args": [1]},
        {"name": "tests.fail", "args": ["disk full"]},
        {"name": "tests.fail_builtin", "args": ["bad value"]},
        {"name": "tests.add", "args": ["x", 1]},
        {"name": "tests.sleep", "args": [30], "options": {"time_limit": 1}},
        {"name": "tests.wait_cancel", "args": [], "options": {"soft_time_limit": 0.5}},
    ]);
    let out = python_calls(&q, &[], &calls).await;
    let e = error(&out[0]);
    assert!(e["is_not_registered"].as_bool().unwrap_or(false), "{e}");
    assert_eq!(e["type"], "NotRegistered");
    assert_eq!(out[0]["state"], "FAILURE");
    let e = error(&out[1]);
    assert_eq!(e["type"], "BackupFailed", "{e}");
    assert_eq!(e["message"], "disk full");
    assert!(
        e["mro"].as_array().unwrap().contains(&json!("Exception")),
        "{e}"
    );
    let e = error(&out[2]);
    assert_eq!(
        (e["type"].as_str(), e["module"].as_str()),
        (Some("ValueError"), Some("builtins"))
    );
    assert_eq!(e["message"], "bad value");
    assert_eq!(error(&out[3])["type"], "TypeError");
    assert_eq!(error(&out[4])["type"], "TimeLimitExceeded", "{}", out[4]);
    assert_eq!(value(&out[5]), &json!("stopped at the soft time limit"));
    worker
        .wait_for_logs(&["received unregistered task", "no.such.task"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn countdown_runs_no_earlier_than_asked_and_expired_tasks_are_revoked() {
    let queues = TestQueues::new();
    let q = queues.queue("interop-eta");
    let _worker = WorkerProcess::start(WorkerSpec::queue(&q)).await;
    let calls = json!([
        {"name": "tests.now", "options": {"countdown": 2}},
        // held for its eta, expired by then: never run, answered REVOKED
        {"name": "tests.now", "options": {"countdown": 3, "expires": 1}},
        {"name": "tests.now"},
    ]);
    let out = python_calls(&q, &[], &calls).await;
    let ran_at = value(&out[0]).as_f64().expect("a timestamp");
    let sent_at = out[0]["sent_at"].as_f64().expect("a timestamp");
    assert!(
        ran_at >= sent_at + 2.0,
        "ran at {ran_at}, sent at {sent_at} with countdown 2"
    );
    let e = error(&out[1]);
    assert_eq!(e["type"], "TaskRevokedError", "{e}");
    assert_eq!(out[1]["state"], "REVOKED");
    assert!(value(&out[2]).is_number());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_v1_messages_run() {
    let queues = TestQueues::new();
    let q = queues.queue("interop-v1");
    let _worker = WorkerProcess::start(WorkerSpec::queue(&q)).await;
    let calls = json!([
        {"name": "tests.add", "args": [20, 22]},
        {"name": "tests.echo", "args": ["ü"], "kwargs": {"k": [1, {"n": null}]}},
        {"name": "no.such.task", "args": []},
    ]);
    let out = python_calls(&q, &["--protocol", "1"], &calls).await;
    assert_eq!(value(&out[0]), &json!(42));
    assert_eq!(
        value(&out[1]),
        &json!({"args": ["ü"], "kwargs": {"k": [1, {"n": null}]}})
    );
    assert_eq!(error(&out[2])["type"], "NotRegistered");
}
