//! Monitoring events (Celery's `celeryev`), so that Flower and `celery events` see this worker
//! and its tasks as they see a Python worker's.
//!
//! * `event.rs`: one event, its fields and its wire form.
//! * `publisher.rs`: the task that publishes them over a connection of its own.
//! * `heartbeat.rs`: `worker-online`, `worker-heartbeat` every 2 s, `worker-offline`.
//! * `settings.rs`: [`EventSettings`] from the config file and flags.
//! * here: [`Events`], the handle in the worker's shared state, the hooks the delivery path calls
//!   (`task_received`, `task_started`, ...), and [`Runner`], which starts and stops the tasks.
//!
//! The delivery path never waits for an event: each hook is a flag check when task events are
//! off, and otherwise builds the event and `try_send`s it into a bounded buffer; when the buffer
//! is full the event is dropped and counted (`celeriac_events_dropped_total`). Clock values come
//! from the Lamport clock remote control uses, as in Celery (one `app.clock`).
//!
//! ```text
//!  delivery path ─hooks─► Events::send ──try_send──► [bounded buffer] ──► publisher ──► celeryev
//!  heartbeat (2 s) ──────► Events::send                  │ full: drop+count     (own connection)
//!  remote control: enable_events / disable_events / heartbeat
//! ```

mod event;
mod heartbeat;
mod publisher;
mod settings;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use celeriac_protocol::{ExceptionInfo, TaskMessage, args_repr, kwargs_repr, value_repr};
use serde_json::Value;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::consumer::Shared;
use crate::control::WorkerState;
use crate::execute::Outcome;
use crate::health::Health;
use crate::metrics::{EventCounters, EventDrop};
pub(crate) use event::Revocation;
use event::{Event, EventKind, Origin};
pub use settings::{DEFAULT_EVENTS_BUFFER, EventSettings};

/// Celery's `resultrepr_maxsize`: how much of a result `task-succeeded` shows.
const RESULT_REPR_MAXSIZE: usize = 1024;

/// The events side of the worker's shared state: what is enabled, and the buffer's sending end.
pub(crate) struct Events {
    /// Task events on (`-E`, `enable_events`, `disable_events`).
    tasks_on: AtomicBool,
    /// Worker heartbeats on (not `--without-heartbeat`).
    heartbeat: bool,
    tx: mpsc::Sender<Event>,
    counters: EventCounters,
}

impl Events {
    /// The handle, and the buffer's receiving end for [`Runner::start`].
    pub(crate) fn new(
        settings: &EventSettings,
        counters: EventCounters,
    ) -> (Self, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(settings.buffer.max(1));
        let events = Self {
            tasks_on: AtomicBool::new(settings.task_events),
            heartbeat: settings.heartbeat,
            tx,
            counters,
        };
        (events, rx)
    }

    /// Whether task events are sent.
    pub(crate) fn task_events(&self) -> bool {
        self.tasks_on.load(Ordering::Relaxed)
    }

    /// Turns task events on or off; returns whether they were on.
    pub(crate) fn set_task_events(&self, on: bool) -> bool {
        self.tasks_on.swap(on, Ordering::Relaxed)
    }

    /// Queues an event happening now, or drops it if the buffer is full.
    fn send(&self, state: &WorkerState, kind: EventKind) {
        let event = Event {
            kind,
            clock: state.clock_forward(),
            timestamp: unix_now(),
        };
        match self.tx.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.counters.dropped(EventDrop::BufferFull, 1),
            Err(TrySendError::Closed(_)) => self.counters.dropped(EventDrop::Disconnected, 1),
        }
    }

    /// Queues an event, waiting up to `patience` for room (for `worker-offline`).
    async fn send_waiting(&self, state: &WorkerState, kind: EventKind, patience: Duration) {
        let event = Event {
            kind,
            clock: state.clock_forward(),
            timestamp: unix_now(),
        };
        if self.tx.send_timeout(event, patience).await.is_err() {
            self.counters.dropped(EventDrop::BufferFull, 1);
        }
    }

    /// Queues a task event if task events are on.
    fn task(&self, state: &WorkerState, kind: impl FnOnce() -> EventKind) {
        if self.task_events() {
            self.send(state, kind());
        }
    }
}

/// Now as Unix seconds.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn uuid(msg: &TaskMessage) -> String {
    msg.headers.id.as_str().to_owned()
}

/// `task-received`: a registered task was received (and is neither revoked nor expired).
pub(crate) fn task_received(shared: &Shared, msg: &TaskMessage) {
    shared.events.task(&shared.state, || {
        let h = &msg.headers;
        EventKind::TaskReceived {
            uuid: uuid(msg),
            name: h.task.as_str().to_owned(),
            args: h.argsrepr.clone().unwrap_or_else(|| {
                args_repr(
                    &msg.body.plain_args(),
                    celeriac_protocol::ArgsReprStyle::Tuple,
                )
            }),
            kwargs: h
                .kwargsrepr
                .clone()
                .unwrap_or_else(|| kwargs_repr(&msg.body.plain_kwargs())),
            root_id: h.root_id.as_ref().map(|id| id.as_str().to_owned()),
            parent_id: h.parent_id.as_ref().map(|id| id.as_str().to_owned()),
            retries: h.retries,
            eta: h.eta.map(|t| t.to_rfc3339()),
            expires: h.expires.map(|t| t.to_rfc3339()),
        }
    });
}

/// `task-started`: the task begins to run.
pub(crate) fn task_started(shared: &Shared, msg: &TaskMessage) {
    shared
        .events
        .task(&shared.state, || EventKind::TaskStarted { uuid: uuid(msg) });
}

/// `task-succeeded` if the run returned a value (the other outcomes are told where they are
/// decided: [`task_failed`], [`task_retried`], [`task_rejected`], [`task_revoked`]).
pub(crate) fn task_ran(shared: &Shared, msg: &TaskMessage, out: &Outcome, runtime: Duration) {
    if let Outcome::Finished(Ok(value)) = out {
        shared
            .events
            .task(&shared.state, || EventKind::TaskSucceeded {
                uuid: uuid(msg),
                result: value_repr(value, RESULT_REPR_MAXSIZE),
                runtime: runtime.as_secs_f64(),
            });
    }
}

/// `task-failed` with the exception answered; then `task-rejected` if the message is rejected
/// rather than acked (Celery's `on_failure` with `acks_on_failure_or_timeout = False`).
pub(crate) fn task_failed(shared: &Shared, msg: &TaskMessage, exc: &ExceptionInfo, rejected: bool) {
    shared.events.task(&shared.state, || EventKind::TaskFailed {
        uuid: uuid(msg),
        exception: exception_repr(exc),
        traceback: Some(traceback(exc)),
    });
    if rejected {
        task_rejected(shared, msg, false);
    }
}

/// `task-failed` for a task name this worker does not know (Celery's `on_unknown_task`).
pub(crate) fn task_unregistered(shared: &Shared, msg: &TaskMessage) {
    shared.events.task(&shared.state, || EventKind::TaskFailed {
        uuid: uuid(msg),
        exception: format!(
            "NotRegistered({})",
            value_repr(
                &Value::String(msg.headers.task.as_str().to_owned()),
                usize::MAX
            )
        ),
        traceback: None,
    });
}

/// `task-retried`: the task was republished for a retry because of `exc`.
pub(crate) fn task_retried(shared: &Shared, msg: &TaskMessage, exc: &ExceptionInfo) {
    shared
        .events
        .task(&shared.state, || EventKind::TaskRetried {
            uuid: uuid(msg),
            exception: exception_repr(exc),
            traceback: traceback(exc),
        });
}

/// `task-rejected`: the message was rejected (requeued or not).
pub(crate) fn task_rejected(shared: &Shared, msg: &TaskMessage, requeue: bool) {
    shared
        .events
        .task(&shared.state, || EventKind::TaskRejected {
            uuid: uuid(msg),
            requeue,
        });
}

/// `task-revoked`: not run (expired or revoked), or stopped by `revoke --terminate`.
pub(crate) fn task_revoked(shared: &Shared, msg: &TaskMessage, why: Revocation) {
    shared
        .events
        .task(&shared.state, || EventKind::revoked(uuid(msg), why));
}

/// `worker-heartbeat` now (remote control's `heartbeat`), whether or not heartbeats are on.
pub(crate) fn heartbeat_now(shared: &Shared) {
    let info = heartbeat::worker_info(shared);
    shared
        .events
        .send(&shared.state, EventKind::WorkerHeartbeat(info));
}

/// Python's `repr(exc)` of an exception: `ValueError('kaboom')`, `Retry()`.
fn exception_repr(exc: &ExceptionInfo) -> String {
    let args: Vec<String> = exc
        .exc_message
        .iter()
        .map(|v| match v {
            Value::String(s) => py_str_repr(s),
            other => value_repr(other, RESULT_REPR_MAXSIZE),
        })
        .collect();
    format!("{}({})", exc.exc_type, args.join(", "))
}

/// Python's `repr(str)` (not Celery's `saferepr`, which always uses single quotes): double
/// quotes when the text has a single quote and no double quote.
fn py_str_repr(s: &str) -> String {
    use std::fmt::Write as _;
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// The last line of a Python traceback for `exc` (there are no Python frames to show):
/// `ValueError: kaboom`, `billiard.exceptions.TimeLimitExceeded: 5.0`.
fn traceback(exc: &ExceptionInfo) -> String {
    let class = if exc.exc_module == "builtins" || exc.exc_module.is_empty() {
        exc.exc_type.clone()
    } else {
        format!("{}.{}", exc.exc_module, exc.exc_type)
    };
    let message: Vec<String> = exc
        .exc_message
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => value_repr(other, RESULT_REPR_MAXSIZE),
        })
        .collect();
    if message.is_empty() {
        format!("{class}\n")
    } else {
        format!("{class}: {}\n", message.join(", "))
    }
}

/// The heartbeat and publisher tasks of a running worker.
pub(crate) struct Runner {
    heart_stop: CancellationToken,
    heart: Option<tokio::task::JoinHandle<()>>,
    publisher_stop: CancellationToken,
    publisher: Option<tokio::task::JoinHandle<()>>,
}

impl Runner {
    /// Starts the publisher (it connects when the first event comes) and, unless heartbeats
    /// are off, the heartbeat.
    pub(crate) fn start(
        config: &Config,
        shared: &Arc<Shared>,
        health: &Arc<Health>,
        rx: mpsc::Receiver<Event>,
    ) -> Self {
        let target = publisher::Target {
            url: config
                .events
                .broker
                .clone()
                .unwrap_or_else(|| config.broker.clone()),
            connection_name: format!("celeriac worker {} events", config.hostname),
            origin: Origin {
                hostname: config.hostname.clone(),
                pid: std::process::id(),
                utcoffset: heartbeat::utc_offset_hours(),
            },
            counters: shared.events.counters.clone(),
        };
        let publisher_stop = CancellationToken::new();
        let publisher = tokio::spawn(publisher::run(target, rx, publisher_stop.clone()));
        let heart_stop = CancellationToken::new();
        let heart = shared.events.heartbeat.then(|| {
            tokio::spawn(heartbeat::run(
                shared.clone(),
                health.clone(),
                heart_stop.clone(),
            ))
        });
        Self {
            heart_stop,
            heart,
            publisher_stop,
            publisher: Some(publisher),
        }
    }

    /// Sends `worker-offline` (if the worker went online), publishes what is buffered within
    /// a few seconds, and closes the event connection.
    pub(crate) async fn finish(mut self) {
        self.heart_stop.cancel();
        if let Some(heart) = self.heart.take() {
            let _ = heart.await;
        }
        self.publisher_stop.cancel();
        if let Some(publisher) = self.publisher.take() {
            let _ = publisher.await;
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        // an early return (a startup error) must not leave the tasks behind
        self.heart_stop.cancel();
        self.publisher_stop.cancel();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use celeriac_protocol::PyException;

    #[test]
    fn exceptions_read_as_python_writes_them() {
        let e = ExceptionInfo::custom("builtins", "ValueError", vec!["kaboom".into()]);
        assert_eq!(exception_repr(&e), "ValueError('kaboom')");
        assert_eq!(traceback(&e), "ValueError: kaboom\n");
        let e = ExceptionInfo::new(PyException::TimeLimitExceeded, "it's late");
        assert_eq!(exception_repr(&e), "TimeLimitExceeded(\"it's late\")");
        assert_eq!(
            traceback(&e),
            "billiard.exceptions.TimeLimitExceeded: it's late\n"
        );
        assert_eq!(py_str_repr("a'b\"c\\\n\u{1}é"), r#"'a\'b"c\\\n\x01é'"#);
        let e = ExceptionInfo::custom("m", "E", vec![]);
        assert_eq!(
            (exception_repr(&e), traceback(&e)),
            ("E()".into(), "m.E\n".into())
        );
    }

    #[test]
    fn a_full_buffer_drops_and_the_flag_gates_task_events() {
        let metrics = crate::metrics::Metrics::new(["t"]);
        let settings = EventSettings {
            buffer: 2,
            ..EventSettings::default()
        };
        let (events, mut rx) = Events::new(&settings, metrics.events.clone());
        let state = WorkerState::new("n@h".into());
        events.task(&state, || EventKind::TaskStarted { uuid: "a".into() });
        assert!(rx.try_recv().is_err(), "task events are off by default");
        assert!(!events.set_task_events(true));
        for id in ["a", "b", "c"] {
            events.task(&state, || EventKind::TaskStarted { uuid: id.into() });
        }
        let first = rx.try_recv().unwrap();
        assert_eq!(first.kind, EventKind::TaskStarted { uuid: "a".into() });
        assert_eq!(first.clock, 1);
        assert!(first.timestamp > 1.0e9);
        assert_eq!(rx.try_recv().unwrap().clock, 2);
        assert!(rx.try_recv().is_err(), "the third did not fit");
        assert!(
            metrics
                .render()
                .contains(r#"celeriac_events_dropped_total{reason="buffer_full"} 1"#)
        );
    }
}
