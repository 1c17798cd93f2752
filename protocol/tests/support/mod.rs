//! Shared helpers for the protocol integration tests: fixture loading and the typed-header
//! representation generate.py writes (`{"type": "...", "value": ...}`).

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use celeriac_protocol::{HeaderTable, HeaderValue, Properties, WireMessage};
use serde_json::{Map, Value, json};

pub(crate) fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every `tests/fixtures/*.json` as (name, document), sorted by name.
pub(crate) fn load_fixtures() -> Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(fixtures_dir())? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path
                .file_stem()
                .context("stem")?
                .to_string_lossy()
                .into_owned();
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
                .with_context(|| format!("parse {}", path.display()))?;
            out.push((name, doc));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

pub(crate) fn typed_to_header(v: &Value) -> Result<HeaderValue> {
    let value = v.get("value");
    Ok(match v["type"].as_str().context("type")? {
        "null" => HeaderValue::Null,
        "bool" => HeaderValue::Bool(value.and_then(Value::as_bool).context("bool")?),
        "int" => HeaderValue::Int(value.and_then(Value::as_i64).context("int")?),
        "float" => HeaderValue::Float(value.and_then(Value::as_f64).context("float")?),
        "str" => HeaderValue::Str(value.and_then(Value::as_str).context("str")?.to_owned()),
        "list" => HeaderValue::List(
            value
                .and_then(Value::as_array)
                .context("list")?
                .iter()
                .map(typed_to_header)
                .collect::<Result<_>>()?,
        ),
        "table" => HeaderValue::Table(typed_table(value.context("table")?)?),
        other => bail!("fixture header type {other} not used by Celery"),
    })
}

pub(crate) fn typed_table(v: &Value) -> Result<HeaderTable> {
    v.as_object()
        .context("table")?
        .iter()
        .map(|(k, v)| Ok((k.clone(), typed_to_header(v)?)))
        .collect()
}

pub(crate) fn header_to_typed(h: &HeaderValue) -> Value {
    match h {
        HeaderValue::Null => json!({"type": "null"}),
        HeaderValue::Bool(b) => json!({"type": "bool", "value": b}),
        HeaderValue::Int(i) => json!({"type": "int", "value": i}),
        HeaderValue::Float(f) => json!({"type": "float", "value": f}),
        HeaderValue::Str(s) => json!({"type": "str", "value": s}),
        HeaderValue::List(items) => {
            json!({"type": "list", "value": items.iter().map(header_to_typed).collect::<Vec<_>>()})
        }
        HeaderValue::Table(t) => json!({"type": "table", "value": table_to_typed(t)}),
        other => json!({"type": "unsupported", "value": format!("{other:?}")}),
    }
}

pub(crate) fn table_to_typed(t: &HeaderTable) -> Map<String, Value> {
    t.iter()
        .map(|(k, v)| (k.clone(), header_to_typed(v)))
        .collect()
}

fn opt_string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

fn opt_u8(v: &Value) -> Result<Option<u8>> {
    v.as_u64()
        .map(u8::try_from)
        .transpose()
        .context("u8 property")
}

/// The captured message as a [`WireMessage`].
pub(crate) fn wire_from_fixture(msg: &Value) -> Result<WireMessage> {
    let p = &msg["properties"];
    Ok(WireMessage {
        properties: Properties {
            content_type: opt_string(&p["content_type"]),
            content_encoding: opt_string(&p["content_encoding"]),
            correlation_id: opt_string(&p["correlation_id"]),
            reply_to: opt_string(&p["reply_to"]),
            delivery_mode: opt_u8(&p["delivery_mode"])?,
            priority: opt_u8(&p["priority"])?,
            expiration: opt_string(&p["expiration"]),
        },
        headers: typed_table(&msg["headers"])?,
        body: msg["body"].as_str().context("body")?.as_bytes().to_vec(),
    })
}

/// Our wire message in the fixture's representation (for whole-document comparison).
pub(crate) fn wire_to_fixture(w: &WireMessage) -> Value {
    let p = &w.properties;
    json!({
        "properties": {
            "content_type": p.content_type, "content_encoding": p.content_encoding,
            "correlation_id": p.correlation_id, "reply_to": p.reply_to,
            "delivery_mode": p.delivery_mode, "priority": p.priority, "expiration": p.expiration,
        },
        "headers": table_to_typed(&w.headers),
        "body": String::from_utf8_lossy(&w.body),
    })
}
