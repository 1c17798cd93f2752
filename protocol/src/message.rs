//! [`TaskMessage`]: one typed task message, decoded from protocol v1, v2 or the v1/v2 hybrid, and
//! encoded as protocol v2 exactly as Celery 5.6's `send_task` does.

use serde_json::{Map, Value};

use crate::body::{Embed, TaskBody};
use crate::content::{ContentType, UTF8, json_body};
use crate::error::DecodeError;
use crate::headers::TaskHeaders;
use crate::pyjson::to_python_json;
use crate::value::{HeaderTable, HeaderValue};
use crate::wire::{Properties, WireMessage};

/// Which protocol a decoded message used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolVersion {
    /// Protocol 1: no `task` header, everything in a body dict (`task_protocol=1`).
    V1,
    /// Protocol 1 body plus non-empty headers, which override the body's fields (Celery's
    /// `hybrid_to_proto2`).
    Hybrid,
    /// Protocol 2: `task` header present, body `[args, kwargs, embed]`.
    V2,
}

/// The AMQP properties of a task message other than the content type and encoding (always JSON
/// and utf-8 when we encode).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskProperties {
    /// Python sets it to the task id; rpc replies must carry it back.
    pub correlation_id: Option<String>,
    /// The rpc reply queue; `None` when absent or `""` (Python's "no reply").
    pub reply_to: Option<String>,
    /// 2 = persistent (Celery's default), 1 = transient.
    pub delivery_mode: Option<u8>,
    /// Message priority; Python always sends one (0 by default).
    pub priority: Option<u8>,
    /// Per-message TTL in milliseconds (set by Celery ≥ 5.2 when `expires` is given).
    pub expiration: Option<String>,
}

/// A task message: typed headers, body and properties.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskMessage {
    /// The protocol it arrived in ([`ProtocolVersion::V2`] for messages we build).
    pub protocol: ProtocolVersion,
    /// Task metadata.
    pub headers: TaskHeaders,
    /// Arguments and workflow links.
    pub body: TaskBody,
    /// AMQP properties.
    pub properties: TaskProperties,
}

impl TaskMessage {
    /// Decodes a message from its AMQP parts.
    ///
    /// Protocol detection follows the Python worker: a `task` header means v2; otherwise the body
    /// is a v1 dict, and any headers present override its fields (hybrid).
    ///
    /// # Errors
    /// A [`DecodeError`] for refused or unknown content types, bad encodings, compressed bodies,
    /// invalid UTF-8 or JSON, wrong shapes and missing `id`/`task`. Never panics.
    pub fn decode(
        properties: &Properties,
        headers: &HeaderTable,
        body: &[u8],
    ) -> Result<Self, DecodeError> {
        let json = json_body(properties, headers, body)?;
        let (protocol, headers, body) = if headers.get("task").is_some_and(|t| !t.is_null()) {
            (
                ProtocolVersion::V2,
                TaskHeaders::from_table(headers)?,
                TaskBody::from_json(&json)?,
            )
        } else {
            decode_v1(headers, &json)?
        };
        Ok(TaskMessage {
            protocol,
            headers,
            body,
            properties: TaskProperties {
                correlation_id: properties.correlation_id.clone(),
                reply_to: properties.reply_to.clone().filter(|r| !r.is_empty()),
                delivery_mode: properties.delivery_mode,
                priority: properties.priority,
                expiration: properties.expiration.clone(),
            },
        })
    }

    /// Decodes a [`WireMessage`]; see [`TaskMessage::decode`].
    ///
    /// # Errors
    /// As [`TaskMessage::decode`].
    pub fn from_wire(wire: &WireMessage) -> Result<Self, DecodeError> {
        Self::decode(&wire.properties, &wire.headers, &wire.body)
    }

    /// Encodes as protocol v2, as Celery 5.6 does: JSON body bytes as Python's `json.dumps`
    /// writes them, all 19 standard headers, `content_type=application/json`,
    /// `content_encoding=utf-8`, and `reply_to=""` when there is none. A v1 message is
    /// re-encoded as v2.
    pub fn to_wire(&self) -> WireMessage {
        let p = &self.properties;
        WireMessage {
            properties: Properties {
                content_type: Some(ContentType::Json.as_mime().to_owned()),
                content_encoding: Some(UTF8.to_owned()),
                correlation_id: p.correlation_id.clone(),
                reply_to: Some(p.reply_to.clone().unwrap_or_default()),
                delivery_mode: p.delivery_mode,
                priority: p.priority,
                expiration: p.expiration.clone(),
            },
            headers: self.headers.to_table(),
            body: to_python_json(&self.body.to_json()),
        }
    }
}

/// Body keys of protocol 1 that are not headers.
const V1_BODY_ONLY: [&str; 8] = [
    "args",
    "kwargs",
    "callbacks",
    "errbacks",
    "chord",
    "utc",
    "taskset",
    "chain",
];

fn decode_v1(
    headers: &HeaderTable,
    json: &Value,
) -> Result<(ProtocolVersion, TaskHeaders, TaskBody), DecodeError> {
    let obj = json.as_object().ok_or(DecodeError::BodyShape {
        expected: "a protocol 1 dict (no task header)",
    })?;
    let mut table: HeaderTable = obj
        .iter()
        .filter(|(k, _)| !V1_BODY_ONLY.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), HeaderValue::from_json(v)))
        .collect();
    if !table.contains_key("group")
        && let Some(taskset) = obj.get("taskset")
    {
        table.insert("group".into(), HeaderValue::from_json(taskset));
    }
    let protocol = if headers.is_empty() {
        ProtocolVersion::V1
    } else {
        ProtocolVersion::Hybrid
    };
    for (k, v) in headers {
        table.insert(k.clone(), v.clone());
    }
    let typed = TaskHeaders::from_table(&table)?;
    let embed = Embed::from_json(&Value::Object(
        ["callbacks", "errbacks", "chord"]
            .into_iter()
            .filter_map(|k| obj.get(k).map(|v| (k.to_owned(), v.clone())))
            .collect::<Map<_, _>>(),
    ))?;
    let body = TaskBody {
        args: match obj.get("args") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => {
                return Err(DecodeError::WrongType {
                    field: "args",
                    expected: "a list",
                });
            }
        },
        kwargs: match obj.get("kwargs") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(DecodeError::WrongType {
                    field: "kwargs",
                    expected: "a dict",
                });
            }
        },
        embed,
    };
    Ok((protocol, typed, body))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use serde_json::json;

    fn json_props() -> Properties {
        Properties {
            content_type: Some("application/json".into()),
            content_encoding: Some("utf-8".into()),
            ..Properties::default()
        }
    }

    #[test]
    fn v1_body_dict_is_decoded_and_headers_override_it() {
        let body = json!({"task": "tasks.add", "id": "i1", "args": [1, 2], "kwargs": {"a": 1},
                          "retries": 2, "eta": null, "utc": true, "taskset": "g1",
                          "timelimit": [10, 5], "callbacks": null, "errbacks": null, "chord": null});
        let bytes = serde_json::to_vec(&body).unwrap();
        let m = TaskMessage::decode(&json_props(), &HeaderTable::new(), &bytes).unwrap();
        assert_eq!(m.protocol, ProtocolVersion::V1);
        assert_eq!(m.headers.retries, 2);
        assert_eq!(m.headers.group.as_ref().unwrap().as_str(), "g1");
        assert_eq!(m.headers.timelimit.hard, Some(10.0));
        assert_eq!(m.body.args, vec![json!(1), json!(2)]);
        assert!(m.headers.extra.is_empty(), "{:?}", m.headers.extra);

        let mut h = HeaderTable::new();
        h.insert("retries".into(), HeaderValue::Int(5));
        let m = TaskMessage::decode(&json_props(), &h, &bytes).unwrap();
        assert_eq!(m.protocol, ProtocolVersion::Hybrid);
        assert_eq!(m.headers.retries, 5);
    }

    #[test]
    fn v1_without_task_or_id_is_a_typed_error() {
        let bytes = serde_json::to_vec(&json!({"id": "x", "args": []})).unwrap();
        assert!(matches!(
            TaskMessage::decode(&json_props(), &HeaderTable::new(), &bytes),
            Err(DecodeError::MissingField { field: "task" })
        ));
        let bytes = serde_json::to_vec(&json!([[], {}, null])).unwrap();
        assert!(matches!(
            TaskMessage::decode(&json_props(), &HeaderTable::new(), &bytes),
            Err(DecodeError::BodyShape { .. })
        ));
    }
}
