//! Golden comparison: the message celeriac builds for a slot against the one Python Celery's
//! `send_task` (as beat calls it, with the same task id and options) publishes, captured through
//! kombu's in-memory transport. Headers, properties, body bytes and routing must match, except
//! what depends on the sending process (`origin`, `reply_to`) or on the instant of sending (the
//! `expiration` property, in ms from "now").
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::path::PathBuf;

use celeriac_protocol::HeaderValue;
use celeriac_scheduler::{BeatConfig, Sender, beat_message};
use celeriac_testkit::python::Python;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

fn json_of(value: &HeaderValue) -> Value {
    match value {
        HeaderValue::Null => Value::Null,
        HeaderValue::Bool(b) => json!(b),
        HeaderValue::Int(i) => json!(i),
        HeaderValue::Float(f) => json!(f),
        HeaderValue::Str(s) => json!(s),
        HeaderValue::List(items) => Value::Array(items.iter().map(json_of).collect()),
        HeaderValue::Table(t) => {
            Value::Object(t.iter().map(|(k, v)| (k.clone(), json_of(v))).collect())
        }
        other => panic!("unexpected header value {other:?}"),
    }
}

async fn python_send_task(spec: &Value) -> Value {
    let python = Python::find();
    python.require("celery");
    let out = python
        .script(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/send_task_capture.py"))
        .arg(spec.to_string())
        .success()
        .await;
    serde_json::from_str(out.stdout.trim()).unwrap()
}

async fn compare(toml: &str, now: DateTime<Utc>) {
    let config = BeatConfig::from_toml(toml).unwrap();
    let entry = &config.entries[0];
    let slot = entry.schedule.next_after(entry.timezone, now).unwrap();
    let ours = beat_message(entry, slot, now, &Sender::for_process(1, "host"));
    let wire = ours.to_wire();

    let mut spec = json!({
        "task": entry.task.as_str(),
        "id": ours.slot.task_id().as_str(),
        "args": entry.args,
        "kwargs": entry.kwargs,
        "queue": ours.route.queue,
    });
    if let Some(p) = entry.options.priority {
        spec["priority"] = json!(p);
    }
    if let HeaderValue::Str(expires) = &wire.headers["expires"] {
        spec["expires"] = json!(expires);
    }
    let theirs = python_send_task(&spec).await;

    assert_eq!(theirs["exchange"], json!(ours.route.exchange), "exchange");
    assert_eq!(
        theirs["routing_key"],
        json!(ours.route.routing_key),
        "routing key"
    );

    let mut our_headers: Map<String, Value> = wire
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), json_of(v)))
        .collect();
    let mut their_headers = theirs["headers"].as_object().unwrap().clone();
    for h in [&mut our_headers, &mut their_headers] {
        assert!(
            h.remove("origin")
                .unwrap()
                .as_str()
                .unwrap()
                .starts_with("gen")
        );
    }
    assert_eq!(
        Value::Object(our_headers),
        Value::Object(their_headers),
        "headers"
    );

    let p = &wire.properties;
    let props = &theirs["properties"];
    assert_eq!(
        props["correlation_id"],
        json!(p.correlation_id),
        "correlation_id"
    );
    assert_eq!(
        props["delivery_mode"],
        json!(p.delivery_mode),
        "delivery_mode"
    );
    assert_eq!(
        props.get("priority").cloned().unwrap_or(json!(0)),
        json!(p.priority.unwrap_or(0)),
        "priority"
    );
    assert_eq!(
        props.get("expiration").is_some(),
        p.expiration.is_some(),
        "expiration set on both or neither"
    );
    assert!(props["reply_to"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(p.reply_to.as_deref().is_some_and(|r| !r.is_empty()));
    assert_eq!(
        theirs["content_type"],
        json!(p.content_type),
        "content_type"
    );
    assert_eq!(
        theirs["content_encoding"],
        json!(p.content_encoding),
        "content_encoding"
    );
    assert_eq!(
        theirs["body"],
        json!(String::from_utf8(wire.body).unwrap()),
        "body bytes"
    );
}

#[tokio::test]
async fn the_default_entry_matches_python_send_task() {
    compare("", "2026-12-03T23:30:00Z".parse().unwrap()).await;
}

#[tokio::test]
async fn an_entry_with_args_kwargs_queue_priority_and_expiry_matches_python_send_task() {
    let toml = r#"
        [beat]
        timezone = "Europe/Paris"
        [beat.schedule.nightly]
        task = "apps.backups.tasks.configuration_backup"
        schedule = "30 2 * * *"
        args = ["full", 3, 2.5, [1, "x"]]
        kwargs = { deep = true, stores = ["local", "r2"], note = "héllo", limit = 10 }
        options = { queue = "backups", priority = 8, expires = "1h" }
    "#;
    compare(toml, "2026-12-03T23:30:00.123456Z".parse().unwrap()).await;
}
