//! Owns one monitoring event and its wire form, as Celery 5.6.3's `EventDispatcher.publish`
//! sends it: a JSON object with `hostname`, `utcoffset`, `pid`, `clock`, `timestamp`, `type`
//! and the type's own fields, published to `celeryev` with the routing key `type` with `-`
//! turned into `.` (`task.received`, `worker.heartbeat`), `delivery_mode` 1, priority 0, header
//! `hostname`, `application/json` / `utf-8`. Several task events at once go as one `task.multi`
//! message whose body is a JSON list, as a Python worker with an event loop batches them.
//!
//! The fields of each type are those the Python worker sends (`celery/worker/strategy.py`,
//! `request.py`, `heartbeat.py`, `consumer.py`), so `celery.events.state.State` and Flower take
//! them as they take a Python worker's.

use celeriac_protocol::{HeaderValue, Properties, WireMessage};
use serde::Serialize;

/// What the worker says about itself in `worker-*` events (Celery's `Heart._send`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct WorkerInfo {
    /// Seconds between heartbeats.
    pub(crate) freq: f64,
    /// Requests running now.
    pub(crate) active: usize,
    /// Requests started since the worker started.
    pub(crate) processed: u64,
    /// 1, 5 and 15 minute load averages, rounded up to two decimals.
    pub(crate) loadavg: [f64; 3],
    pub(crate) sw_ident: &'static str,
    pub(crate) sw_ver: &'static str,
    pub(crate) sw_sys: &'static str,
}

/// Why a request was revoked (`task-revoked`'s `terminated`, `signum`, `expired`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Revocation {
    /// Its `expires` passed before it ran.
    Expired,
    /// Its id was revoked before it ran.
    Revoked,
    /// `revoke --terminate` stopped it while it ran.
    Terminated,
}

/// The per-type part of an event; `type` is the serde tag.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub(crate) enum EventKind {
    WorkerOnline(WorkerInfo),
    WorkerHeartbeat(WorkerInfo),
    WorkerOffline(WorkerInfo),
    TaskReceived {
        uuid: String,
        name: String,
        /// `argsrepr` (a Python repr string, not the arguments).
        args: String,
        /// `kwargsrepr`.
        kwargs: String,
        root_id: Option<String>,
        parent_id: Option<String>,
        retries: u32,
        /// ISO 8601, or null.
        eta: Option<String>,
        /// ISO 8601, or null.
        expires: Option<String>,
    },
    TaskStarted {
        uuid: String,
    },
    TaskSucceeded {
        uuid: String,
        /// `saferepr` of the return value.
        result: String,
        /// Seconds the task ran.
        runtime: f64,
    },
    TaskFailed {
        uuid: String,
        /// `repr` of the exception, e.g. `ValueError('kaboom')`.
        exception: String,
        /// Absent for an unregistered task, as in Celery.
        #[serde(skip_serializing_if = "Option::is_none")]
        traceback: Option<String>,
    },
    TaskRetried {
        uuid: String,
        exception: String,
        traceback: String,
    },
    TaskRejected {
        uuid: String,
        requeue: bool,
    },
    TaskRevoked {
        uuid: String,
        terminated: bool,
        signum: Option<i32>,
        expired: bool,
    },
}

/// The signal number `task-revoked` reports for a terminated task (SIGTERM, Celery's default).
const SIGTERM: i32 = 15;

impl EventKind {
    /// `task-revoked` for `why`.
    pub(crate) fn revoked(uuid: String, why: Revocation) -> Self {
        EventKind::TaskRevoked {
            uuid,
            terminated: why == Revocation::Terminated,
            signum: (why == Revocation::Terminated).then_some(SIGTERM),
            expired: why == Revocation::Expired,
        }
    }

    /// Whether the event is of the `task` group (rather than `worker`).
    pub(crate) fn is_task(&self) -> bool {
        !matches!(
            self,
            EventKind::WorkerOnline(_)
                | EventKind::WorkerHeartbeat(_)
                | EventKind::WorkerOffline(_)
        )
    }

    /// The routing key: the type with `-` turned into `.`.
    pub(crate) fn routing_key(&self) -> &'static str {
        match self {
            EventKind::WorkerOnline(_) => "worker.online",
            EventKind::WorkerHeartbeat(_) => "worker.heartbeat",
            EventKind::WorkerOffline(_) => "worker.offline",
            EventKind::TaskReceived { .. } => "task.received",
            EventKind::TaskStarted { .. } => "task.started",
            EventKind::TaskSucceeded { .. } => "task.succeeded",
            EventKind::TaskFailed { .. } => "task.failed",
            EventKind::TaskRetried { .. } => "task.retried",
            EventKind::TaskRejected { .. } => "task.rejected",
            EventKind::TaskRevoked { .. } => "task.revoked",
        }
    }
}

/// The routing key of a batch of task events.
pub(crate) const TASK_MULTI: &str = "task.multi";

/// An event as queued for the publisher: its kind, Lamport clock and Unix time, fixed when it
/// happened.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    pub(crate) kind: EventKind,
    pub(crate) clock: u64,
    pub(crate) timestamp: f64,
}

/// What every event of this worker carries besides its own fields.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    /// The node name, e.g. `celeriac@host`.
    pub(crate) hostname: String,
    pub(crate) pid: u32,
    /// Hours west of UTC (Python's `time.timezone // 3600`, or `altzone` in summer).
    pub(crate) utcoffset: i64,
}

#[derive(Serialize)]
struct Body<'a> {
    hostname: &'a str,
    utcoffset: i64,
    pid: u32,
    clock: u64,
    #[serde(flatten)]
    kind: &'a EventKind,
    timestamp: f64,
}

impl Origin {
    fn body<'a>(&'a self, event: &'a Event) -> Body<'a> {
        Body {
            hostname: &self.hostname,
            utcoffset: self.utcoffset,
            pid: self.pid,
            clock: event.clock,
            kind: &event.kind,
            timestamp: event.timestamp,
        }
    }

    /// The message for one event, and its routing key.
    pub(crate) fn message(&self, event: &Event) -> (&'static str, WireMessage) {
        let body = serde_json::to_vec(&self.body(event)).unwrap_or_default();
        (event.kind.routing_key(), self.wire(body))
    }

    /// One `task.multi` message for several task events (a JSON list body).
    pub(crate) fn batch(&self, events: &[Event]) -> WireMessage {
        let bodies: Vec<Body<'_>> = events.iter().map(|e| self.body(e)).collect();
        self.wire(serde_json::to_vec(&bodies).unwrap_or_default())
    }

    fn wire(&self, body: Vec<u8>) -> WireMessage {
        WireMessage {
            properties: Properties {
                content_type: Some("application/json".to_owned()),
                content_encoding: Some("utf-8".to_owned()),
                delivery_mode: Some(1),
                priority: Some(0),
                ..Properties::default()
            },
            headers: [(
                "hostname".to_owned(),
                HeaderValue::Str(self.hostname.clone()),
            )]
            .into_iter()
            .collect(),
            body,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn origin() -> Origin {
        Origin {
            hostname: "celeriac@h".into(),
            pid: 42,
            utcoffset: -1,
        }
    }

    #[test]
    fn one_event_is_celery_shaped() {
        let event = Event {
            kind: EventKind::TaskSucceeded {
                uuid: "id-1".into(),
                result: "3".into(),
                runtime: 0.25,
            },
            clock: 7,
            timestamp: 1.5e9,
        };
        let (key, wire) = origin().message(&event);
        assert_eq!(key, "task.succeeded");
        let body: Value = serde_json::from_slice(&wire.body).unwrap();
        assert_eq!(
            body,
            json!({"hostname": "celeriac@h", "utcoffset": -1, "pid": 42, "clock": 7,
                   "uuid": "id-1", "result": "3", "runtime": 0.25, "timestamp": 1.5e9,
                   "type": "task-succeeded"})
        );
        assert_eq!(wire.properties.delivery_mode, Some(1));
        assert_eq!(wire.properties.priority, Some(0));
        assert_eq!(
            wire.properties.content_type.as_deref(),
            Some("application/json")
        );
        assert_eq!(
            wire.headers["hostname"],
            HeaderValue::Str("celeriac@h".into())
        );
    }

    #[test]
    fn kinds_keys_and_batches() {
        let revoked = EventKind::revoked("x".into(), Revocation::Terminated);
        assert_eq!(revoked.routing_key(), "task.revoked");
        let info = WorkerInfo {
            freq: 2.0,
            active: 1,
            processed: 9,
            loadavg: [0.5, 0.25, 0.0],
            sw_ident: "celeriac",
            sw_ver: "0.1.0",
            sw_sys: "Linux",
        };
        let online = EventKind::WorkerOnline(info);
        assert!(!online.is_task() && revoked.is_task());
        let events = [
            Event {
                kind: revoked,
                clock: 1,
                timestamp: 2.0,
            },
            Event {
                kind: EventKind::revoked("y".into(), Revocation::Expired),
                clock: 2,
                timestamp: 3.0,
            },
        ];
        let wire = origin().batch(&events);
        let body: Value = serde_json::from_slice(&wire.body).unwrap();
        assert_eq!(body[0]["type"], "task-revoked");
        assert_eq!(
            body[0]["type"].as_str().unwrap().replace('-', "."),
            events[0].kind.routing_key()
        );
        assert_eq!(body[0]["terminated"], true);
        assert_eq!(body[0]["signum"], 15);
        assert_eq!(body[1]["expired"], true);
        assert_eq!(body[1]["signum"], Value::Null);
        let (key, wire) = origin().message(&Event {
            kind: online,
            clock: 3,
            timestamp: 4.0,
        });
        assert_eq!(key, "worker.online");
        let body: Value = serde_json::from_slice(&wire.body).unwrap();
        assert_eq!(body["type"], "worker-online");
        assert_eq!(body["loadavg"], json!([0.5, 0.25, 0.0]));
        assert_eq!(body["sw_ident"], "celeriac");
    }
}
