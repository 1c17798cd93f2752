//! A reply whose queue is missing for a moment still reaches the client. Celery 5.6.3's rpc
//! result consumer re-creates its auto-delete reply queue about once a second while
//! `result.get()` waits (see `worker/src/reply.rs`); a reply published in that gap used to be
//! dropped by RabbitMQ (and confirmed all the same), leaving the client PENDING until its timeout
//! (`acks_late::sigkill_mid_task_then_a_second_worker_completes_it` failed about half of its
//! runs on a loaded machine). Here the reply queue does not exist when the reply is first
//! published and is declared only after the worker has found it missing.

use celeriac_protocol::TaskState;
use celeriac_testkit::amqp::TestQueues;
use serde_json::{Value, json};

use crate::support::{
    WorkerProcess, WorkerSpec, channel, collect_replies, python_client, reply_consumer,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_waits_for_its_queue_to_come_back() {
    let queues = TestQueues::new();
    let q = queues.queue("reply-missing");
    let reply_queue = queues.queue("reply-missing-rpc");
    let worker = WorkerProcess::start(WorkerSpec::queue(&q)).await;
    let spec = json!({"name": "tests.add", "args": [40, 2], "count": 1, "reply_to": reply_queue});
    let ids: Vec<String> =
        serde_json::from_str(python_client(&q, &[], "publish", &spec).await.trim()).unwrap();
    worker
        .wait_for_logs(&[
            "reply queue missing: publishing the reply again",
            &reply_queue,
        ])
        .await;
    let (_conn, ch) = channel().await;
    let mut consumer = reply_consumer(&ch, &reply_queue).await;
    let replies = collect_replies(&mut consumer, |r| r.contains_key(&ids[0])).await;
    let reply = &replies[&ids[0]][0];
    assert_eq!(reply.status, TaskState::Success);
    assert_eq!(reply.result, Value::from(42));
    assert_eq!(
        worker.count_logs(&["reply given up"]),
        0,
        "the reply was delivered, not given up"
    );
}
