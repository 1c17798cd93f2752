//! rpc:// replies: where a reply goes (the request's `reply_to`, correlated by its
//! `correlation_id`) and sending one on the confirm channel.

use celeriac_protocol::{ExceptionInfo, PyException, Reply, TaskId, TaskMessage, WireMessage};

use celeriac_broker::{BrokerError, Publisher};

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

    /// Publishes `reply` and waits for the broker's confirm.
    pub(crate) async fn send(
        &self,
        publisher: &Publisher,
        reply: &Reply,
    ) -> Result<(), BrokerError> {
        let wire = reply.to_wire(self.correlation_id.as_deref());
        publisher.publish("", &self.reply_to, &wire).await
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
