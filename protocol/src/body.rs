//! The task body `[args, kwargs, embed]`: [`TaskBody`], [`Embed`] and canvas [`Signature`]s, plus
//! the kombu JSON type envelopes (`{"__type__": …, "__value__": …}`).
//!
//! Arguments are kept **as they are on the wire** (envelopes intact), so a retry or a chain step
//! republishes exactly what arrived; tasks that want plain JSON call [`TaskBody::plain_args`] /
//! [`TaskBody::plain_kwargs`], which unwrap the envelopes (see [`unwrap_kombu`]).

use serde_json::{Map, Value};

use crate::error::DecodeError;
use crate::ids::TaskName;

/// The body of a protocol v2 task message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskBody {
    /// Positional arguments, as on the wire.
    pub args: Vec<Value>,
    /// Keyword arguments, as on the wire, in their original order.
    pub kwargs: Map<String, Value>,
    /// Workflow links: callbacks, errbacks, chain, chord.
    pub embed: Embed,
}

/// The third body element: what runs after this task.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Embed {
    /// `link`: run with `(retval,)` prepended after success (several are sent as a group).
    pub callbacks: Option<Vec<Signature>>,
    /// `link_error`: run on failure.
    pub errbacks: Option<Vec<Signature>>,
    /// Remaining chain steps, **reversed**: the last element runs next, with `chain[:-1]`.
    pub chain: Option<Vec<Signature>>,
    /// The chord callback when this task is a chord header member (needs a chord-capable backend).
    pub chord: Option<Signature>,
}

/// A canvas signature (`celery.canvas.Signature`, a dict on the wire).
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    /// Task name (`celery.group`, `celery.chain`... for canvas primitives).
    pub task: TaskName,
    /// Positional arguments (partial: the parent's return value is prepended for callbacks).
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Map<String, Value>,
    /// `apply_async` options (`countdown`, `queue`, `link`, `task_id`...), kept verbatim.
    pub options: Map<String, Value>,
    /// `None` for a plain task; `group`, `chain`, `chord`... for canvas primitives. Kept as a
    /// string because applications can register their own canvas types.
    pub subtask_type: Option<String>,
    /// Immutable signatures (`.si()`) do not receive the parent's return value.
    pub immutable: bool,
    /// Any other keys (e.g. `chord_size`), kept in order and re-emitted after the known ones.
    pub extra: Map<String, Value>,
}

impl Signature {
    /// A plain mutable signature for `task` with no arguments or options.
    pub fn new(task: TaskName) -> Self {
        Self {
            task,
            args: Vec::new(),
            kwargs: Map::new(),
            options: Map::new(),
            subtask_type: None,
            immutable: false,
            extra: Map::new(),
        }
    }

    /// Parses a signature dict.
    ///
    /// # Errors
    /// [`DecodeError::WrongType`]/[`DecodeError::MissingField`] when it is not a dict with a
    /// non-empty string `task` and list/dict `args`/`kwargs`/`options`.
    pub fn from_json(value: &Value) -> Result<Self, DecodeError> {
        let obj = value.as_object().ok_or(DecodeError::WrongType {
            field: "signature",
            expected: "a dict",
        })?;
        let mut sig = Signature::new(
            obj.get("task")
                .and_then(Value::as_str)
                .and_then(|s| TaskName::new(s).ok())
                .ok_or(DecodeError::MissingField {
                    field: "signature.task",
                })?,
        );
        for (key, v) in obj {
            match key.as_str() {
                "task" => {}
                "args" => sig.args = list_or_null(v, "signature.args")?,
                "kwargs" => sig.kwargs = dict_or_null(v, "signature.kwargs")?,
                "options" => sig.options = dict_or_null(v, "signature.options")?,
                "subtask_type" => {
                    sig.subtask_type = match v {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        _ => return Err(wrong("signature.subtask_type", "a string or null")),
                    }
                }
                "immutable" => sig.immutable = v.as_bool().unwrap_or(false),
                _ => {
                    sig.extra.insert(key.clone(), v.clone());
                }
            }
        }
        Ok(sig)
    }

    /// The dict Python's `Signature` serializes to (same key order).
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("task".into(), Value::from(self.task.as_str()));
        obj.insert("args".into(), Value::Array(self.args.clone()));
        obj.insert("kwargs".into(), Value::Object(self.kwargs.clone()));
        obj.insert("options".into(), Value::Object(self.options.clone()));
        obj.insert(
            "subtask_type".into(),
            self.subtask_type.clone().map_or(Value::Null, Value::String),
        );
        obj.insert("immutable".into(), Value::Bool(self.immutable));
        for (k, v) in &self.extra {
            obj.insert(k.clone(), v.clone());
        }
        Value::Object(obj)
    }
}

fn wrong(field: &'static str, expected: &'static str) -> DecodeError {
    DecodeError::WrongType { field, expected }
}

fn list_or_null(v: &Value, field: &'static str) -> Result<Vec<Value>, DecodeError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => Ok(items.clone()),
        _ => Err(wrong(field, "a list")),
    }
}

fn dict_or_null(v: &Value, field: &'static str) -> Result<Map<String, Value>, DecodeError> {
    match v {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map.clone()),
        _ => Err(wrong(field, "a dict")),
    }
}

fn signatures(
    v: Option<&Value>,
    field: &'static str,
) -> Result<Option<Vec<Signature>>, DecodeError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(Signature::from_json)
            .collect::<Result<_, _>>()
            .map(Some),
        // Python's maybe_list() also tolerates a single signature dict.
        Some(single @ Value::Object(_)) => Ok(Some(vec![Signature::from_json(single)?])),
        Some(_) => Err(wrong(field, "a list of signatures")),
    }
}

fn signature_list_json(sigs: Option<&Vec<Signature>>) -> Value {
    sigs.map_or(Value::Null, |s| {
        Value::Array(s.iter().map(Signature::to_json).collect())
    })
}

impl Embed {
    /// Parses the embed dict; `null` means "nothing embedded".
    ///
    /// # Errors
    /// [`DecodeError::WrongType`] for anything that is not a dict of signatures.
    pub fn from_json(value: &Value) -> Result<Self, DecodeError> {
        let obj = match value {
            Value::Null => return Ok(Embed::default()),
            Value::Object(obj) => obj,
            _ => return Err(wrong("embed", "a dict or null")),
        };
        Ok(Embed {
            callbacks: signatures(obj.get("callbacks"), "embed.callbacks")?,
            errbacks: signatures(obj.get("errbacks"), "embed.errbacks")?,
            chain: signatures(obj.get("chain"), "embed.chain")?,
            chord: match obj.get("chord") {
                None | Some(Value::Null) => None,
                Some(v) => Some(Signature::from_json(v)?),
            },
        })
    }

    /// The dict Python sends: all four keys, `null` when absent.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert(
            "callbacks".into(),
            signature_list_json(self.callbacks.as_ref()),
        );
        obj.insert(
            "errbacks".into(),
            signature_list_json(self.errbacks.as_ref()),
        );
        obj.insert("chain".into(), signature_list_json(self.chain.as_ref()));
        obj.insert(
            "chord".into(),
            self.chord.as_ref().map_or(Value::Null, Signature::to_json),
        );
        Value::Object(obj)
    }
}

impl TaskBody {
    /// Parses a protocol v2 body: exactly `[args (list), kwargs (dict), embed (dict or null)]`.
    ///
    /// # Errors
    /// [`DecodeError::BodyShape`] or [`DecodeError::WrongType`] for anything else.
    pub fn from_json(value: &Value) -> Result<Self, DecodeError> {
        let Some([args, kwargs, embed]) = value
            .as_array()
            .map(Vec::as_slice)
            .and_then(|s| <&[Value; 3]>::try_from(s).ok())
        else {
            return Err(DecodeError::BodyShape {
                expected: "a list [args, kwargs, embed]",
            });
        };
        Ok(TaskBody {
            args: args.as_array().cloned().ok_or(wrong("args", "a list"))?,
            kwargs: kwargs
                .as_object()
                .cloned()
                .ok_or(wrong("kwargs", "a dict"))?,
            embed: Embed::from_json(embed)?,
        })
    }

    /// The body as Python sends it: `[args, kwargs, embed]`.
    pub fn to_json(&self) -> Value {
        Value::Array(vec![
            Value::Array(self.args.clone()),
            Value::Object(self.kwargs.clone()),
            self.embed.to_json(),
        ])
    }

    /// Positional arguments with kombu type envelopes unwrapped ([`unwrap_kombu`]).
    pub fn plain_args(&self) -> Vec<Value> {
        self.args.iter().map(unwrap_kombu).collect()
    }

    /// Keyword arguments with kombu type envelopes unwrapped ([`unwrap_kombu`]).
    pub fn plain_kwargs(&self) -> Map<String, Value> {
        self.kwargs
            .iter()
            .map(|(k, v)| (k.clone(), unwrap_kombu(v)))
            .collect()
    }
}

/// Replaces kombu JSON type envelopes (`{"__type__": T, "__value__": V}`, exactly those two keys)
/// with plain JSON, recursively:
///
/// | `__type__` | result |
/// |---|---|
/// | `datetime`, `date`, `time` | the ISO string as sent |
/// | `decimal` | the decimal as a string (no precision lost) |
/// | `uuid` (`{"hex": …}`) | the hyphenated lowercase UUID string |
/// | `bytes` | the text |
/// | `base64` | the base64 text, still encoded |
/// | anything else | left as it is (kombu itself would refuse the message) |
pub fn unwrap_kombu(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(unwrap_kombu).collect()),
        Value::Object(obj) => {
            if obj.len() == 2
                && let (Some(Value::String(ty)), Some(inner)) =
                    (obj.get("__type__"), obj.get("__value__"))
                && let Some(plain) = unwrap_envelope(ty, inner)
            {
                return plain;
            }
            Value::Object(
                obj.iter()
                    .map(|(k, v)| (k.clone(), unwrap_kombu(v)))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

fn unwrap_envelope(ty: &str, inner: &Value) -> Option<Value> {
    match (ty, inner) {
        ("datetime" | "date" | "time" | "decimal" | "bytes" | "base64", Value::String(s)) => {
            Some(Value::String(s.clone()))
        }
        ("uuid", Value::Object(o)) => {
            let hex = o.get("hex")?.as_str()?;
            let uuid = uuid::Uuid::try_parse(hex).ok()?;
            Some(Value::String(uuid.hyphenated().to_string()))
        }
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_python_add_delay_body() {
        let v = json!([[2, 2], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]);
        let body = TaskBody::from_json(&v).unwrap();
        assert_eq!(body.args, vec![json!(2), json!(2)]);
        assert_eq!(body.embed, Embed::default());
        assert_eq!(body.to_json(), v);
    }

    #[test]
    fn null_embed_and_wrong_shapes() {
        assert_eq!(
            TaskBody::from_json(&json!([[], {}, null])).unwrap().embed,
            Embed::default()
        );
        for bad in [
            json!([[], {}]),
            json!({}),
            json!([{}, {}, null]),
            json!([[], [], null]),
            json!([[], {}, 3]),
        ] {
            assert!(TaskBody::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signature_round_trips_with_extra_keys_in_order() {
        let v = json!({"task": "t", "args": [1], "kwargs": {}, "options": {"countdown": 3},
                       "subtask_type": null, "immutable": true, "chord_size": null});
        let sig = Signature::from_json(&v).unwrap();
        assert!(sig.immutable);
        assert_eq!(
            serde_json::to_string(&sig.to_json()).unwrap(),
            serde_json::to_string(&v).unwrap()
        );
        assert!(Signature::from_json(&json!({"args": []})).is_err());
    }

    #[test]
    fn kombu_envelopes_unwrap_to_plain_json() {
        let v = json!({
            "when": {"__type__": "datetime", "__value__": "2026-08-20T10:00:00+00:00"},
            "n": [{"__type__": "decimal", "__value__": "1.10"}],
            "u": {"__type__": "uuid", "__value__": {"hex": "12345678123456781234567812345678"}},
            "b": {"__type__": "bytes", "__value__": "abc"},
            "odd": {"__type__": "frobnicate", "__value__": 1},
        });
        assert_eq!(
            unwrap_kombu(&v),
            json!({
                "when": "2026-08-20T10:00:00+00:00",
                "n": ["1.10"],
                "u": "12345678-1234-5678-1234-567812345678",
                "b": "abc",
                "odd": {"__type__": "frobnicate", "__value__": 1},
            })
        );
    }
}
