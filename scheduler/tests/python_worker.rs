//! A real Python Celery worker (the pinned celery) consumes the message celeriac builds for a
//! beat slot, published to RabbitMQ as beat publishes it, and sees the right task name, id,
//! args, kwargs, priority and expiry.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::path::PathBuf;
use std::time::Duration;

use celeriac_broker::{Publisher, QueueSpec, QueueType, declare_durable_queue};
use celeriac_protocol::parse_iso8601;
use celeriac_scheduler::{BeatConfig, Sender, Slot, beat_message};
use celeriac_testkit::amqp::{self, TestQueues};
use celeriac_testkit::python::Python;
use chrono::Utc;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const PATIENCE: Duration = Duration::from_mins(1);

#[tokio::test]
async fn a_python_worker_runs_the_beat_message() {
    let queues = TestQueues::new();
    let queue = queues.queue("beat-interop");
    queues.track_exchange(queue.clone());
    let config = BeatConfig::from_toml(&format!(
        r#"
        [worker]            # another command's table: beat ignores it
        anything = 1

        [beat]
        timezone = "Europe/Paris"

        [beat.schedule.configuration-backup-daily]
        task = "apps.backups.tasks.configuration_backup"
        schedule = "0 4 * * *"
        args = ["full"]
        kwargs = {{ trigger = "beat", stores = ["local", "r2"], deep = true }}
        options = {{ queue = "{queue}", priority = 8, expires = "1h" }}
        "#
    ))
    .unwrap();
    let entry = &config.entries[0];
    let now = Utc::now();
    let slot_at = entry
        .schedule
        .latest_at_or_before(entry.timezone, now)
        .unwrap();
    let outgoing = beat_message(
        entry,
        slot_at,
        now,
        &Sender::for_process(std::process::id(), "test-host"),
    );
    assert_eq!(outgoing.route.exchange, "");
    assert_eq!(outgoing.route.routing_key, queue);
    let wire = outgoing.to_wire();

    publish(&outgoing.route, &wire).await;
    let seen = run_python_worker(&queue).await;

    assert_eq!(seen["task"], "apps.backups.tasks.configuration_backup");
    let slot_id = Slot::new("configuration-backup-daily", slot_at).task_id();
    assert_eq!(seen["id"], slot_id.as_str());
    assert_eq!(seen["correlation_id"], slot_id.as_str());
    assert_eq!(seen["args"], json!(["full"]));
    assert_eq!(
        seen["kwargs"],
        json!({"trigger": "beat", "stores": ["local", "r2"], "deep": true})
    );
    assert_eq!(seen["priority"], 8);
    assert_eq!(seen["routing_key"], queue.as_str());
    assert_eq!(
        seen["origin"],
        format!("gen{}@test-host", std::process::id())
    );
    let expires = parse_iso8601(seen["expires"].as_str().unwrap()).unwrap();
    let expected = now + chrono::Duration::hours(1);
    assert!(
        (expires - expected).num_milliseconds().abs() < 1,
        "expires {expires}, expected {expected}"
    );
}

/// Publishes as beat does, through the broker crate: declares the queue as kombu would, then a
/// confirmed publish.
async fn publish(route: &celeriac_scheduler::Route, wire: &celeriac_protocol::WireMessage) {
    let connection = amqp::connect().await;
    let publisher = Publisher::open(&connection).await.unwrap();
    let queue = QueueSpec {
        name: route.queue.clone(),
        max_priority: None,
        queue_type: QueueType::Classic,
    };
    declare_durable_queue(publisher.channel(), &queue)
        .await
        .unwrap();
    publisher
        .publish(&route.exchange, &route.routing_key, wire)
        .await
        .unwrap();
}

/// Runs the Python worker on `queue` until its task reports what it saw.
async fn run_python_worker(queue: &str) -> Value {
    let python = Python::find();
    python.require("celery");
    let mut child = python
        .script(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/beat_consumer.py"))
        .args([amqp::amqp_url().as_str(), queue])
        .spawn();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let errors = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut all = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            all.push(line);
        }
        all.join("\n")
    });
    let seen = tokio::time::timeout(PATIENCE, async {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(json) = line.strip_prefix("SEEN ") {
                return Some(serde_json::from_str::<Value>(json).unwrap());
            }
        }
        None
    })
    .await;
    let Ok(Some(seen)) = seen else {
        let _ = child.kill().await;
        panic!(
            "the Python worker did not run the task; its stderr:\n{}",
            errors.await.unwrap()
        );
    };
    let _ = child.wait().await;
    seen
}
