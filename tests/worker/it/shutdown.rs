//! Graceful shutdown: SIGTERM stops consuming, lets the running task finish and be acked, and
//! requeues what did not start; a second signal exits at once.

use celeriac_testkit::amqp::TestQueues;
use serde_json::json;

use crate::support::{
    PATIENCE, WorkerProcess, WorkerSpec, channel, free_port, http_get, python_calls, ready_count,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_running_task_finish_and_requeues_the_rest() {
    let queues = TestQueues::new();
    let q = queues.queue("shutdown");
    let port = free_port();
    let spec = WorkerSpec {
        concurrency: Some(1),
        metrics_listen: Some(format!("127.0.0.1:{port}")),
        ..WorkerSpec::queue(&q)
    };
    let mut worker = WorkerProcess::start(spec).await;
    let (sleep_q, add_q) = (q.clone(), q.clone());
    let sleeper = tokio::spawn(async move {
        let calls = json!([{"name": "tests.sleep", "args": [2.0], "timeout": 60}]);
        python_calls(&sleep_q, &[], &calls).await
    });
    worker.wait_for_logs(&["task started", "tests.sleep"]).await;
    // a second task arrives while the only slot is busy: prefetched, not started
    let adder = tokio::spawn(async move {
        let calls = json!([{"name": "tests.add", "args": [1, 2], "timeout": 60}]);
        python_calls(&add_q, &[], &calls).await
    });
    let received = async {
        let line = r#"celeriac_tasks_received_total{task="tests.add"} 1"#;
        while !http_get(port, "/metrics").await.1.contains(line) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(PATIENCE, received)
        .await
        .expect("second task received");
    worker.signal("TERM");
    let status = worker.wait_exit().await;
    assert!(
        status.success(),
        "worker exited with {status}; logs:\n{}",
        worker.logs().join("\n")
    );
    assert_eq!(
        worker.count_logs(&["warm shutdown: waiting for running tasks"]),
        1
    );
    assert_eq!(
        worker.count_logs(&["task started", "tests.add"]),
        0,
        "the queued task must not start"
    );
    // the unstarted task went back to the queue
    let (_conn, ch) = channel().await;
    assert_eq!(ready_count(&ch, &q).await, 1);
    // the running task finished and was answered; a new worker runs the requeued one
    let _second = WorkerProcess::start(WorkerSpec::queue(&q)).await;
    let out = sleeper.await.expect("client task");
    assert_eq!(out[0]["value"], json!("slept"), "{}", out[0]);
    let out = adder.await.expect("client task");
    assert_eq!(out[0]["value"], json!(3), "{}", out[0]);
    assert_eq!(ready_count(&ch, &q).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_signal_exits_at_once_and_the_task_stays_queued() {
    let queues = TestQueues::new();
    let q = queues.queue("shutdown-now");
    let mut worker = WorkerProcess::start(WorkerSpec::queue(&q)).await;
    let publisher_queue = q.clone();
    let client = tokio::spawn(async move {
        let calls = json!([{"name": "tests.sleep", "args": [600.0], "timeout": 1}]);
        python_calls(&publisher_queue, &[], &calls).await
    });
    worker.wait_for_logs(&["task started", "tests.sleep"]).await;
    worker.signal("TERM");
    worker.wait_for_log("warm shutdown").await;
    worker.signal("INT");
    let status = worker.wait_exit().await;
    assert_eq!(
        status.code(),
        Some(130),
        "logs:\n{}",
        worker.logs().join("\n")
    );
    // the 600 s task was neither finished nor acked: it is back in the queue
    let (_conn, ch) = channel().await;
    let ready = async {
        while ready_count(&ch, &q).await != 1 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(PATIENCE, ready)
        .await
        .expect("task requeued");
    let out = client.await.expect("client task");
    assert_eq!(out[0]["error"]["type"], "TimeoutError", "{}", out[0]);
}
