//! Operations: `/healthz` and `/metrics` of a running worker.

use celeriac_testkit::amqp::TestQueues;
use serde_json::json;

use crate::support::{WorkerProcess, WorkerSpec, free_port, http_get, python_calls};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_endpoints_report_the_worker() {
    let queues = TestQueues::new();
    let q = queues.queue("ops");
    let port = free_port();
    let _worker = WorkerProcess::start(WorkerSpec {
        metrics_listen: Some(format!("127.0.0.1:{port}")),
        ..WorkerSpec::queue(&q)
    })
    .await;
    let (status, body) = http_get(port, "/healthz").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "{\"connected\":true,\"consuming\":true}\n");
    let calls = json!([
        {"name": "tests.add", "args": [1, 2]},
        {"name": "tests.fail", "args": ["boom"]},
        {"name": "tests.flaky"},
    ]);
    python_calls(&q, &[], &calls).await;
    let (status, m) = http_get(port, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    for line in [
        r#"celeriac_tasks_received_total{task="tests.add"} 1"#,
        r#"celeriac_tasks_succeeded_total{task="tests.add"} 1"#,
        r#"celeriac_tasks_failed_total{task="tests.fail"} 1"#,
        r#"celeriac_tasks_retried_total{task="tests.flaky"} 2"#,
        r#"celeriac_tasks_received_total{task="tests.flaky"} 3"#,
        r#"celeriac_task_runtime_seconds_count{task="tests.add"} 1"#,
        "celeriac_tasks_in_flight 0",
        "celeriac_broker_connected 1",
    ] {
        assert!(m.contains(line), "missing {line:?} in:\n{m}");
    }
    assert_eq!(http_get(port, "/nope").await.0, "HTTP/1.1 404 Not Found");
}
