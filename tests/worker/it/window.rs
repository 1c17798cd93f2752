//! The prefetch window: a delivery whose task has finished but whose reply still waits for the
//! broker's confirm (and then its ack) does not hold a prefetch slot, so the broker keeps
//! delivering; acks still follow the confirmed replies.

use std::time::Duration;

use celeriac_protocol::TaskState;
use celeriac_testkit::amqp::{self, TestQueues};
use celeriac_testkit::proxy::FaultProxy;
use serde_json::json;

use crate::support::{
    PATIENCE, WorkerProcess, WorkerSpec, channel, collect_replies, free_port, http_get,
    python_client, ready_count, reply_consumer,
};

const TASKS: usize = 60;

/// The largest `field=N` of the worker's "prefetch window changed" lines.
fn widest(worker: &WorkerProcess, field: &str) -> u32 {
    let key = format!(" {field}=");
    worker
        .logs()
        .iter()
        .filter(|l| l.contains("prefetch window changed"))
        .filter_map(|l| {
            let rest = l.split(key.as_str()).nth(1)?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_but_unconfirmed_deliveries_do_not_block_new_ones() {
    let queues = TestQueues::new();
    let q = queues.queue("window");
    let reply_q = queues.queue("window-replies");
    // Each chunk, either way, waits 5 ms in the proxy: a reply's confirm takes at least two such
    // trips while a task takes microseconds, so most of a delivery's life is spent settling.
    let proxy = FaultProxy::start(amqp::broker_addr()).await;
    let port = free_port();
    let worker = WorkerProcess::start(WorkerSpec {
        broker_url: Some(amqp::amqp_url_via(proxy.addr())),
        concurrency: Some(1),
        // base prefetch 1 × 1
        config_toml: Some("prefetch-multiplier = 1\n".to_owned()),
        metrics_listen: Some(format!("127.0.0.1:{port}")),
        ..WorkerSpec::queue(&q)
    })
    .await;
    proxy.set_delay(Duration::from_millis(5));
    let (_conn, ch) = channel().await;
    let mut replies = reply_consumer(&ch, &reply_q).await;
    let spec =
        json!({"name": "celery.accumulate", "args": [1, 2], "count": TASKS, "reply_to": reply_q});
    let ids: Vec<String> =
        serde_json::from_str(python_client(&q, &[], "publish", &spec).await.trim()).unwrap();
    assert_eq!(ids.len(), TASKS);
    let got = collect_replies(&mut replies, |r| r.len() >= TASKS).await;
    for id in &ids {
        let r = &got[id];
        assert_eq!(r.len(), 1, "task {id} answered once");
        assert_eq!(r[0].status, TaskState::Success, "{:?}", r[0]);
    }
    // With a prefetch of 1 the broker hands out a second delivery only once the first is acked,
    // unless the window was widened for the first while its reply awaited the confirm (a
    // stream of such tasks keeps it widened until the decay tick finds nothing settling).
    let widest_prefetch = widest(&worker, "prefetch");
    let settling = widest(&worker, "settling");
    assert!(
        widest_prefetch >= 2 && settling >= 1,
        "the window was never widened for a settling delivery (prefetch {widest_prefetch}); \
         logs:\n{}",
        worker.logs().join("\n")
    );
    // Everything settled: the window is back to its base, and nothing is left or requeued.
    let back_to_base = tokio::time::timeout(PATIENCE, async {
        loop {
            let (_, metrics) = http_get(port, "/metrics").await;
            if metrics.lines().any(|l| l == "celeriac_prefetch_count 1") {
                return metrics;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("prefetch back to 1 once every delivery is settled");
    let updates = back_to_base
        .lines()
        .find_map(|l| l.strip_prefix("celeriac_prefetch_updates_total "))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(updates >= 2, "widened and narrowed:\n{back_to_base}");
    assert_eq!(ready_count(&ch, &q).await, 0);
}
