//! Topology: queues declared as kombu does; a mismatch is a clear startup error; configured
//! `x-max-priority` and quorum queues work with the Python side configured the same way.

use celeriac_testkit::amqp::TestQueues;
use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable};
use serde_json::json;

use crate::support::{WorkerProcess, WorkerSpec, channel, python_calls};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_argument_mismatch_is_a_startup_error_naming_the_queue() {
    let queues = TestQueues::new();
    let q = queues.queue("mismatch");
    let (_conn, ch) = channel().await;
    let mut args = FieldTable::default();
    args.insert("x-max-priority".into(), AMQPValue::LongInt(10));
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    ch.queue_declare(q.as_str().into(), durable, args)
        .await
        .unwrap();
    let mut worker = WorkerProcess::spawn(WorkerSpec::queue(&q));
    let status = worker.wait_exit().await;
    assert_eq!(status.code(), Some(1));
    let logs = worker.logs().join("\n");
    assert!(
        logs.contains(&format!(
            "queue \"{q}\" exists on the broker with different arguments"
        )),
        "{logs}"
    );
    assert!(logs.contains("durable, no arguments"), "{logs}");
    assert!(logs.contains("x-max-priority"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_and_quorum_queues_mirror_the_python_side() {
    let queues = TestQueues::new();
    let prio = queues.queue("prio");
    let quorum = queues.queue("quorum");
    let config = format!(
        "[queue.{prio}]\nx-max-priority = 10\n[queue.{quorum}]\nx-queue-type = \"quorum\"\n"
    );
    let _worker = WorkerProcess::start(WorkerSpec {
        queues: vec![prio.clone(), quorum.clone()],
        config_toml: Some(config),
        ..WorkerSpec::default()
    })
    .await;
    let calls = json!([{"name": "tests.add", "args": [1, 1], "options": {"priority": 7}}]);
    let out = python_calls(&prio, &["--max-priority", "10"], &calls).await;
    assert_eq!(out[0]["value"], json!(2), "{}", out[0]);
    let calls = json!([{"name": "celery.accumulate", "args": ["q"]}]);
    let out = python_calls(&quorum, &["--quorum"], &calls).await;
    assert_eq!(out[0]["value"], json!(["q"]), "{}", out[0]);
}
