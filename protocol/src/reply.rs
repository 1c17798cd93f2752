//! rpc:// result replies: [`Reply`] (the JSON body a worker publishes to the client's `reply_to`
//! queue) and [`ExceptionInfo`] (how a failure is serialized so that Python's `result.get()`
//! raises the right exception type).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::content::{ContentType, UTF8, json_body};
use crate::error::DecodeError;
use crate::ids::TaskId;
use crate::pyjson::to_python_json;
use crate::state::TaskState;
use crate::time::{format_iso8601, parse_iso8601};
use crate::value::HeaderTable;
use crate::wire::{Properties, WireMessage};

/// Exception classes Python can import by name, with their real modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PyException {
    /// `builtins.Exception`.
    Exception,
    /// `builtins.ValueError`.
    ValueError,
    /// `builtins.TypeError`.
    TypeError,
    /// `builtins.KeyError`.
    KeyError,
    /// `builtins.RuntimeError`.
    RuntimeError,
    /// `builtins.OSError`.
    OsError,
    /// `builtins.TimeoutError`.
    TimeoutError,
    /// `builtins.ConnectionError`.
    ConnectionError,
    /// `builtins.PermissionError`.
    PermissionError,
    /// `builtins.FileNotFoundError`.
    FileNotFoundError,
    /// `builtins.NotImplementedError`.
    NotImplementedError,
    /// `celery.exceptions.NotRegistered`: unknown task name.
    NotRegistered,
    /// `celery.exceptions.TaskRevokedError`: revoked, expired or terminated.
    TaskRevokedError,
    /// `celery.exceptions.Retry`.
    Retry,
    /// `celery.exceptions.MaxRetriesExceededError`.
    MaxRetriesExceededError,
    /// `celery.exceptions.InvalidTaskError`.
    InvalidTaskError,
    /// `billiard.exceptions.TimeLimitExceeded` (re-exported by `celery.exceptions`).
    TimeLimitExceeded,
    /// `billiard.exceptions.SoftTimeLimitExceeded`.
    SoftTimeLimitExceeded,
    /// `billiard.exceptions.WorkerLostError`.
    WorkerLostError,
}

impl PyException {
    /// The class's `__qualname__`.
    pub fn type_name(self) -> &'static str {
        match self {
            PyException::Exception => "Exception",
            PyException::ValueError => "ValueError",
            PyException::TypeError => "TypeError",
            PyException::KeyError => "KeyError",
            PyException::RuntimeError => "RuntimeError",
            PyException::OsError => "OSError",
            PyException::TimeoutError => "TimeoutError",
            PyException::ConnectionError => "ConnectionError",
            PyException::PermissionError => "PermissionError",
            PyException::FileNotFoundError => "FileNotFoundError",
            PyException::NotImplementedError => "NotImplementedError",
            PyException::NotRegistered => "NotRegistered",
            PyException::TaskRevokedError => "TaskRevokedError",
            PyException::Retry => "Retry",
            PyException::MaxRetriesExceededError => "MaxRetriesExceededError",
            PyException::InvalidTaskError => "InvalidTaskError",
            PyException::TimeLimitExceeded => "TimeLimitExceeded",
            PyException::SoftTimeLimitExceeded => "SoftTimeLimitExceeded",
            PyException::WorkerLostError => "WorkerLostError",
        }
    }

    /// The class's `__module__`.
    pub fn module(self) -> &'static str {
        match self {
            PyException::NotRegistered
            | PyException::TaskRevokedError
            | PyException::Retry
            | PyException::MaxRetriesExceededError
            | PyException::InvalidTaskError => "celery.exceptions",
            PyException::TimeLimitExceeded
            | PyException::SoftTimeLimitExceeded
            | PyException::WorkerLostError => "billiard.exceptions",
            _ => "builtins",
        }
    }
}

/// A serialized exception, as `Backend.prepare_exception` writes it for JSON.
///
/// Python rebuilds it with `exception_to_python`: it imports `exc_module`, looks up `exc_type`,
/// and raises `cls(*exc_message)`. If the module or class does not exist (e.g. `celeriac.backup`),
/// it synthesizes an exception class with that name, so custom names work as long as they are
/// valid identifiers.
#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionInfo {
    /// Class `__qualname__`, e.g. `ValueError`.
    pub exc_type: String,
    /// The exception's `args`.
    pub exc_message: Vec<Value>,
    /// Class `__module__`, e.g. `builtins`.
    pub exc_module: String,
}

impl ExceptionInfo {
    /// A known Python exception with one message argument.
    pub fn new(kind: PyException, message: impl Into<String>) -> Self {
        Self::with_args(kind, vec![Value::String(message.into())])
    }

    /// A known Python exception with arbitrary args.
    pub fn with_args(kind: PyException, args: Vec<Value>) -> Self {
        ExceptionInfo {
            exc_type: kind.type_name().to_owned(),
            exc_message: args,
            exc_module: kind.module().to_owned(),
        }
    }

    /// An exception class of our own, e.g. `("celeriac.backup", "DestinationUnavailable")`:
    /// Python synthesizes it on `get()`.
    pub fn custom(
        module: impl Into<String>,
        exc_type: impl Into<String>,
        args: Vec<Value>,
    ) -> Self {
        ExceptionInfo {
            exc_type: exc_type.into(),
            exc_message: args,
            exc_module: module.into(),
        }
    }

    /// The dict on the wire: `{exc_type, exc_message, exc_module}`.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("exc_type".into(), Value::String(self.exc_type.clone()));
        obj.insert("exc_message".into(), Value::Array(self.exc_message.clone()));
        obj.insert("exc_module".into(), Value::String(self.exc_module.clone()));
        Value::Object(obj)
    }

    /// Reads the dict back. A string `exc_message` (older Celery) becomes a one-element list.
    pub fn from_json(value: &Value) -> Option<Self> {
        let obj = value.as_object()?;
        let exc_message = match obj.get("exc_message") {
            Some(Value::Array(items)) => items.clone(),
            None | Some(Value::Null) => Vec::new(),
            Some(other) => vec![other.clone()],
        };
        Some(ExceptionInfo {
            exc_type: obj.get("exc_type")?.as_str()?.to_owned(),
            exc_message,
            exc_module: obj
                .get("exc_module")
                .and_then(Value::as_str)
                .unwrap_or("builtins")
                .to_owned(),
        })
    }
}

/// One rpc:// reply (`RPCBackend._to_result`).
///
/// Celery 5.6.3's rpc backend sends exactly `task_id, status, result, traceback, children` (no
/// `date_done`, unlike the key-value backends); [`Reply::date_done`] is only emitted when set.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The task this reply is about.
    pub task_id: TaskId,
    /// Its state.
    pub status: TaskState,
    /// Return value (SUCCESS), exception dict (FAILURE/RETRY/REVOKED), `{pid, hostname}`
    /// (STARTED).
    pub result: Value,
    /// Python traceback text, if any.
    pub traceback: Option<String>,
    /// Result tuples of child tasks (`[[id, parent], null]`), usually empty.
    pub children: Vec<Value>,
    /// Completion time; not sent by the rpc backend, accepted when present.
    pub date_done: Option<DateTime<Utc>>,
    /// Other keys (e.g. `result_extended` fields), kept in order.
    pub extra: Map<String, Value>,
}

impl Reply {
    fn new(task_id: TaskId, status: TaskState, result: Value) -> Self {
        Reply {
            task_id,
            status,
            result,
            traceback: None,
            children: Vec::new(),
            date_done: None,
            extra: Map::new(),
        }
    }

    /// SUCCESS with a JSON return value.
    pub fn success(task_id: TaskId, result: Value) -> Self {
        Self::new(task_id, TaskState::Success, result)
    }

    /// FAILURE with an exception and optional traceback text.
    pub fn failure(task_id: TaskId, exc: &ExceptionInfo, traceback: Option<String>) -> Self {
        Reply {
            traceback,
            ..Self::new(task_id, TaskState::Failure, exc.to_json())
        }
    }

    /// RETRY with the exception that caused the retry.
    pub fn retry(task_id: TaskId, exc: &ExceptionInfo, traceback: Option<String>) -> Self {
        Reply {
            traceback,
            ..Self::new(task_id, TaskState::Retry, exc.to_json())
        }
    }

    /// REVOKED with `TaskRevokedError(reason)` (`revoked`, `expired`, `terminated`).
    pub fn revoked(task_id: TaskId, reason: &str) -> Self {
        let exc = ExceptionInfo::new(PyException::TaskRevokedError, reason);
        Self::new(task_id, TaskState::Revoked, exc.to_json())
    }

    /// STARTED with `{"pid": …, "hostname": …}` (sent only with `task_track_started`).
    pub fn started(task_id: TaskId, pid: u32, hostname: &str) -> Self {
        let mut meta = Map::new();
        meta.insert("pid".into(), Value::from(pid));
        meta.insert("hostname".into(), Value::from(hostname));
        Self::new(task_id, TaskState::Started, Value::Object(meta))
    }

    /// The exception, for exception states.
    pub fn exception(&self) -> Option<ExceptionInfo> {
        if self.status.is_exception() {
            ExceptionInfo::from_json(&self.result)
        } else {
            None
        }
    }

    /// The JSON body, with Python's key order.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("task_id".into(), Value::from(self.task_id.as_str()));
        obj.insert("status".into(), Value::from(self.status.as_str()));
        obj.insert("result".into(), self.result.clone());
        obj.insert(
            "traceback".into(),
            self.traceback.clone().map_or(Value::Null, Value::String),
        );
        obj.insert("children".into(), Value::Array(self.children.clone()));
        if let Some(done) = &self.date_done {
            obj.insert("date_done".into(), Value::String(format_iso8601(done)));
        }
        for (k, v) in &self.extra {
            obj.insert(k.clone(), v.clone());
        }
        Value::Object(obj)
    }

    /// The message to publish to the request's `reply_to` queue: `correlation_id` is the request's
    /// correlation id (or the task id), `delivery_mode = 1` (rpc results are transient unless
    /// `result_persistent`), priority 0, JSON/utf-8. Publish it to the default exchange (`""`).
    pub fn to_wire(&self, correlation_id: Option<&str>) -> WireMessage {
        WireMessage {
            properties: Properties {
                content_type: Some(ContentType::Json.as_mime().to_owned()),
                content_encoding: Some(UTF8.to_owned()),
                correlation_id: Some(correlation_id.unwrap_or(self.task_id.as_str()).to_owned()),
                reply_to: None,
                delivery_mode: Some(1),
                priority: Some(0),
                expiration: None,
            },
            headers: HeaderTable::new(),
            body: to_python_json(&self.to_json()),
        }
    }

    /// Decodes a reply message (content checks as for task messages).
    ///
    /// # Errors
    /// [`DecodeError`] for bad content, a non-dict body, a missing `task_id`/`status`, or an
    /// unknown state.
    pub fn decode(
        properties: &Properties,
        headers: &HeaderTable,
        body: &[u8],
    ) -> Result<Self, DecodeError> {
        let json = json_body(properties, headers, body)?;
        let obj = json.as_object().ok_or(DecodeError::BodyShape {
            expected: "a reply dict",
        })?;
        let task_id = obj
            .get("task_id")
            .and_then(Value::as_str)
            .and_then(|s| TaskId::new(s).ok())
            .ok_or(DecodeError::MissingField { field: "task_id" })?;
        let status: TaskState = obj
            .get("status")
            .and_then(Value::as_str)
            .ok_or(DecodeError::MissingField { field: "status" })?
            .parse()?;
        let mut reply = Reply::new(
            task_id,
            status,
            obj.get("result").cloned().unwrap_or(Value::Null),
        );
        reply.traceback = match obj.get("traceback") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(DecodeError::WrongType {
                    field: "traceback",
                    expected: "a string or null",
                });
            }
        };
        reply.children = match obj.get("children") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(c)) => c.clone(),
            Some(_) => {
                return Err(DecodeError::WrongType {
                    field: "children",
                    expected: "a list",
                });
            }
        };
        reply.date_done = match obj.get("date_done") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                Some(parse_iso8601(s).map_err(|source| DecodeError::BadTime {
                    field: "date_done",
                    source,
                })?)
            }
            Some(_) => {
                return Err(DecodeError::WrongType {
                    field: "date_done",
                    expected: "a string",
                });
            }
        };
        reply.extra = obj
            .iter()
            .filter(|(k, _)| {
                ![
                    "task_id",
                    "status",
                    "result",
                    "traceback",
                    "children",
                    "date_done",
                ]
                .contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(reply)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failure_reply_has_python_shape_and_round_trips() {
        let id = TaskId::new("t1").unwrap();
        let exc = ExceptionInfo::new(PyException::NotRegistered, "tasks.nope");
        let reply = Reply::failure(id, &exc, Some("Traceback...".into()));
        let wire = reply.to_wire(None);
        assert_eq!(
            String::from_utf8(wire.body.clone()).unwrap(),
            r#"{"task_id": "t1", "status": "FAILURE", "result": {"exc_type": "NotRegistered", "exc_message": ["tasks.nope"], "exc_module": "celery.exceptions"}, "traceback": "Traceback...", "children": []}"#
        );
        assert_eq!(wire.properties.delivery_mode, Some(1));
        let back = Reply::decode(&wire.properties, &wire.headers, &wire.body).unwrap();
        assert_eq!(back, reply);
        assert_eq!(back.exception(), Some(exc));
    }

    #[test]
    fn unknown_status_and_missing_fields_are_errors() {
        let p = Properties {
            content_type: Some("application/json".into()),
            ..Properties::default()
        };
        let h = HeaderTable::new();
        let body = serde_json::to_vec(&json!({"task_id": "x", "status": "DONE"})).unwrap();
        assert!(matches!(
            Reply::decode(&p, &h, &body),
            Err(DecodeError::UnknownState { .. })
        ));
        let body = serde_json::to_vec(&json!({"status": "SUCCESS"})).unwrap();
        assert!(matches!(
            Reply::decode(&p, &h, &body),
            Err(DecodeError::MissingField { field: "task_id" })
        ));
    }
}
