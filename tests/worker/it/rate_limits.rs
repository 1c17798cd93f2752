//! Per-task rate limits and time limits on the real broker: `rate-limit` in the config file
//! spaces the runs of a task (checked as a lower bound only) without holding back other tasks,
//! and Python Celery's `celery control rate_limit` / `time_limit` change them at runtime with
//! Celery's answers.

use celeriac_testkit::amqp::TestQueues;
use celeriac_testkit::python::Python;
use serde_json::{Value, json};

use crate::control::remote;
use crate::support::{WorkerProcess, WorkerSpec, python_calls};

/// Tolerance for comparing the worker's wall-clock readings with a monotonic-clock spacing.
const CLOCK_SLACK: f64 = 0.02;

/// The start times `tests.now` returned, in order, after checking every call succeeded.
fn start_times(outcomes: &[Value], count: usize) -> Vec<f64> {
    let mut times: Vec<f64> = outcomes
        .iter()
        .filter(|o| o["value"].is_f64())
        .map(|o| o["value"].as_f64().unwrap())
        .collect();
    assert_eq!(times.len(), count, "{outcomes:?}");
    times.sort_by(f64::total_cmp);
    times
}

fn assert_spaced(times: &[f64], interval: f64) {
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= interval - CLOCK_SLACK,
            "runs {gap:.3} s apart, expected ≥ {interval} s: {times:?}"
        );
    }
}

fn now_calls(n: usize) -> Vec<Value> {
    (0..n)
        .map(|_| json!({"name": "tests.now", "timeout": 60}))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_rate_limit_spaces_runs_and_holds_back_no_other_task() {
    let queues = TestQueues::new();
    let q = queues.queue("rate-config");
    let worker = WorkerProcess::start(WorkerSpec {
        concurrency: Some(4),
        config_toml: Some("[task.\"tests.now\"]\nrate-limit = \"2/s\"\n".to_owned()),
        ..WorkerSpec::queue(&q)
    })
    .await;
    let mut calls = now_calls(5);
    calls.push(json!({"name": "tests.add", "args": [20, 22], "timeout": 60}));
    let started = std::time::Instant::now();
    let out = python_calls(&q, &[], &Value::from(calls)).await;
    for o in &out {
        assert_eq!(o["state"], "SUCCESS", "{out:?}");
    }
    assert_eq!(out[5]["value"], 42);
    let times = start_times(&out[..5], 5);
    assert_spaced(&times, 0.5);
    assert!(
        started.elapsed().as_secs_f64() >= 2.0 - CLOCK_SLACK,
        "five runs at 2/s take at least 2 s"
    );
    // the other task, sent last, did not wait behind the rate-limited ones
    let logs = worker.logs();
    let position = |needle: &str| {
        logs.iter()
            .enumerate()
            .filter(|(_, l)| l.contains("task started") && l.contains(needle))
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
    };
    let add = position("tests.add");
    let now = position("tests.now");
    assert_eq!((add.len(), now.len()), (1, 5));
    assert!(
        add[0] < now[4],
        "tests.add waited for the rate limit of tests.now"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_through_remote_control() {
    let queues = TestQueues::new();
    let q = queues.queue("rate-control");
    let node = format!("celeriac-test@{q}");
    let _worker = WorkerProcess::start(WorkerSpec {
        hostname: Some(node.clone()),
        concurrency: Some(4),
        ..WorkerSpec::queue(&q)
    })
    .await;
    let python = Python::find();
    python.require("celery");
    let control = |args: &'static [&'static str]| {
        let (python, q, node) = (&python, &q, &node);
        async move {
            let reply = remote(python, q, node, args)
                .await
                .unwrap_or_else(|| panic!("no answer to {args:?}"));
            reply[0][node].clone()
        }
    };
    assert_eq!(
        control(&["control", "rate_limit", "tests.now", "3/s"]).await,
        json!({"ok": "new rate limit set successfully"})
    );
    let registered = remote(&python, &q, &node, &["inspect", "registered"])
        .await
        .unwrap();
    assert!(
        registered[&node]
            .as_array()
            .unwrap()
            .contains(&json!("tests.now [rate_limit=3/s]")),
        "{registered}"
    );
    assert_eq!(
        control(&["control", "rate_limit", "tests.now", "fast"]).await,
        json!({"error": "Invalid rate limit string: ValueError(\"could not convert string to float: 'fast'\")"})
    );
    assert_eq!(
        control(&["control", "rate_limit", "tests.nope", "1/s"]).await,
        json!({"error": "unknown task"})
    );
    let out = python_calls(&q, &[], &Value::from(now_calls(4))).await;
    assert_spaced(&start_times(&out, 4), 1.0 / 3.0);

    assert_eq!(
        control(&["control", "rate_limit", "tests.now", "0"]).await,
        json!({"ok": "new rate limit set successfully"}),
        "Celery's answer to \"0\" (which removes the limit)"
    );
    let out = python_calls(&q, &[], &Value::from(now_calls(3))).await;
    assert_eq!(start_times(&out, 3).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_limit_through_remote_control() {
    let queues = TestQueues::new();
    let q = queues.queue("time-control");
    let node = format!("celeriac-test@{q}");
    let _worker = WorkerProcess::start(WorkerSpec {
        hostname: Some(node.clone()),
        ..WorkerSpec::queue(&q)
    })
    .await;
    let python = Python::find();
    python.require("celery");
    let answer = remote(
        &python,
        &q,
        &node,
        &["control", "time_limit", "tests.sleep", "0.3", "0.8"],
    )
    .await
    .unwrap();
    assert_eq!(
        answer,
        json!([{ node.clone(): {"ok": "time limits set successfully"} }])
    );
    let answer = remote(
        &python,
        &q,
        &node,
        &["control", "time_limit", "tests.nope", "1"],
    )
    .await
    .unwrap();
    assert_eq!(answer, json!([{ node.clone(): {"error": "unknown task"} }]));
    let registered = remote(
        &python,
        &q,
        &node,
        &["inspect", "registered", "soft_time_limit", "time_limit"],
    )
    .await
    .unwrap();
    assert!(
        registered[&node]
            .as_array()
            .unwrap()
            .contains(&json!("tests.sleep [soft_time_limit=0.3 time_limit=0.8]")),
        "{registered}"
    );
    // tests.sleep ignores its cancellation: the hard limit ends it
    let calls = json!([
        {"name": "tests.sleep", "args": [5.0], "timeout": 30},
        {"name": "tests.sleep", "args": [0.05], "timeout": 30},
    ]);
    let out = python_calls(&q, &[], &calls).await;
    assert_eq!(out[0]["state"], "FAILURE", "{out:?}");
    assert_eq!(out[0]["error"]["type"], "TimeLimitExceeded", "{out:?}");
    assert_eq!(out[1]["state"], "SUCCESS", "{out:?}");
}
