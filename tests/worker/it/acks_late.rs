//! acks_late: a worker killed mid-task leaves the message to be redelivered and run elsewhere.

use celeriac_testkit::amqp::TestQueues;
use serde_json::json;

use crate::support::{WorkerProcess, WorkerSpec, python_calls};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_task_then_a_second_worker_completes_it() {
    let queues = TestQueues::new();
    let q = queues.queue("ackslate");
    let mut first = WorkerProcess::start(WorkerSpec::queue(&q)).await;
    let client_queue = q.clone();
    let client = tokio::spawn(async move {
        let calls = json!([{"name": "tests.sleep", "args": [2.0], "timeout": 60}]);
        python_calls(&client_queue, &[], &calls).await
    });
    let started = first.wait_for_logs(&["task started", "tests.sleep"]).await;
    first.signal("KILL");
    let status = first.wait_exit().await;
    assert!(!status.success(), "killed worker exited with {status}");
    let second = WorkerProcess::start(WorkerSpec::queue(&q)).await;
    let out = client.await.expect("client task");
    assert_eq!(out[0]["value"], json!("slept"), "{}", out[0]);
    let id = out[0]["id"].as_str().unwrap();
    assert!(started.contains(id), "first worker started {id}: {started}");
    let rerun = second.wait_for_logs(&["task started", id]).await;
    assert!(rerun.contains("tests.sleep"));
}
