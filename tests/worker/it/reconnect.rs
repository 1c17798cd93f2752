//! Broker connection cut mid-stream by the fault proxy: the worker reconnects and finishes.

use celeriac_protocol::TaskState;
use celeriac_testkit::amqp::{self, TestQueues};
use celeriac_testkit::proxy::FaultProxy;
use serde_json::json;

use crate::support::{
    WorkerProcess, WorkerSpec, channel, collect_replies, python_client, ready_count, reply_consumer,
};

const TASKS: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_reconnects_after_the_connection_is_cut_and_finishes_the_queue() {
    let queues = TestQueues::new();
    let q = queues.queue("reconnect");
    let reply_q = queues.queue("reconnect-replies");
    let proxy = FaultProxy::start(amqp::broker_addr()).await;
    let worker = WorkerProcess::start(WorkerSpec {
        broker_url: Some(amqp::amqp_url_via(proxy.addr())),
        concurrency: Some(2),
        ..WorkerSpec::queue(&q)
    })
    .await;
    let (_conn, ch) = channel().await;
    let mut replies = reply_consumer(&ch, &reply_q).await;
    let spec = json!({"name": "tests.sleep", "args": [0.01], "count": TASKS, "reply_to": reply_q});
    let ids: Vec<String> =
        serde_json::from_str(python_client(&q, &[], "publish", &spec).await.trim()).unwrap();
    assert_eq!(ids.len(), TASKS);
    let before = collect_replies(&mut replies, |r| r.len() >= 50).await;
    proxy.cut_all();
    worker.wait_for_log("lost the broker connection").await;
    let after = collect_replies(&mut replies, |r| {
        ids.iter()
            .all(|id| before.contains_key(id) || r.contains_key(id))
    })
    .await;
    for id in &ids {
        let all: Vec<_> = before
            .get(id)
            .into_iter()
            .chain(after.get(id))
            .flatten()
            .collect();
        assert!(
            all.iter().any(|r| r.status == TaskState::Success),
            "task {id} succeeded: {all:?}"
        );
    }
    assert!(worker.count_logs(&["connected: consuming"]) >= 2);
    assert!(proxy.stats().accepted >= 2, "{:?}", proxy.stats());
    assert_eq!(ready_count(&ch, &q).await, 0);
}
