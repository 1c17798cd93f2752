//! Bad input never stops the worker: 1,000 malformed messages mixed with good ones.

use std::collections::HashSet;

use celeriac_protocol::TaskState;
use celeriac_testkit::amqp::TestQueues;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString};
use serde_json::json;
use uuid::Uuid;

use crate::support::{
    WorkerProcess, WorkerSpec, channel, collect_replies, free_port, http_get, publish_raw,
    ready_count, reply_consumer,
};

const MALFORMED: usize = 1000;
const GOOD_EVERY: usize = 10;

fn headers(task: &str, id: &str) -> FieldTable {
    let mut h = FieldTable::default();
    h.insert("task".into(), AMQPValue::LongString(LongString::from(task)));
    h.insert("id".into(), AMQPValue::LongString(LongString::from(id)));
    h
}

fn props(content_type: &str, headers: FieldTable, id: &str, reply_to: &str) -> BasicProperties {
    BasicProperties::default()
        .with_content_type(content_type.into())
        .with_content_encoding("utf-8".into())
        .with_correlation_id(id.into())
        .with_reply_to(reply_to.into())
        .with_headers(headers)
}

/// The `n`th kind of bad message: (body, properties, answered?) — answered when the worker can
/// read an id and a reply queue.
fn malformed(n: usize, reply_to: &str) -> (Vec<u8>, BasicProperties, Option<String>) {
    let id = Uuid::new_v4().to_string();
    let json = "application/json";
    let ok_body =
        br#"[[1, 2], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#
            .to_vec();
    match n % 10 {
        0 => (
            b"{not json".to_vec(),
            props(json, headers("tests.add", &id), &id, reply_to),
            Some(id),
        ),
        1 => (
            b"\x80\x04\x95.".to_vec(),
            props(
                "application/x-python-serialize",
                headers("tests.add", &id),
                &id,
                reply_to,
            ),
            Some(id),
        ),
        2 => (
            b"- 1\n- 2\n".to_vec(),
            props(
                "application/x-yaml",
                headers("tests.add", &id),
                &id,
                reply_to,
            ),
            Some(id),
        ),
        3 => (
            br#"{"args": [1]}"#.to_vec(),
            props(json, headers("tests.add", &id), &id, reply_to),
            Some(id),
        ),
        4 => (
            b"[[1, 2], {}]".to_vec(),
            props(json, headers("tests.add", &id), &id, reply_to),
            Some(id),
        ),
        5 => (
            ok_body,
            props(json, FieldTable::default(), &id, reply_to),
            Some(id),
        ), // no task header: a v1 body is expected
        6 => (
            b"\xff\xfe\xfd".to_vec(),
            props(json, headers("tests.add", &id), &id, reply_to),
            Some(id),
        ),
        7 => (
            ok_body,
            props(json, headers("no.such.task", &id), &id, reply_to),
            Some(id),
        ),
        8 => {
            let body = br#"[["a", {"b": 1}], {}, null]"#.to_vec(); // wrong argument types
            (
                body,
                props(json, headers("tests.add", &id), &id, reply_to),
                Some(id),
            )
        }
        _ => (Vec::new(), BasicProperties::default(), None), // nothing at all: no id, no reply_to
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_malformed_messages_mixed_with_good_ones() {
    let queues = TestQueues::new();
    let q = queues.queue("malformed");
    let reply_q = queues.queue("malformed-replies");
    let port = free_port();
    let mut worker = WorkerProcess::start(WorkerSpec {
        metrics_listen: Some(format!("127.0.0.1:{port}")),
        ..WorkerSpec::queue(&q)
    })
    .await;
    let (_conn, ch) = channel().await;
    ch.confirm_select(lapin::options::ConfirmSelectOptions::default())
        .await
        .unwrap();
    let mut replies = reply_consumer(&ch, &reply_q).await;
    let mut good = Vec::new();
    let mut answered_bad = HashSet::new();
    for n in 0..MALFORMED {
        if n % GOOD_EVERY == 0 {
            let id = Uuid::new_v4().to_string();
            let body = format!(r#"[[{n}, "x"], {{}}, null]"#);
            publish_raw(
                &ch,
                &q,
                body.as_bytes(),
                props(
                    "application/json",
                    headers("celery.accumulate", &id),
                    &id,
                    &reply_q,
                ),
            )
            .await;
            good.push((id, n));
        }
        let (body, properties, answered) = malformed(n, &reply_q);
        publish_raw(&ch, &q, &body, properties).await;
        answered_bad.extend(answered);
    }
    let expected = good.len() + answered_bad.len();
    let got = collect_replies(&mut replies, |r| r.len() >= expected).await;
    for (id, n) in &good {
        let r = &got[id];
        assert_eq!(r.len(), 1, "good task {id} answered once");
        assert_eq!(r[0].status, TaskState::Success);
        assert_eq!(r[0].result, json!([n, "x"]));
    }
    for id in &answered_bad {
        let r = &got[id];
        assert_eq!(r.len(), 1, "bad message {id} answered once");
        assert_eq!(r[0].status, TaskState::Failure, "{:?}", r[0]);
    }
    assert_eq!(got.len(), expected, "no reply for anything else");
    // still up, consuming, and nothing went back to the queue
    assert!(worker.is_running());
    assert_eq!(http_get(port, "/healthz").await.0, "HTTP/1.1 200 OK");
    assert_eq!(ready_count(&ch, &q).await, 0);
    let (_, metrics) = http_get(port, "/metrics").await;
    let rejected: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("celeriac_messages_rejected_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(
        rejected, MALFORMED as u64,
        "each bad message rejected exactly once:\n{metrics}"
    );
    let good_count = good.len();
    assert!(
        metrics.contains(&format!(
            r#"celeriac_tasks_succeeded_total{{task="celery.accumulate"}} {good_count}"#
        )),
        "{metrics}"
    );
    // each bad message logged once, with its delivery tag
    let logged = worker.count_logs(&["rejecting undecodable message", "delivery_tag="])
        + worker.count_logs(&["received unregistered task", "delivery_tag="])
        + worker.count_logs(&["invalid task arguments", "delivery_tag="]);
    assert_eq!(
        logged,
        MALFORMED,
        "log lines:\n{}",
        worker.logs().join("\n")
    );
}
