//! Turning a finished run into its reply and its settlement: SUCCESS/FAILURE/RETRY replies,
//! the retry republish, metrics and the one log line per outcome.

use celeriac_protocol::{ExceptionInfo, PyException, Reply, TaskMessage};

use crate::consumer::{Incoming, Shared, error_chain};
use crate::events;
use crate::execute::Outcome;
use crate::metrics::RejectReason;
use crate::reply::{ReplyTarget, time_limit_exceeded};
use crate::retry::{self, RetryPlan};
use crate::task::{Failure, RetryDelay, TaskError, TaskOptions};
use celeriac_broker::Publisher;

/// What to do with the delivery once the outcome is replied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settle {
    /// basic.ack: done.
    Ack,
    /// basic.reject without requeue: a dead-letter exchange may catch it.
    Reject,
    /// basic.nack with requeue: run it again (here or elsewhere).
    Requeue,
}

/// Everything needed to conclude one run.
pub(crate) struct Finish<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) publisher: &'a Publisher,
    pub(crate) incoming: &'a Incoming,
    pub(crate) msg: &'a TaskMessage,
    pub(crate) options: &'a crate::task::TaskOptions,
    pub(crate) target: Option<&'a ReplyTarget>,
}

impl Finish<'_> {
    /// Replies and returns how to settle the delivery.
    pub(crate) async fn conclude(&self, out: Outcome) -> Settle {
        let metrics = self.shared.metrics.task(self.msg.headers.task.as_str());
        match out {
            Outcome::Finished(Ok(value)) => {
                metrics.succeeded.increment(1);
                tracing::debug!("task succeeded");
                let reply = Reply::success(self.msg.headers.id.clone(), value);
                self.reply_then(&reply, Settle::Ack, Settle::Requeue).await
            }
            // Boxed: rare, and large futures (retry republish) that would otherwise size every
            // delivery's task.
            Outcome::Finished(Err(err)) => Box::pin(self.error(err)).await,
            Outcome::HardLimit(limit) => Box::pin(self.timed_out(limit)).await,
            Outcome::Abandoned => {
                tracing::warn!(
                    "shutdown grace period over: task abandoned, its message is requeued"
                );
                Settle::Requeue
            }
        }
    }

    async fn error(&self, err: TaskError) -> Settle {
        let metrics = self.shared.metrics.task(self.msg.headers.task.as_str());
        match err {
            TaskError::Fail(failure) => self.fail(&failure, "task failed").await,
            TaskError::InvalidArguments(failure) => {
                metrics.failed.increment(1);
                self.shared.metrics.rejected(RejectReason::InvalidArguments);
                tracing::warn!(delivery_tag = self.incoming.tag, cause = %failure, "invalid task arguments: rejecting without requeue");
                let exc = failure.to_exception_info();
                events::task_failed(self.shared, self.msg, &exc, true);
                let reply = self.failure_reply(&exc);
                self.reply_then(&reply, Settle::Reject, Settle::Reject)
                    .await
            }
            TaskError::Reject { reason } => {
                self.shared.metrics.rejected(RejectReason::ByTask);
                tracing::warn!(delivery_tag = self.incoming.tag, %reason, "task rejected its message");
                events::task_rejected(self.shared, self.msg, false);
                Settle::Reject
            }
            TaskError::TimeLimit { limit } => self.timed_out(limit).await,
            TaskError::Panicked => {
                let failure = Failure::new("TaskPanicked", "celeriac.worker", "the task panicked");
                self.fail(&failure, "task panicked").await
            }
            TaskError::Retry { delay, cause } => self.retry(&delay, cause).await,
        }
    }

    async fn fail(&self, failure: &Failure, what: &str) -> Settle {
        self.shared
            .metrics
            .task(self.msg.headers.task.as_str())
            .failed
            .increment(1);
        tracing::warn!(cause = %error_chain(failure), "{what}");
        let exc = failure.to_exception_info();
        let after = on_failure(self.options);
        events::task_failed(self.shared, self.msg, &exc, after == Settle::Reject);
        let reply = self.failure_reply(&exc);
        self.reply_then(&reply, after, after).await
    }

    async fn timed_out(&self, limit: std::time::Duration) -> Settle {
        self.shared
            .metrics
            .task(self.msg.headers.task.as_str())
            .failed
            .increment(1);
        tracing::error!(
            limit_secs = limit.as_secs_f64(),
            "hard time limit exceeded: task abandoned"
        );
        let exc = time_limit_exceeded(limit);
        let after = on_failure(self.options);
        events::task_failed(self.shared, self.msg, &exc, after == Settle::Reject);
        let reply = self.failure_reply(&exc);
        self.reply_then(&reply, after, after).await
    }

    async fn retry(&self, delay: &RetryDelay, cause: Option<Failure>) -> Settle {
        let h = &self.msg.headers;
        let eta = match retry::plan_now(self.options, h.retries, delay) {
            RetryPlan::At(eta) => eta,
            RetryPlan::Exhausted => {
                let failure = cause.unwrap_or_else(|| {
                    let message = format!(
                        "Can't retry {}[{}] args:{} kwargs:{}",
                        h.task,
                        h.id,
                        h.argsrepr.as_deref().unwrap_or("()"),
                        h.kwargsrepr.as_deref().unwrap_or("{}")
                    );
                    Failure::python(PyException::MaxRetriesExceededError, message)
                });
                return self.fail(&failure, "retries exhausted: task failed").await;
            }
        };
        let (exchange, routing_key) = (&self.incoming.exchange, &self.incoming.routing_key);
        if let Err(err) =
            retry::republish(self.publisher, exchange, routing_key, self.msg, eta).await
        {
            tracing::error!(cause = %error_chain(&err), "could not republish the retry: rejecting without requeue");
            let exc = ExceptionInfo::new(PyException::Retry, "could not republish the retry");
            events::task_failed(self.shared, self.msg, &exc, true);
            self.shared
                .metrics
                .task(h.task.as_str())
                .failed
                .increment(1);
            return Settle::Reject;
        }
        self.shared
            .metrics
            .task(h.task.as_str())
            .retried
            .increment(1);
        tracing::info!(retries = h.retries + 1, eta = %eta, cause = cause.as_ref().map(ToString::to_string), "task will be retried");
        let exc = cause.map_or_else(
            || ExceptionInfo::new(PyException::Retry, format!("Retry at {eta}")),
            |c| c.to_exception_info(),
        );
        events::task_retried(self.shared, self.msg, &exc);
        if let Some(target) = self.target {
            let reply = Reply::retry(h.id.clone(), &exc, None);
            crate::consumer::reply_quietly(self.publisher, target, &reply).await;
        }
        Settle::Ack
    }

    fn failure_reply(&self, exc: &ExceptionInfo) -> Reply {
        Reply::failure(self.msg.headers.id.clone(), exc, None)
    }

    /// Sends `reply` (if anyone waits for it), then settles `ok`; if the reply is lost, `lost`.
    async fn reply_then(&self, reply: &Reply, ok: Settle, lost: Settle) -> Settle {
        let Some(target) = self.target else {
            return ok;
        };
        match target.send(self.publisher, reply).await {
            Ok(()) => ok,
            Err(err) => {
                tracing::warn!(cause = %error_chain(&err), status = %reply.status, "could not publish reply");
                lost
            }
        }
    }
}

fn on_failure(options: &TaskOptions) -> Settle {
    if options.acks_on_failure {
        Settle::Ack
    } else {
        Settle::Reject
    }
}
