//! Python's acceptance of our output, proven rather than assumed: messages from our encoder are
//! published byte-for-byte to a real Celery 5.6.3 worker (solo pool) that reports back what it
//! understood, and our rpc replies are read by a real `AsyncResult.get()` (tests/python/accept.py).
//!
//! Needs python3 (`CELERIAC_TEST_PYTHON` or `python3` on PATH) with `celery` and RabbitMQ
//! (`CELERIAC_TEST_AMQP_URL` or 127.0.0.1:5672); if either is missing the test FAILS with the
//! script's message.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod support;

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, ensure};
use celeriac_protocol::{
    ExceptionInfo, GroupId, HeaderValue, PyException, Reply, TaskId, TaskMessage, TaskName,
    format_iso8601,
};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use support::wire_to_fixture;

/// What Python's `fixture_tasks.echo` must report for `m` (its request as Python reads it).
fn expect(m: &TaskMessage) -> Value {
    let h = &m.headers;
    json!({
        "args": m.body.args, "kwargs": m.body.kwargs, "id": h.id.as_str(), "task": h.task.as_str(),
        "retries": h.retries, "eta": h.eta.as_ref().map(format_iso8601),
        "expires": h.expires.as_ref().map(format_iso8601),
        "timelimit": [h.timelimit.hard, h.timelimit.soft],
        "root_id": h.root_id.as_ref().map(TaskId::as_str), "parent_id": h.parent_id.as_ref().map(TaskId::as_str),
        "group": h.group.as_ref().map(GroupId::as_str), "group_index": h.group_index,
        "argsrepr": h.argsrepr, "kwargsrepr": h.kwargsrepr, "origin": h.origin,
        "ignore_result": h.ignore_result, "reply_to": m.properties.reply_to,
        "correlation_id": m.properties.correlation_id,
        "x_custom": h.extra.get("x-custom").and_then(HeaderValue::as_str),
    })
}

fn task_cases(reply_queue: &str) -> Result<Vec<Value>> {
    let now = Utc::now();
    let echo = || -> Result<_> {
        Ok(TaskMessage::builder(TaskName::new("fixture_tasks.echo")?)
            .reply_to(reply_queue)
            .origin("celeriac-test@localhost"))
    };
    let mut kwargs = serde_json::Map::new();
    kwargs.insert("ключ".into(), json!("значение"));
    kwargs.insert("flag".into(), json!(true));
    kwargs.insert("none".into(), Value::Null);
    let plain = echo()?
        .args(vec![
            json!(1),
            json!("two"),
            json!({"n": [1, 2.5]}),
            json!("héllo ✓ 😀"),
        ])
        .kwargs(kwargs)
        .build();
    let scheduled = echo()?
        .args(vec![json!("scheduled")])
        .eta(now - Duration::seconds(2))
        .expires_in(3600.0, now)
        .time_limit(300.0)
        .soft_time_limit(240.5)
        .group(GroupId::new_v4(), Some(1))
        .parent_id(TaskId::new_v4())
        .root_id(TaskId::new_v4())
        .priority(5)
        .header("x-custom", HeaderValue::str("yes"))
        .build();
    let retried = echo()?
        .args(vec![json!("retry me")])
        .build()
        .retry(now - Duration::seconds(1), now);
    Ok([("plain", plain), ("scheduled", scheduled), ("retry", retried)]
        .into_iter()
        .map(|(name, m)| json!({"name": name, "wire": wire_to_fixture(&m.to_wire()), "expect": expect(&m)}))
        .collect())
}

fn reply_case(name: &str, reply: &Reply, expect: Value) -> Value {
    let mut expect = expect;
    expect["task_id"] = json!(reply.task_id.as_str());
    json!({"name": name, "wire": wire_to_fixture(&reply.to_wire(None)), "expect": expect})
}

fn reply_cases() -> Vec<Value> {
    let id = TaskId::new_v4;
    let raises = |t: &str, m: &str, args: Value| json!({"raises": t, "module": m, "args": args});
    vec![
        reply_case(
            "success",
            &Reply::success(id(), json!({"a": [1, 2.5, "x"]})),
            json!({"value": {"a": [1, 2.5, "x"]}}),
        ),
        reply_case(
            "not_registered",
            &Reply::failure(
                id(),
                &ExceptionInfo::new(PyException::NotRegistered, "tasks.nope"),
                None,
            ),
            raises("NotRegistered", "celery.exceptions", json!(["tasks.nope"])),
        ),
        reply_case(
            "builtin",
            &Reply::failure(
                id(),
                &ExceptionInfo::with_args(PyException::ValueError, vec![json!("bad"), json!(1)]),
                Some("tb".into()),
            ),
            raises("ValueError", "builtins", json!(["bad", 1])),
        ),
        reply_case(
            "time_limit",
            &Reply::failure(
                id(),
                &ExceptionInfo::with_args(PyException::TimeLimitExceeded, vec![json!(300)]),
                None,
            ),
            raises("TimeLimitExceeded", "billiard.exceptions", json!([300])),
        ),
        reply_case(
            "revoked",
            &Reply::revoked(id(), "expired"),
            raises("TaskRevokedError", "celery.exceptions", json!(["expired"])),
        ),
        reply_case(
            "custom",
            &Reply::failure(
                id(),
                &ExceptionInfo::custom(
                    "celeriac.backup",
                    "DestinationUnavailable",
                    vec![json!("r2 down")],
                ),
                None,
            ),
            // Python cannot import celeriac.backup, so it synthesizes the class in celery.exceptions.
            raises(
                "DestinationUnavailable",
                "celery.exceptions",
                json!(["r2 down"]),
            ),
        ),
    ]
}

#[test]
fn python_celery_accepts_our_messages_and_replies() -> Result<()> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let reply_queue = format!("celeriac-accept-replies-{run}");
    let spec = json!({
        "worker_queue": format!("celeriac-accept-worker-{run}"),
        "reply_queue": reply_queue,
        "messages": task_cases(&reply_queue)?,
        "replies": reply_cases(),
    });
    let spec_path = std::env::temp_dir().join(format!("celeriac-accept-{run}.json"));
    std::fs::write(&spec_path, serde_json::to_vec(&spec)?)?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/accept.py");
    // scripts/test exports the interpreter that has the pinned packages; else python3 on PATH.
    let python = std::env::var_os("CELERIAC_TEST_PYTHON").unwrap_or_else(|| "python3".into());
    let out = Command::new(&python)
        .arg(&script)
        .arg(&spec_path)
        .output()
        .with_context(|| {
            format!("cannot run {python:?}: python3 with celery==5.6.3 is required for this test")
        })?;
    std::fs::remove_file(&spec_path).ok();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.success(),
        "python rejected our output (exit {:?}):\n{stdout}\n--- stderr ---\n{stderr}",
        out.status.code()
    );
    ensure!(
        stdout.contains("python acceptance: 9 passed, 0 failed"),
        "unexpected output:\n{stdout}"
    );
    Ok(())
}
