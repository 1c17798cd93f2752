//! rpc:// replies: where a reply goes (the request's `reply_to`, correlated by its
//! `correlation_id`) and sending one on the confirm channel.
//!
//! A reply is published `mandatory`, and when no queue takes it, published again a few times
//! over about two seconds ([`UNROUTABLE_PAUSES`]) before it is given up. The reason is Celery
//! 5.6.3's rpc result consumer: while `result.get()` waits, every second without a message
//! counts as a lost connection (its 1 s drain timeout is a `socket.timeout`, an `OSError`), so
//! it cancels its consumer, which makes RabbitMQ delete the auto-delete reply queue, reconnects
//! and declares the queue again. A reply published in that gap is unroutable and silently lost
//! (RabbitMQ confirms it anyway), and the client waits until its timeout with the task PENDING;
//! a Python worker's reply is lost the same way. The queue is back within milliseconds.

use std::time::Duration;

use celeriac_protocol::{ExceptionInfo, PyException, Reply, TaskId, TaskMessage, WireMessage};

use celeriac_broker::{BrokerError, Publisher, Routing};

/// The pauses before publishing an unroutable reply again (about 2.4 s in all): long enough for
/// a client's reply queue to be declared again, short enough that a reply to a client that is
/// gone for good does not hold its delivery for long.
pub(crate) const UNROUTABLE_PAUSES: [Duration; 7] = [
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
    Duration::from_millis(800),
];

/// Where a task's replies go; absent when the client wants none.
#[derive(Debug, Clone)]
pub(crate) struct ReplyTarget {
    reply_to: String,
    correlation_id: Option<String>,
    task_id: TaskId,
}

impl ReplyTarget {
    /// The target of a decoded message, unless results are ignored (by the message or the task).
    pub(crate) fn of(msg: &TaskMessage, ignore_result: bool) -> Option<Self> {
        if ignore_result || msg.headers.ignore_result {
            return None;
        }
        let reply_to = msg.properties.reply_to.as_ref()?;
        Some(Self {
            reply_to: reply_to.clone(),
            correlation_id: msg.properties.correlation_id.clone(),
            task_id: msg.headers.id.clone(),
        })
    }

    /// The target of a message that could not be decoded, if its id and `reply_to` are readable.
    pub(crate) fn of_undecodable(wire: &WireMessage) -> Option<Self> {
        let reply_to = wire.properties.reply_to.clone().filter(|r| !r.is_empty())?;
        let task_id = task_id_of_undecodable(wire)?;
        Some(Self {
            reply_to,
            correlation_id: wire.properties.correlation_id.clone(),
            task_id,
        })
    }

    /// The task id replies are about.
    pub(crate) fn task_id(&self) -> &TaskId {
        &self.task_id
    }

    /// Publishes `reply` and waits for the broker's confirm; while no queue takes it, publishes
    /// it again after each of [`UNROUTABLE_PAUSES`], then gives it up (logged: the client is
    /// gone, which is no reason to run the task again).
    pub(crate) async fn send(
        &self,
        publisher: &Publisher,
        reply: &Reply,
    ) -> Result<(), BrokerError> {
        let wire = reply.to_wire(self.correlation_id.as_deref());
        let mut pauses = UNROUTABLE_PAUSES.iter();
        loop {
            if publisher
                .publish_mandatory("", &self.reply_to, &wire)
                .await?
                == Routing::Routed
            {
                return Ok(());
            }
            let Some(pause) = pauses.next() else {
                tracing::warn!(reply_to = %self.reply_to, status = %reply.status, "reply queue missing: reply given up (the client is gone)");
                return Ok(());
            };
            tracing::debug!(reply_to = %self.reply_to, status = %reply.status, retry_in_ms = pause.as_millis(), "reply queue missing: publishing the reply again");
            tokio::time::sleep(*pause).await;
        }
    }

    /// FAILURE with `exc`.
    pub(crate) fn failure(&self, exc: &ExceptionInfo) -> Reply {
        Reply::failure(self.task_id.clone(), exc, None)
    }
}

/// The best id for a message we could not decode: the `id` header, else the correlation id.
pub(crate) fn task_id_of_undecodable(wire: &WireMessage) -> Option<TaskId> {
    wire.headers
        .get("id")
        .and_then(|v| v.as_str())
        .or(wire.properties.correlation_id.as_deref())
        .and_then(|s| TaskId::new(s).ok())
}

/// `NotRegistered(name)`, as a Python worker answers an unknown task.
pub(crate) fn not_registered(name: &str) -> ExceptionInfo {
    ExceptionInfo::new(PyException::NotRegistered, name)
}

/// `TimeLimitExceeded(seconds)`, as a Python worker answers a hard time limit.
pub(crate) fn time_limit_exceeded(limit: std::time::Duration) -> ExceptionInfo {
    ExceptionInfo::with_args(
        PyException::TimeLimitExceeded,
        vec![serde_json::json!(limit.as_secs_f64())],
    )
}
