//! [`TaskHeaders`]: the protocol v2 header table, typed, with unknown headers kept verbatim.

use chrono::{DateTime, Utc};

use crate::error::DecodeError;
use crate::ids::{GroupId, TaskId, TaskName};
use crate::time::{format_iso8601, parse_iso8601};
use crate::value::{HeaderTable, HeaderValue};

/// The header names this crate types; every other header lands in [`TaskHeaders::extra`].
pub const KNOWN_HEADERS: [&str; 19] = [
    "lang",
    "task",
    "id",
    "shadow",
    "eta",
    "expires",
    "group",
    "group_index",
    "retries",
    "timelimit",
    "root_id",
    "parent_id",
    "argsrepr",
    "kwargsrepr",
    "origin",
    "ignore_result",
    "replaced_task_nesting",
    "stamped_headers",
    "stamps",
];

/// RabbitMQ dead-lettering headers that a republish must drop (Celery's `X_DEATH_HEADERS`).
pub const X_DEATH_HEADERS: [&str; 4] = [
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
];

/// Time limits from the `timelimit` header, **`[hard, soft]`** in seconds (the protocol doc says
/// "(soft, hard)" but Celery's code reads and writes `[time_limit, soft_time_limit]`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TimeLimit {
    /// Hard limit: the task is killed (`TimeLimitExceeded`).
    pub hard: Option<f64>,
    /// Soft limit: the task is asked to stop (`SoftTimeLimitExceeded`).
    pub soft: Option<f64>,
}

/// The typed protocol v2 headers of a task message.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskHeaders {
    /// `py` from Python clients; informational only.
    pub lang: Option<String>,
    /// Registered task name (required).
    pub task: TaskName,
    /// Task id (required).
    pub id: TaskId,
    /// Display name replacing `task` in logs, if set.
    pub shadow: Option<String>,
    /// Do not run before this instant (countdown is converted to eta by the sender).
    pub eta: Option<DateTime<Utc>>,
    /// Revoke as `expired` if not started by this instant.
    pub expires: Option<DateTime<Utc>>,
    /// Group id when this task is a group member.
    pub group: Option<GroupId>,
    /// Position in the group (Celery 5.0+).
    pub group_index: Option<u32>,
    /// How many times this task has been retried (0 on first delivery).
    pub retries: u32,
    /// `[hard, soft]` time limits.
    pub timelimit: TimeLimit,
    /// First task of the workflow (Python defaults it to `id`).
    pub root_id: Option<TaskId>,
    /// The task that sent this one, if any.
    pub parent_id: Option<TaskId>,
    /// `saferepr` of the args, for logs and monitoring.
    pub argsrepr: Option<String>,
    /// `saferepr` of the kwargs, for logs and monitoring.
    pub kwargsrepr: Option<String>,
    /// Node name of the sender, e.g. `gen1234@host`.
    pub origin: Option<String>,
    /// Store no result (Celery 5.1+; a `null` on input counts as `false`).
    pub ignore_result: bool,
    /// `Task.replace` depth (Celery 5.3.5+).
    pub replaced_task_nesting: u32,
    /// Names of stamped headers (stamping API, 5.3+).
    pub stamped_headers: Option<Vec<String>>,
    /// Stamp values (stamping API).
    pub stamps: HeaderTable,
    /// Every other header (custom `headers=`, `meth`, broker-added ones), kept verbatim so a
    /// republish carries it.
    pub extra: HeaderTable,
}

impl TaskHeaders {
    /// Headers with the required fields and Python's defaults for the rest (`lang` unset).
    pub fn new(task: TaskName, id: TaskId) -> Self {
        TaskHeaders {
            lang: None,
            task,
            id,
            shadow: None,
            eta: None,
            expires: None,
            group: None,
            group_index: None,
            retries: 0,
            timelimit: TimeLimit::default(),
            root_id: None,
            parent_id: None,
            argsrepr: None,
            kwargsrepr: None,
            origin: None,
            ignore_result: false,
            replaced_task_nesting: 0,
            stamped_headers: None,
            stamps: HeaderTable::new(),
            extra: HeaderTable::new(),
        }
    }

    /// Types a header table.
    ///
    /// # Errors
    /// [`DecodeError::MissingField`] without `task`/`id`; [`DecodeError::WrongType`] or
    /// [`DecodeError::BadTime`] when a known header has the wrong type.
    pub fn from_table(table: &HeaderTable) -> Result<Self, DecodeError> {
        let task = TaskName::new(req_str(table, "task")?)
            .map_err(|_| DecodeError::MissingField { field: "task" })?;
        let id = TaskId::new(req_str(table, "id")?)
            .map_err(|_| DecodeError::MissingField { field: "id" })?;
        let mut h = TaskHeaders::new(task, id);
        h.lang = opt_str(table, "lang")?;
        h.shadow = opt_str(table, "shadow")?;
        h.eta = opt_time(table, "eta")?;
        h.expires = opt_time(table, "expires")?;
        h.group = opt_str(table, "group")?.and_then(|s| GroupId::new(s).ok());
        h.group_index = opt_u32(table, "group_index")?;
        h.retries = opt_u32(table, "retries")?.unwrap_or(0);
        h.timelimit = timelimit(table.get("timelimit"))?;
        h.root_id = opt_str(table, "root_id")?.and_then(|s| TaskId::new(s).ok());
        h.parent_id = opt_str(table, "parent_id")?.and_then(|s| TaskId::new(s).ok());
        h.argsrepr = opt_str(table, "argsrepr")?;
        h.kwargsrepr = opt_str(table, "kwargsrepr")?;
        h.origin = opt_str(table, "origin")?;
        h.ignore_result = opt_bool(table, "ignore_result")?.unwrap_or(false);
        h.replaced_task_nesting = opt_u32(table, "replaced_task_nesting")?.unwrap_or(0);
        h.stamped_headers = stamped_headers(table.get("stamped_headers"))?;
        h.stamps = match table.get("stamps") {
            None | Some(HeaderValue::Null) => HeaderTable::new(),
            Some(HeaderValue::Table(t)) => t.clone(),
            Some(_) => return Err(wrong("stamps", "a table")),
        };
        h.extra = table
            .iter()
            .filter(|(k, _)| !KNOWN_HEADERS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(h)
    }

    /// The header table Celery 5.6's `as_task_v2` sends: all 19 known headers (nulls included),
    /// then [`TaskHeaders::extra`] merged over them (as `headers2.update(headers)` does).
    pub fn to_table(&self) -> HeaderTable {
        let s = |v: Option<&str>| v.map_or(HeaderValue::Null, HeaderValue::str);
        let mut t = HeaderTable::new();
        t.insert("lang".into(), s(self.lang.as_deref()));
        t.insert("task".into(), HeaderValue::str(self.task.as_str()));
        t.insert("id".into(), HeaderValue::str(self.id.as_str()));
        t.insert("shadow".into(), s(self.shadow.as_deref()));
        t.insert("eta".into(), self.eta.as_ref().map(format_iso8601).into());
        t.insert(
            "expires".into(),
            self.expires.as_ref().map(format_iso8601).into(),
        );
        t.insert("group".into(), s(self.group.as_ref().map(GroupId::as_str)));
        t.insert("group_index".into(), self.group_index.into());
        t.insert("retries".into(), self.retries.into());
        t.insert(
            "timelimit".into(),
            HeaderValue::List(vec![
                limit_value(self.timelimit.hard),
                limit_value(self.timelimit.soft),
            ]),
        );
        t.insert(
            "root_id".into(),
            s(self.root_id.as_ref().map(TaskId::as_str)),
        );
        t.insert(
            "parent_id".into(),
            s(self.parent_id.as_ref().map(TaskId::as_str)),
        );
        t.insert("argsrepr".into(), s(self.argsrepr.as_deref()));
        t.insert("kwargsrepr".into(), s(self.kwargsrepr.as_deref()));
        t.insert("origin".into(), s(self.origin.as_deref()));
        t.insert("ignore_result".into(), self.ignore_result.into());
        t.insert(
            "replaced_task_nesting".into(),
            self.replaced_task_nesting.into(),
        );
        t.insert(
            "stamped_headers".into(),
            self.stamped_headers
                .as_ref()
                .map_or(HeaderValue::Null, |names| {
                    HeaderValue::List(names.iter().map(HeaderValue::str).collect())
                }),
        );
        t.insert("stamps".into(), HeaderValue::Table(self.stamps.clone()));
        for (k, v) in &self.extra {
            t.insert(k.clone(), v.clone());
        }
        t
    }
}

/// A whole number of seconds goes out as an integer (Python's usual `time_limit=30`), anything
/// else as a float.
fn limit_value(limit: Option<f64>) -> HeaderValue {
    match limit {
        None => HeaderValue::Null,
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
            // Exact: |f| < 2^53 and integral.
            #[allow(clippy::cast_possible_truncation)] // integral and in range, checked above
            HeaderValue::Int(f as i64)
        }
        Some(f) => HeaderValue::Float(f),
    }
}

fn wrong(field: &'static str, expected: &'static str) -> DecodeError {
    DecodeError::WrongType { field, expected }
}

fn present<'a>(table: &'a HeaderTable, field: &str) -> Option<&'a HeaderValue> {
    table.get(field).filter(|v| !v.is_null())
}

fn text(v: &HeaderValue) -> Option<String> {
    match v {
        HeaderValue::Str(s) => Some(s.clone()),
        HeaderValue::Bytes(b) => String::from_utf8(b.clone()).ok(),
        _ => None,
    }
}

fn req_str(table: &HeaderTable, field: &'static str) -> Result<String, DecodeError> {
    let v = present(table, field).ok_or(DecodeError::MissingField { field })?;
    text(v).ok_or(wrong(field, "a string"))
}

fn opt_str(table: &HeaderTable, field: &'static str) -> Result<Option<String>, DecodeError> {
    present(table, field)
        .map(|v| text(v).ok_or(wrong(field, "a string")))
        .transpose()
}

fn opt_u32(table: &HeaderTable, field: &'static str) -> Result<Option<u32>, DecodeError> {
    present(table, field)
        .map(|v| match v {
            HeaderValue::Int(i) => {
                u32::try_from(*i).map_err(|_| wrong(field, "a non-negative integer"))
            }
            _ => Err(wrong(field, "a non-negative integer")),
        })
        .transpose()
}

fn opt_bool(table: &HeaderTable, field: &'static str) -> Result<Option<bool>, DecodeError> {
    present(table, field)
        .map(|v| match v {
            HeaderValue::Bool(b) => Ok(*b),
            HeaderValue::Int(i) => Ok(*i != 0),
            _ => Err(wrong(field, "a boolean")),
        })
        .transpose()
}

fn opt_time(
    table: &HeaderTable,
    field: &'static str,
) -> Result<Option<DateTime<Utc>>, DecodeError> {
    let Some(v) = present(table, field) else {
        return Ok(None);
    };
    match v {
        HeaderValue::Timestamp(secs) => {
            let secs = i64::try_from(*secs).map_err(|_| wrong(field, "a time"))?;
            DateTime::from_timestamp(secs, 0)
                .map(Some)
                .ok_or(wrong(field, "a time"))
        }
        other => {
            let s = text(other).ok_or(wrong(field, "an iso 8601 string"))?;
            parse_iso8601(&s)
                .map(Some)
                .map_err(|source| DecodeError::BadTime { field, source })
        }
    }
}

fn seconds(v: &HeaderValue) -> Result<Option<f64>, DecodeError> {
    match v {
        HeaderValue::Null => Ok(None),
        #[allow(clippy::cast_precision_loss)] // limits are small; f64 is what Python uses too
        HeaderValue::Int(i) => Ok(Some(*i as f64)),
        HeaderValue::Float(f) if f.is_finite() => Ok(Some(*f)),
        _ => Err(wrong("timelimit", "[hard, soft] numbers or nulls")),
    }
}

fn timelimit(v: Option<&HeaderValue>) -> Result<TimeLimit, DecodeError> {
    match v {
        None | Some(HeaderValue::Null) => Ok(TimeLimit::default()),
        Some(HeaderValue::List(items)) if items.len() == 2 => Ok(TimeLimit {
            hard: seconds(&items[0])?,
            soft: seconds(&items[1])?,
        }),
        Some(_) => Err(wrong("timelimit", "[hard, soft] numbers or nulls")),
    }
}

fn stamped_headers(v: Option<&HeaderValue>) -> Result<Option<Vec<String>>, DecodeError> {
    match v {
        None | Some(HeaderValue::Null) => Ok(None),
        Some(HeaderValue::List(items)) => items
            .iter()
            .map(|i| text(i).ok_or(wrong("stamped_headers", "a list of strings")))
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(wrong("stamped_headers", "a list of strings")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn minimal() -> HeaderTable {
        let mut t = HeaderTable::new();
        t.insert("task".into(), HeaderValue::str("tasks.add"));
        t.insert("id".into(), HeaderValue::str("abc"));
        t
    }

    #[test]
    fn only_task_and_id_are_required() {
        let h = TaskHeaders::from_table(&minimal()).unwrap();
        assert_eq!(h.task.as_str(), "tasks.add");
        assert_eq!(h.retries, 0);
        let mut no_id = minimal();
        no_id.remove("id");
        assert!(matches!(
            TaskHeaders::from_table(&no_id),
            Err(DecodeError::MissingField { field: "id" })
        ));
    }

    #[test]
    fn custom_headers_are_kept_and_re_emitted() {
        let mut t = minimal();
        t.insert("x-tenant".into(), HeaderValue::Int(7));
        let h = TaskHeaders::from_table(&t).unwrap();
        assert_eq!(h.extra.get("x-tenant"), Some(&HeaderValue::Int(7)));
        assert_eq!(h.to_table().get("x-tenant"), Some(&HeaderValue::Int(7)));
    }

    #[test]
    fn wrong_types_are_errors() {
        for (k, v) in [
            ("retries", HeaderValue::Int(-1)),
            ("retries", HeaderValue::str("1")),
            ("eta", HeaderValue::str("tomorrow")),
            ("timelimit", HeaderValue::List(vec![HeaderValue::Null])),
            ("stamps", HeaderValue::Int(1)),
        ] {
            let mut t = minimal();
            t.insert(k.into(), v);
            assert!(TaskHeaders::from_table(&t).is_err(), "{k}");
        }
    }

    #[test]
    fn integral_limits_are_sent_as_integers() {
        assert_eq!(limit_value(Some(30.0)), HeaderValue::Int(30));
        assert_eq!(limit_value(Some(2.5)), HeaderValue::Float(2.5));
        assert_eq!(limit_value(None), HeaderValue::Null);
    }
}
