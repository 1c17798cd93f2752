//! `celery control add_consumer` / `cancel_consumer` against the worker, through Python
//! Celery's own command line: the answers are Celery's, `inspect active_queues` follows the
//! change, a task sent to the added queue runs, none runs after the cancel (the messages stay in
//! the queue), and messages already prefetched from a cancelled queue are finished, not lost.

use std::time::Duration;

use celeriac_testkit::amqp::{self, TestQueues};
use celeriac_testkit::python::Python;
use serde_json::{Value, json};

use crate::control::remote;
use crate::support::{
    PATIENCE, WorkerProcess, WorkerSpec, channel, client_script, python_calls, python_client,
    ready_count,
};

fn queue_names(reply: &Value, node: &str) -> Vec<String> {
    reply[node]
        .as_array()
        .unwrap_or_else(|| panic!("no active_queues from {node}: {reply}"))
        .iter()
        .map(|q| q["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_and_cancel_a_consumer_at_runtime() {
    let queues = TestQueues::new();
    let q = queues.queue("ctl-consumer");
    let extra = queues.queue("ctl-added");
    queues.track_exchange(&extra);
    let node = format!("celeriac-test@{q}");
    let worker = WorkerProcess::start(WorkerSpec {
        hostname: Some(node.clone()),
        ..WorkerSpec::queue(&q)
    })
    .await;
    let python = Python::find();
    python.require("celery");
    let run = |args: Vec<String>| {
        let (python, q, node) = (&python, &q, &node);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            remote(python, q, node, &args)
                .await
                .unwrap_or_else(|| panic!("no answer to {args:?}"))
        }
    };
    let control = |cmd: &str, queue: &str| run(vec!["control".into(), cmd.into(), queue.into()]);
    let active_queues = || run(vec!["inspect".into(), "active_queues".into()]);

    assert_eq!(queue_names(&active_queues().await, &node), [q.as_str()]);
    let added = json!([{ node.clone(): {"ok": format!("add consumer {extra}")} }]);
    assert_eq!(control("add_consumer", &extra).await, added);
    assert_eq!(
        control("add_consumer", &extra).await,
        added,
        "already consuming: Celery gives the same answer"
    );
    let listed = active_queues().await;
    assert_eq!(queue_names(&listed, &node), [q.as_str(), extra.as_str()]);
    let declared = &listed[&node][1];
    assert_eq!(declared["exchange"]["name"], extra.as_str(), "{declared}");
    assert_eq!(declared["exchange"]["type"], "direct");
    assert_eq!(declared["routing_key"], extra.as_str());
    assert_eq!(declared["durable"], true);

    // a task sent to the added queue runs
    let calls = json!([{"name": "tests.add", "args": [2, 3], "timeout": 30}]);
    let out = python_calls(&extra, &[], &calls).await;
    assert_eq!(out[0]["state"], "SUCCESS", "{out:?}");
    assert_eq!(out[0]["value"], 5);

    let cancelled = json!([{ node.clone(): {"ok": format!("no longer consuming from {extra}")} }]);
    assert_eq!(control("cancel_consumer", &extra).await, cancelled);
    assert_eq!(
        control("cancel_consumer", &extra).await,
        cancelled,
        "not consuming: Celery gives the same answer"
    );
    assert_eq!(queue_names(&active_queues().await, &node), [q.as_str()]);

    // none runs after the cancel: the messages stay ready in the queue
    let (_conn, ch) = channel().await;
    let reply_queue = queues.queue("ctl-replies");
    let spec = json!({"name": "tests.add", "args": [1, 1], "count": 3, "reply_to": reply_queue});
    python_client(&extra, &[], "publish", &spec).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        ready_count(&ch, &extra).await,
        3,
        "nothing taken from a cancelled queue"
    );
    assert_eq!(
        worker.count_logs(&["task started", "tests.add"]),
        1,
        "only the task sent while the queue was consumed ran"
    );

    // the first queue is still consumed
    let out = python_calls(&q, &[], &calls).await;
    assert_eq!(out[0]["value"], 5, "{out:?}");

    // adding it back takes the three waiting messages
    assert_eq!(control("add_consumer", &extra).await, added);
    let drained = tokio::time::timeout(PATIENCE, async {
        while ready_count(&ch, &extra).await > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(drained.is_ok(), "the re-added queue is consumed again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_prefetched_from_a_cancelled_queue_are_finished() {
    let queues = TestQueues::new();
    let q = queues.queue("ctl-prefetched");
    let node = format!("celeriac-test@{q}");
    // one task at a time, four prefetched: three wait in the worker when the queue is cancelled
    let worker = WorkerProcess::start(WorkerSpec {
        hostname: Some(node.clone()),
        concurrency: Some(1),
        ..WorkerSpec::queue(&q)
    })
    .await;
    let python = Python::find();
    python.require("celery");
    let calls: Vec<Value> = (0..4)
        .map(|_| json!({"name": "tests.sleep", "args": [0.4], "timeout": 30}))
        .collect();
    let client = python
        .script(client_script())
        .args(["--broker", &amqp::amqp_url(), "--queue", &q, "calls"])
        .arg(Value::from(calls).to_string())
        .spawn();
    worker.wait_for_logs(&["task started", "tests.sleep"]).await;
    let answer = remote(&python, &q, &node, &["control", "cancel_consumer", &q])
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!([{ node.clone(): {"ok": format!("no longer consuming from {q}")} }])
    );
    let out = tokio::time::timeout(PATIENCE, client.wait_with_output())
        .await
        .expect("the client's results arrive")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let outcomes: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("client printed no JSON ({e}): {stdout}"));
    for o in outcomes.as_array().unwrap() {
        assert_eq!(o["state"], "SUCCESS", "{outcomes}");
        assert_eq!(o["value"], "slept");
    }
    assert_eq!(worker.count_logs(&["task started", "tests.sleep"]), 4);
    let (_conn, ch) = channel().await;
    assert_eq!(ready_count(&ch, &q).await, 0, "none returned to the queue");
    let listed = remote(&python, &q, &node, &["inspect", "active_queues"])
        .await
        .unwrap();
    assert_eq!(listed[&node], json!([]), "consuming from no queue");
    assert!(
        worker.logs().iter().all(|l| !l.contains("lost the broker")),
        "cancelling the last queue is not a lost connection"
    );
}
