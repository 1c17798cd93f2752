//! Golden tests against what Celery 5.6.3 really sent (tests/fixtures, made by generate.py):
//! every fixture decodes, and our encoder reproduces Celery's bytes for the same call, up to the
//! values listed in `normalise` (ids, timestamps, origin, reply_to), which are fed from the
//! fixture or masked explicitly.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod support;

use anyhow::{Context, Result, bail, ensure};
use celeriac_protocol::{
    ArgsReprStyle, ExceptionInfo, GroupId, HeaderValue, ProtocolVersion, PyException, Reply,
    Signature, TaskId, TaskMessage, TaskName, TaskState, args_repr, format_iso8601, kwargs_repr,
    parse_iso8601,
};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use support::{load_fixtures, wire_from_fixture, wire_to_fixture};

fn time(v: &Value) -> Result<DateTime<Utc>> {
    Ok(parse_iso8601(v.as_str().context("time string")?)?)
}

fn sigs(v: &Value) -> Result<Vec<Signature>> {
    v.as_array()
        .context("signature list")?
        .iter()
        .map(|s| Ok(Signature::from_json(s)?))
        .collect()
}

/// Rebuilds a client fixture's call with our builder. Ids, origin, reply_to and Python's canvas
/// results (chain steps, group id) are taken from the captured message.
fn rebuild(call: &Value, captured: &TaskMessage, now: DateTime<Utc>) -> Result<TaskMessage> {
    let h = &captured.headers;
    let mut b = TaskMessage::builder(TaskName::new(call["task"].as_str().context("task")?)?)
        .id(h.id.clone())
        .origin(h.origin.clone().context("origin")?)
        .args(call["args"].as_array().cloned().unwrap_or_default())
        .kwargs(call["kwargs"].as_object().cloned().unwrap_or_default())
        .args_style(if call["args_style"] == "list" {
            ArgsReprStyle::List
        } else {
            ArgsReprStyle::Tuple
        });
    if let Some(reply_to) = &captured.properties.reply_to {
        b = b.reply_to(reply_to.clone());
    }
    if let Some(secs) = call["countdown"].as_f64() {
        b = b.countdown(secs, now);
    }
    if !call["eta"].is_null() {
        b = b.eta(time(&call["eta"])?);
    }
    if let Some(secs) = call["expires_in"].as_f64() {
        b = b.expires_in(secs, now);
    }
    if !call["expires_at"].is_null() {
        b = b.expires_at(time(&call["expires_at"])?, now);
    }
    if let Some(p) = call["priority"].as_u64() {
        b = b.priority(u8::try_from(p)?);
    }
    if let Some(t) = call["time_limit"].as_f64() {
        b = b.time_limit(t);
    }
    if let Some(t) = call["soft_time_limit"].as_f64() {
        b = b.soft_time_limit(t);
    }
    for sig in sigs(&call["link"]).unwrap_or_default() {
        b = b.link(sig);
    }
    for sig in sigs(&call["link_error"]).unwrap_or_default() {
        b = b.link_error(sig);
    }
    if let Some(headers) = call["headers"].as_object() {
        for (k, v) in headers {
            b = b.header(k.clone(), HeaderValue::from_json(v));
        }
    }
    if let Some(shadow) = call["shadow"].as_str() {
        b = b.shadow(shadow);
    }
    if call["ignore_result"] == true {
        b = b.ignore_result(true);
    }
    if call["embed_from_capture"] == true {
        b = b.chain(
            captured
                .body
                .embed
                .chain
                .clone()
                .context("captured chain")?,
        );
    }
    if call["group_from_capture"] == true {
        b = b.group(h.group.clone().context("captured group")?, h.group_index);
    }
    Ok(b.build())
}

/// Masks the timestamp-derived values of relative calls (countdown, expires=N/datetime), after
/// checking they are well-formed. Nothing else is touched.
fn normalise(call: &Value, doc: &mut Value) -> Result<()> {
    let mut mask = |path: &[&str], what: &str| -> Result<()> {
        let mut v = &mut *doc;
        for p in path {
            v = v.get_mut(*p).with_context(|| format!("{what}: no {p}"))?;
        }
        if path[0] == "headers" {
            let s = v["value"]
                .as_str()
                .with_context(|| format!("{what} is not a string"))?;
            parse_iso8601(s).with_context(|| format!("{what} {s:?} is not iso 8601"))?;
        } else {
            let s = v.as_str().with_context(|| format!("{what} missing"))?;
            s.parse::<u64>()
                .with_context(|| format!("{what} {s:?} is not ms"))?;
        }
        *v = json!("<normalised>");
        Ok(())
    };
    if !call["countdown"].is_null() {
        mask(&["headers", "eta"], "eta")?;
    }
    if !call["expires_in"].is_null() {
        mask(&["headers", "expires"], "expires")?;
    }
    if !call["expires_at"].is_null() {
        mask(&["properties", "expiration"], "expiration")?;
    }
    Ok(())
}

#[test]
fn every_fixture_decodes() -> Result<()> {
    let fixtures = load_fixtures()?;
    ensure!(
        fixtures.len() >= 27,
        "expected the 27 committed fixtures, found {}",
        fixtures.len()
    );
    for (name, fx) in &fixtures {
        let wire = wire_from_fixture(&fx["message"])?;
        match fx["kind"].as_str() {
            Some("task" | "task_v1" | "task_retry") => {
                let m = TaskMessage::from_wire(&wire)
                    .with_context(|| format!("{name} does not decode"))?;
                assert_eq!(
                    m.properties.correlation_id.as_deref(),
                    Some(m.headers.id.as_str()),
                    "{name}"
                );
            }
            Some("reply") => {
                Reply::decode(&wire.properties, &wire.headers, &wire.body)
                    .with_context(|| format!("{name} does not decode"))?;
            }
            other => bail!("{name}: unknown kind {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn our_encoder_reproduces_every_client_fixture() -> Result<()> {
    let mut checked = 0;
    for (name, fx) in load_fixtures()?
        .iter()
        .filter(|(_, fx)| fx["kind"] == "task")
    {
        let wire = wire_from_fixture(&fx["message"])?;
        let captured = TaskMessage::from_wire(&wire)?;
        assert_eq!(captured.protocol, ProtocolVersion::V2);
        let call = &fx["call"];
        let ours = rebuild(call, &captured, time(&fx["now_before"])?)?.to_wire();
        let mut want = fx["message"].clone();
        let mut got = wire_to_fixture(&ours);
        normalise(call, &mut want)?;
        normalise(call, &mut got)?;
        assert_eq!(got["properties"], want["properties"], "{name}: properties");
        assert_eq!(got["headers"], want["headers"], "{name}: headers");
        assert_eq!(got["body"], want["body"], "{name}: body bytes");
        // And decoding our bytes gives back what decoding Celery's bytes gave.
        assert_eq!(TaskMessage::from_wire(&ours)?.body, captured.body, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 16, "client fixtures checked");
    Ok(())
}

#[test]
fn protocol_v1_fixture_decodes_to_the_same_task() -> Result<()> {
    let fx = load_fixtures()?
        .into_iter()
        .find(|(n, _)| n == "protocol_v1")
        .context("protocol_v1 fixture")?
        .1;
    let m = TaskMessage::from_wire(&wire_from_fixture(&fx["message"])?)?;
    assert_eq!(m.protocol, ProtocolVersion::V1);
    assert_eq!(m.headers.task.as_str(), "fixture_tasks.add");
    assert_eq!(m.body.args, vec![json!(2), json!(2)]);
    assert_eq!(m.headers.timelimit.hard, Some(30.0));
    assert_eq!(m.headers.timelimit.soft, None);
    let (eta, expires) = (
        m.headers.eta.context("eta")?,
        m.headers.expires.context("expires")?,
    );
    assert_eq!((expires - eta).num_seconds(), 3600 - 60);
    assert_eq!(m.properties.expiration.as_deref(), Some("3600000"));
    // Re-encoded as v2, it still means the same task.
    let again = TaskMessage::from_wire(&m.to_wire())?;
    assert_eq!(again.protocol, ProtocolVersion::V2);
    assert_eq!((again.headers, again.body), (m.headers, m.body));
    Ok(())
}

#[test]
fn our_retry_matches_a_python_worker_retry() -> Result<()> {
    let fx = load_fixtures()?
        .into_iter()
        .find(|(n, _)| n == "retry_republish")
        .context("retry fixture")?
        .1;
    let want_wire = wire_from_fixture(&fx["message"])?;
    let python_retry = TaskMessage::from_wire(&want_wire)?;
    let id = TaskId::new(fx["original_id"].as_str().context("original_id")?)?;
    // The original message, as the client sent it (send_task(..., args=(7,), reply_to=...)).
    let original = TaskMessage::builder(TaskName::new("fixture_tasks.retry_once")?)
        .id(id)
        .args(vec![json!(7)])
        .origin(python_retry.headers.origin.clone().context("origin")?)
        .reply_to(
            python_retry
                .properties
                .reply_to
                .clone()
                .context("reply_to")?,
        )
        .build();
    let eta = python_retry.headers.eta.context("eta")?;
    let ours = original
        .retry(eta, eta - chrono::Duration::seconds(30))
        .to_wire();
    assert_eq!(wire_to_fixture(&ours), wire_to_fixture(&want_wire));
    Ok(())
}

fn rebuild_reply(got: &Reply) -> Result<Reply> {
    let id = got.task_id.clone();
    let exc = got.exception();
    let known = |e: &ExceptionInfo| match (e.exc_module.as_str(), e.exc_type.as_str()) {
        ("builtins", "ValueError") => Some(PyException::ValueError),
        ("celery.exceptions", "NotRegistered") => Some(PyException::NotRegistered),
        _ => None,
    };
    let exc = exc.map(|e| match known(&e) {
        Some(kind) => ExceptionInfo::with_args(kind, e.exc_message),
        None => ExceptionInfo::custom(e.exc_module, e.exc_type, e.exc_message),
    });
    let mut reply = match got.status {
        TaskState::Success => Reply::success(id, got.result.clone()),
        TaskState::Failure => Reply::failure(id, &exc.context("exception")?, got.traceback.clone()),
        TaskState::Retry => Reply::retry(id, &exc.context("exception")?, got.traceback.clone()),
        TaskState::Started => {
            let pid = u32::try_from(got.result["pid"].as_u64().context("pid")?)?;
            Reply::started(
                id,
                pid,
                got.result["hostname"].as_str().context("hostname")?,
            )
        }
        other => bail!("no reply fixture for {other}"),
    };
    // Child results are an input of the reply (what the task spawned), not something to derive.
    reply.children.clone_from(&got.children);
    Ok(reply)
}

#[test]
fn our_replies_match_a_python_worker_byte_for_byte() -> Result<()> {
    let mut seen = Vec::new();
    for (name, fx) in load_fixtures()?
        .iter()
        .filter(|(_, fx)| fx["kind"] == "reply")
    {
        let wire = wire_from_fixture(&fx["message"])?;
        let got = Reply::decode(&wire.properties, &wire.headers, &wire.body)?;
        assert_eq!(
            got.date_done, None,
            "{name}: rpc replies carry no date_done"
        );
        let ours = rebuild_reply(&got)?.to_wire(wire.properties.correlation_id.as_deref());
        assert_eq!(wire_to_fixture(&ours), wire_to_fixture(&wire), "{name}");
        seen.push(got.status);
    }
    for state in [
        TaskState::Started,
        TaskState::Success,
        TaskState::Failure,
        TaskState::Retry,
    ] {
        assert!(seen.contains(&state), "no {state} reply fixture");
    }
    assert_eq!(seen.len(), 9);
    Ok(())
}

#[test]
fn python_exception_modules_are_what_celery_reports() -> Result<()> {
    let fixtures = load_fixtures()?;
    let reply = |n: &str| -> Result<Reply> {
        let fx = &fixtures
            .iter()
            .find(|(name, _)| name == n)
            .context("fixture")?
            .1;
        let w = wire_from_fixture(&fx["message"])?;
        Ok(Reply::decode(&w.properties, &w.headers, &w.body)?)
    };
    let nr = reply("reply_not_registered_failure")?
        .exception()
        .context("exc")?;
    assert_eq!(
        nr,
        ExceptionInfo::new(PyException::NotRegistered, "fixture_tasks.nope")
    );
    let builtin = reply("reply_failure_builtin_failure")?
        .exception()
        .context("exc")?;
    assert_eq!(
        builtin,
        ExceptionInfo::with_args(PyException::ValueError, vec![json!("bad value"), json!(42)])
    );
    Ok(())
}

#[test]
fn saferepr_matches_python_on_generated_cases() -> Result<()> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(
        support::fixtures_dir().join("cases/saferepr.json"),
    )?)?;
    let cases = doc["cases"].as_array().context("cases")?;
    assert!(cases.len() >= 400);
    for (i, case) in cases.iter().enumerate() {
        let args = case["args"].as_array().context("args")?;
        assert_eq!(
            args_repr(args, ArgsReprStyle::Tuple),
            case["argsrepr_tuple"].as_str().unwrap(),
            "case {i} tuple"
        );
        assert_eq!(
            args_repr(args, ArgsReprStyle::List),
            case["argsrepr_list"].as_str().unwrap(),
            "case {i} list"
        );
        let kwargs = case["kwargs"].as_object().context("kwargs")?;
        assert_eq!(
            kwargs_repr(kwargs),
            case["kwargsrepr"].as_str().unwrap(),
            "case {i} kwargs"
        );
    }
    Ok(())
}

#[test]
fn iso8601_parsing_agrees_with_dateutil_isoparse() -> Result<()> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(
        support::fixtures_dir().join("cases/iso8601.json"),
    )?)?;
    for case in doc["cases"].as_array().context("cases")? {
        let input = case["input"].as_str().context("input")?;
        let ours = parse_iso8601(input).ok().map(|t| format_iso8601(&t));
        assert_eq!(ours.as_deref(), case["utc"].as_str(), "isoparse({input:?})");
    }
    Ok(())
}

#[test]
fn group_ids_in_fixtures_are_uuids() -> Result<()> {
    let fx = load_fixtures()?
        .into_iter()
        .find(|(n, _)| n == "group_member")
        .context("group fixture")?
        .1;
    let m = TaskMessage::from_wire(&wire_from_fixture(&fx["message"])?)?;
    let group: &GroupId = m.headers.group.as_ref().context("group")?;
    assert!(uuid::Uuid::parse_str(group.as_str()).is_ok());
    assert_eq!(m.headers.group_index, Some(0));
    Ok(())
}
