//! Retries: republished with the same id, `retries + 1` and an eta; SUCCESS or FAILURE at the end.

use celeriac_testkit::amqp::TestQueues;
use serde_json::json;

use crate::support::{WorkerProcess, WorkerSpec, python_calls};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flaky_task_succeeds_on_third_attempt_and_always_failing_task_fails_after_max_retries() {
    let queues = TestQueues::new();
    let q = queues.queue("retries");
    let worker = WorkerProcess::start(WorkerSpec::queue(&q)).await;
    let calls = json!([
        {"name": "tests.flaky"},
        {"name": "tests.always_fails"},
    ]);
    let out = python_calls(&q, &[], &calls).await;
    assert!(out[0].get("error").is_none(), "{}", out[0]);
    assert_eq!(out[0]["value"], json!({"retries": 2}));
    assert_eq!(out[0]["state"], "SUCCESS");
    let e = &out[1]["error"];
    assert_eq!(e["type"], "ValueError", "{}", out[1]);
    // max_retries = 2: attempts 0, 1, 2 ran; the last error is the one reported
    assert_eq!(e["message"], "still broken after 2 retries");
    assert_eq!(out[1]["state"], "FAILURE");
    let flaky_id = out[0]["id"].as_str().unwrap();
    assert_eq!(worker.count_logs(&["task will be retried", flaky_id]), 2);
    let failing_id = out[1]["id"].as_str().unwrap();
    assert_eq!(worker.count_logs(&["task will be retried", failing_id]), 2);
    assert_eq!(worker.count_logs(&["retries exhausted", failing_id]), 1);
}
