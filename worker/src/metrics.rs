//! Prometheus metrics of one worker: per-task counters and run-time histogram, the in-flight
//! gauge, broker/rejection counters, the prefetch window, and the monitoring events sent and
//! dropped. The recorder is owned here (no global recorder), so several workers can live in one
//! process.

use std::collections::HashMap;
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::window::WindowMetrics;

const RECEIVED: &str = "celeriac_tasks_received_total";
const SUCCEEDED: &str = "celeriac_tasks_succeeded_total";
const FAILED: &str = "celeriac_tasks_failed_total";
const RETRIED: &str = "celeriac_tasks_retried_total";
const REVOKED: &str = "celeriac_tasks_revoked_total";
const RUNTIME: &str = "celeriac_task_runtime_seconds";
const IN_FLIGHT: &str = "celeriac_tasks_in_flight";
const RATE_LIMITED: &str = "celeriac_tasks_rate_limited";
const REJECTED: &str = "celeriac_messages_rejected_total";
const CONNECTED: &str = "celeriac_broker_connected";
const RECONNECTS: &str = "celeriac_broker_reconnects_total";
const EVENTS_SENT: &str = "celeriac_events_sent_total";
const EVENTS_DROPPED: &str = "celeriac_events_dropped_total";
const PREFETCH: &str = "celeriac_prefetch_count";
const PREFETCH_UPDATES: &str = "celeriac_prefetch_updates_total";

/// Label value used for messages naming a task this worker does not know (the name itself is
/// client input and would make the label set unbounded).
pub(crate) const UNREGISTERED: &str = "<unregistered>";

const RUNTIME_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0, 300.0, 1800.0, 7200.0,
];

/// Counters of one task name.
#[derive(Clone)]
pub(crate) struct TaskMetrics {
    pub(crate) received: Counter,
    pub(crate) succeeded: Counter,
    pub(crate) failed: Counter,
    pub(crate) retried: Counter,
    pub(crate) revoked: Counter,
    pub(crate) runtime: Histogram,
}

impl TaskMetrics {
    pub(crate) fn observe_runtime(&self, elapsed: Duration) {
        self.runtime.record(elapsed.as_secs_f64());
    }
}

/// Why a message was rejected without being run; the label of `celeriac_messages_rejected_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum RejectReason {
    /// Undecodable body, wrong shape, refused content type.
    Malformed,
    /// Unknown task name.
    Unregistered,
    /// Arguments that do not fit the task.
    InvalidArguments,
    /// The task itself asked for a reject, or failed with `acks_on_failure = false`.
    ByTask,
}

impl RejectReason {
    fn as_str(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::Unregistered => "unregistered",
            RejectReason::InvalidArguments => "invalid_arguments",
            RejectReason::ByTask => "by_task",
        }
    }

    const ALL: [RejectReason; 4] = [
        RejectReason::Malformed,
        RejectReason::Unregistered,
        RejectReason::InvalidArguments,
        RejectReason::ByTask,
    ];
}

/// Why a monitoring event was dropped; the label of `celeriac_events_dropped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EventDrop {
    /// The bounded buffer in front of the publisher was full.
    BufferFull,
    /// The broker had blocked the event connection (connection.blocked).
    BrokerBlocked,
    /// No event connection (the broker unreachable, or reconnecting after a failure).
    Disconnected,
    /// The publish failed (the connection broke under it).
    PublishFailed,
}

impl EventDrop {
    fn as_str(self) -> &'static str {
        match self {
            EventDrop::BufferFull => "buffer_full",
            EventDrop::BrokerBlocked => "broker_blocked",
            EventDrop::Disconnected => "disconnected",
            EventDrop::PublishFailed => "publish_failed",
        }
    }

    const ALL: [EventDrop; 4] = [
        EventDrop::BufferFull,
        EventDrop::BrokerBlocked,
        EventDrop::Disconnected,
        EventDrop::PublishFailed,
    ];
}

/// The counters of monitoring events (cheap clones of the registered counters).
#[derive(Clone)]
pub(crate) struct EventCounters {
    /// Events written to the broker.
    pub(crate) sent: Counter,
    dropped: HashMap<EventDrop, Counter>,
}

impl EventCounters {
    /// Counts `n` dropped events.
    pub(crate) fn dropped(&self, why: EventDrop, n: u64) {
        if let Some(c) = self.dropped.get(&why) {
            c.increment(n);
        }
    }
}

/// All metrics of a worker, registered once at startup.
pub(crate) struct Metrics {
    handle: PrometheusHandle,
    tasks: HashMap<String, TaskMetrics>,
    unregistered: TaskMetrics,
    rejected: HashMap<RejectReason, Counter>,
    pub(crate) in_flight: Gauge,
    /// Deliveries waiting for a rate-limit token (reserved, not running).
    pub(crate) rate_limited: Gauge,
    pub(crate) connected: Gauge,
    pub(crate) reconnects: Counter,
    pub(crate) events: EventCounters,
    /// The consuming channel's prefetch window.
    pub(crate) window: WindowMetrics,
}

static METADATA: Metadata<'static> = Metadata::new("celeriac_worker", Level::INFO, None);

impl Metrics {
    /// Registers the metrics of every task name in `names`.
    pub(crate) fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(RUNTIME.to_owned()), RUNTIME_BUCKETS)
            .map_or_else(
                |_| PrometheusBuilder::new().build_recorder(),
                PrometheusBuilder::build_recorder,
            );
        describe(&recorder);
        let tasks = names
            .into_iter()
            .map(|n| (n.to_owned(), task_metrics(&recorder, n)))
            .collect();
        let rejected = RejectReason::ALL
            .into_iter()
            .map(|r| {
                let key = Key::from_parts(REJECTED, vec![Label::new("reason", r.as_str())]);
                (r, recorder.register_counter(&key, &METADATA))
            })
            .collect();
        Self {
            handle: recorder.handle(),
            unregistered: task_metrics(&recorder, UNREGISTERED),
            tasks,
            rejected,
            in_flight: recorder.register_gauge(&Key::from_static_name(IN_FLIGHT), &METADATA),
            rate_limited: recorder.register_gauge(&Key::from_static_name(RATE_LIMITED), &METADATA),
            connected: recorder.register_gauge(&Key::from_static_name(CONNECTED), &METADATA),
            reconnects: recorder.register_counter(&Key::from_static_name(RECONNECTS), &METADATA),
            events: event_counters(&recorder),
            window: WindowMetrics {
                prefetch: recorder.register_gauge(&Key::from_static_name(PREFETCH), &METADATA),
                updates: recorder
                    .register_counter(&Key::from_static_name(PREFETCH_UPDATES), &METADATA),
                in_force: std::sync::Arc::default(),
            },
        }
    }

    /// The metrics of a task name (the shared `<unregistered>` set for unknown names).
    pub(crate) fn task(&self, name: &str) -> &TaskMetrics {
        self.tasks.get(name).unwrap_or(&self.unregistered)
    }

    /// Counts one rejected message.
    pub(crate) fn rejected(&self, reason: RejectReason) {
        if let Some(c) = self.rejected.get(&reason) {
            c.increment(1);
        }
    }

    /// The Prometheus text exposition.
    pub(crate) fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains histogram samples into their buckets so memory stays bounded without scrapes.
    pub(crate) fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

fn task_metrics(recorder: &PrometheusRecorder, task: &str) -> TaskMetrics {
    let key = |name: &'static str| Key::from_parts(name, vec![Label::new("task", task.to_owned())]);
    TaskMetrics {
        received: recorder.register_counter(&key(RECEIVED), &METADATA),
        succeeded: recorder.register_counter(&key(SUCCEEDED), &METADATA),
        failed: recorder.register_counter(&key(FAILED), &METADATA),
        retried: recorder.register_counter(&key(RETRIED), &METADATA),
        revoked: recorder.register_counter(&key(REVOKED), &METADATA),
        runtime: recorder.register_histogram(&key(RUNTIME), &METADATA),
    }
}

fn event_counters(recorder: &PrometheusRecorder) -> EventCounters {
    let dropped = EventDrop::ALL
        .into_iter()
        .map(|r| {
            let key = Key::from_parts(EVENTS_DROPPED, vec![Label::new("reason", r.as_str())]);
            (r, recorder.register_counter(&key, &METADATA))
        })
        .collect();
    EventCounters {
        sent: recorder.register_counter(&Key::from_static_name(EVENTS_SENT), &METADATA),
        dropped,
    }
}

fn describe(recorder: &PrometheusRecorder) {
    let items: [(&'static str, Option<Unit>, &'static str); 15] = [
        (RECEIVED, None, "Task messages received, by task name"),
        (SUCCEEDED, None, "Tasks that returned a value"),
        (
            FAILED,
            None,
            "Tasks answered FAILURE (including time limits and bad arguments)",
        ),
        (RETRIED, None, "Tasks republished for a retry"),
        (
            REVOKED,
            None,
            "Tasks answered REVOKED: expired, revoked, or terminated by remote control",
        ),
        (RUNTIME, Some(Unit::Seconds), "Time spent running tasks"),
        (IN_FLIGHT, None, "Tasks running now"),
        (
            RATE_LIMITED,
            None,
            "Deliveries waiting for their task's rate-limit token (reserved, not running)",
        ),
        (
            REJECTED,
            None,
            "Messages rejected without requeue, by reason",
        ),
        (
            CONNECTED,
            None,
            "1 while connected to the broker and consuming",
        ),
        (
            RECONNECTS,
            None,
            "Broker connections lost and re-established",
        ),
        (
            PREFETCH,
            None,
            "The consuming channel's prefetch count now: the base, widened for held eta \
             messages and for deliveries awaiting their reply confirm and ack",
        ),
        (
            PREFETCH_UPDATES,
            None,
            "Changes of the prefetch count sent to the broker (basic.qos)",
        ),
        (
            EVENTS_SENT,
            None,
            "Monitoring events (celeryev) written to the broker",
        ),
        (
            EVENTS_DROPPED,
            None,
            "Monitoring events dropped so that tasks never wait for them, by reason",
        ),
    ];
    for (name, unit, help) in items {
        if name == RUNTIME {
            recorder.describe_histogram(name.into(), unit, help.into());
        } else if [IN_FLIGHT, RATE_LIMITED, CONNECTED, PREFETCH].contains(&name) {
            recorder.describe_gauge(name.into(), unit, help.into());
        } else {
            recorder.describe_counter(name.into(), unit, help.into());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn renders_per_task_counters_and_histogram() {
        let m = Metrics::new(["celery.accumulate"]);
        let t = m.task("celery.accumulate");
        t.received.increment(2);
        t.succeeded.increment(1);
        t.observe_runtime(Duration::from_millis(3));
        m.task("no.such.task").received.increment(1);
        m.in_flight.increment(1.0);
        m.rejected(RejectReason::Malformed);
        let text = m.render();
        assert!(
            text.contains(r#"celeriac_tasks_received_total{task="celery.accumulate"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"celeriac_tasks_succeeded_total{task="celery.accumulate"} 1"#));
        assert!(text.contains(r#"celeriac_tasks_received_total{task="<unregistered>"} 1"#));
        assert!(
            text.contains(
                r#"celeriac_task_runtime_seconds_bucket{task="celery.accumulate",le="0.005"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("celeriac_tasks_in_flight 1"));
        assert!(
            text.contains("# TYPE celeriac_tasks_rate_limited gauge"),
            "{text}"
        );
        assert!(text.contains(r#"celeriac_messages_rejected_total{reason="malformed"} 1"#));
        m.events.sent.increment(5);
        m.events.dropped(EventDrop::BufferFull, 2);
        let text = m.render();
        assert!(text.contains("celeriac_events_sent_total 5"), "{text}");
        assert!(text.contains(r#"celeriac_events_dropped_total{reason="buffer_full"} 2"#));
        assert!(text.contains(r#"celeriac_events_dropped_total{reason="broker_blocked"} 0"#));
    }
}
