//! How a delivery ends, decided and done in one place: the reply (SUCCESS, FAILURE, RETRY,
//! REVOKED, or none), the retry republish, the metrics, events and the one log line per outcome,
//! and then the settlement itself (ack through the session's ledger, reject, or requeue).
//! The delivery pipeline ([`crate::consumer`]) calls in here; nothing here calls back.
//!
//! ```text
//! run ended ─► Finish::conclude ─► reply (confirmed) ─► settle: ack (ledger) | reject | requeue
//! not run   ─► not_run / unknown_task / malformed ─► reply ─► settle
//! ```
//!
//! A delivery whose outcome is decided is marked settling in the ack ledger before its reply
//! goes out, so that the prefetch window ([`crate::window`]) stops counting it as reserved.

use std::time::Duration;

use celeriac_broker::Publisher;
use celeriac_error_chain::error_chain;
use celeriac_protocol::{DecodeError, ExceptionInfo, PyException, Reply, TaskMessage, WireMessage};
use lapin::Acker;
use lapin::options::{BasicNackOptions, BasicRejectOptions};

use crate::control::{DeliveryInfo, Tracking};
use crate::events::{self, Revocation};
use crate::execute::Outcome;
use crate::metrics::{RejectReason, TaskMetrics};
use crate::reply::{ReplyTarget, not_registered, time_limit_exceeded};
use crate::retry::{self, RetryPlan};
use crate::shared::{SessionCtx, Shared};
use crate::task::{Failure, RetryDelay, TaskError, TaskOptions};

/// A delivery taken apart: where it came from and how to settle it.
pub(crate) struct Incoming {
    pub(crate) tag: u64,
    pub(crate) exchange: String,
    pub(crate) routing_key: String,
    pub(crate) redelivered: bool,
    pub(crate) acker: Acker,
}

impl Incoming {
    pub(crate) fn delivery_info(&self) -> DeliveryInfo {
        DeliveryInfo {
            exchange: self.exchange.clone(),
            routing_key: self.routing_key.clone(),
            redelivered: self.redelivered,
        }
    }
}

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

/// Acks (through the session's coalescing ledger), rejects or requeues. A dead channel means
/// the broker redelivers, which is logged only.
pub(crate) async fn settle(session: &SessionCtx, incoming: &Incoming, how: Settle) {
    let result = match how {
        Settle::Ack => return session.acks.ready(incoming.tag),
        Settle::Reject => {
            incoming
                .acker
                .reject(BasicRejectOptions { requeue: false })
                .await
        }
        Settle::Requeue => {
            let requeue = BasicNackOptions {
                requeue: true,
                multiple: false,
            };
            incoming.acker.nack(requeue).await
        }
    };
    session.acks.forget(incoming.tag);
    match result {
        Ok(true) => {}
        Ok(false) => tracing::debug!(
            delivery_tag = incoming.tag,
            "delivery already settled or channel gone"
        ),
        Err(err) => {
            tracing::warn!(delivery_tag = incoming.tag, cause = %err, "could not settle delivery; the broker redelivers it");
        }
    }
}

/// Sends a reply whose loss only costs the client its answer (logged, not propagated).
pub(crate) async fn reply_quietly(publisher: &Publisher, target: &ReplyTarget, reply: &Reply) {
    if let Err(err) = target.send(publisher, reply).await {
        tracing::warn!(cause = %error_chain(&err), status = %reply.status, "could not publish reply");
    }
}

/// Everything needed to conclude one run.
pub(crate) struct Finish<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) session: &'a SessionCtx,
    pub(crate) incoming: &'a Incoming,
    pub(crate) msg: &'a TaskMessage,
    pub(crate) options: &'a TaskOptions,
    /// The task's metrics entry, looked up once per delivery.
    pub(crate) metrics: &'a TaskMetrics,
    pub(crate) target: Option<&'a ReplyTarget>,
}

impl Finish<'_> {
    /// Replies the outcome of a run that took `runtime`, ends its `tracking` in the worker
    /// state, and settles the delivery (with `acks_late`; otherwise it was acked when the task
    /// started). A run stopped by `revoke --terminate` is answered REVOKED whatever the task
    /// returned once cancelled.
    pub(crate) async fn conclude(&self, out: Outcome, runtime: Duration, tracking: Tracking<'_>) {
        if self.options.acks_late {
            self.session.acks.settling(self.incoming.tag);
        }
        let how = if tracking.terminated() {
            // Boxed: rare, and sizes every delivery's task otherwise.
            Box::pin(self.terminated()).await
        } else {
            events::task_ran(self.shared, self.msg, &out, runtime);
            self.decide(out).await
        };
        drop(tracking);
        if self.options.acks_late {
            settle(self.session, self.incoming, how).await;
        }
    }

    /// Replies and returns how to settle the delivery.
    async fn decide(&self, out: Outcome) -> Settle {
        match out {
            Outcome::Finished(Ok(value)) => {
                self.metrics.succeeded.increment(1);
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

    /// A run stopped by `revoke --terminate`: answered REVOKED (`terminated`), acked.
    async fn terminated(&self) -> Settle {
        tracing::info!("task terminated by remote control: answered REVOKED");
        events::task_revoked(self.shared, self.msg, Revocation::Terminated);
        answer_revoked(
            self.session,
            self.msg,
            self.metrics,
            self.target,
            "terminated",
        )
        .await;
        Settle::Ack
    }

    async fn error(&self, err: TaskError) -> Settle {
        match err {
            TaskError::Fail(failure) => self.fail(&failure, "task failed").await,
            TaskError::InvalidArguments(failure) => {
                self.metrics.failed.increment(1);
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
        self.metrics.failed.increment(1);
        tracing::warn!(cause = %error_chain(failure), "{what}");
        let exc = failure.to_exception_info();
        let after = on_failure(self.options);
        events::task_failed(self.shared, self.msg, &exc, after == Settle::Reject);
        let reply = self.failure_reply(&exc);
        self.reply_then(&reply, after, after).await
    }

    async fn timed_out(&self, limit: Duration) -> Settle {
        self.metrics.failed.increment(1);
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
        let publisher = &self.session.publisher;
        if let Err(err) = retry::republish(publisher, exchange, routing_key, self.msg, eta).await {
            tracing::error!(cause = %error_chain(&err), "could not republish the retry: rejecting without requeue");
            let exc = ExceptionInfo::new(PyException::Retry, "could not republish the retry");
            events::task_failed(self.shared, self.msg, &exc, true);
            self.metrics.failed.increment(1);
            return Settle::Reject;
        }
        self.metrics.retried.increment(1);
        tracing::info!(retries = h.retries + 1, eta = %eta, cause = cause.as_ref().map(ToString::to_string), "task will be retried");
        let exc = cause.map_or_else(
            || ExceptionInfo::new(PyException::Retry, format!("Retry at {eta}")),
            |c| c.to_exception_info(),
        );
        events::task_retried(self.shared, self.msg, &exc);
        if let Some(target) = self.target {
            let reply = Reply::retry(h.id.clone(), &exc, None);
            reply_quietly(publisher, target, &reply).await;
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
        match target.send(&self.session.publisher, reply).await {
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

/// Counts a REVOKED outcome and answers it (`TaskRevokedError(reason)`) if a reply is wanted.
async fn answer_revoked(
    session: &SessionCtx,
    msg: &TaskMessage,
    metrics: &TaskMetrics,
    target: Option<&ReplyTarget>,
    reason: &str,
) {
    metrics.revoked.increment(1);
    if let Some(t) = target {
        let reply = Reply::revoked(msg.headers.id.clone(), reason);
        reply_quietly(&session.publisher, t, &reply).await;
    }
}

/// Why a task is not run although it is registered.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NotRun {
    /// Its `expires` passed.
    Expired,
    /// Its id was revoked through remote control.
    Revoked,
}

impl NotRun {
    fn revocation(self) -> Revocation {
        match self {
            NotRun::Expired => Revocation::Expired,
            NotRun::Revoked => Revocation::Revoked,
        }
    }
}

/// A registered task that is not run.
pub(crate) struct Refusal<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) session: &'a SessionCtx,
    pub(crate) incoming: &'a Incoming,
    pub(crate) msg: &'a TaskMessage,
    pub(crate) metrics: &'a TaskMetrics,
    pub(crate) target: Option<&'a ReplyTarget>,
}

impl Refusal<'_> {
    /// Answers REVOKED (reason `expired` or `revoked`, as Celery) and acks, without running.
    pub(crate) async fn not_run(&self, why: NotRun) {
        let (shared, incoming, msg) = (self.shared, self.incoming, self.msg);
        self.session.acks.settling(incoming.tag);
        events::task_revoked(shared, msg, why.revocation());
        let reason = match why {
            NotRun::Expired => {
                tracing::info!(delivery_tag = incoming.tag, expires = ?msg.headers.expires, "task expired: not run");
                "expired"
            }
            NotRun::Revoked => {
                tracing::info!(delivery_tag = incoming.tag, "task revoked: not run");
                "revoked"
            }
        };
        answer_revoked(self.session, msg, self.metrics, self.target, reason).await;
        settle(self.session, incoming, Settle::Ack).await;
    }
}

/// A task name this worker does not know: FAILURE (`NotRegistered`), rejected without requeue.
pub(crate) async fn unknown_task(
    shared: &Shared,
    session: &SessionCtx,
    incoming: &Incoming,
    msg: &TaskMessage,
) {
    session.acks.settling(incoming.tag);
    // task id and name are on the enclosing span
    tracing::error!(
        delivery_tag = incoming.tag,
        "received unregistered task: rejecting without requeue"
    );
    let metrics = shared.metrics.task(crate::metrics::UNREGISTERED);
    metrics.received.increment(1);
    metrics.failed.increment(1);
    shared.metrics.rejected(RejectReason::Unregistered);
    events::task_unregistered(shared, msg);
    if let Some(t) = ReplyTarget::of(msg, false) {
        let reply = t.failure(&not_registered(msg.headers.task.as_str()));
        reply_quietly(&session.publisher, &t, &reply).await;
    }
    settle(session, incoming, Settle::Reject).await;
}

/// An undecodable message: answered FAILURE when possible, rejected without requeue.
pub(crate) async fn malformed(
    shared: &Shared,
    session: &SessionCtx,
    incoming: &Incoming,
    wire: &WireMessage,
    err: &DecodeError,
) {
    session.acks.settling(incoming.tag);
    let target = ReplyTarget::of_undecodable(wire);
    let task_id = target.as_ref().map(|t| t.task_id().to_string());
    tracing::warn!(
        delivery_tag = incoming.tag,
        task_id = task_id.as_deref().unwrap_or("-"),
        cause = %error_chain(err),
        "rejecting undecodable message without requeue"
    );
    shared.metrics.rejected(RejectReason::Malformed);
    if let Some(target) = target {
        let reply = target.failure(&malformed_exception(err));
        reply_quietly(&session.publisher, &target, &reply).await;
    }
    settle(session, incoming, Settle::Reject).await;
}

fn malformed_exception(err: &DecodeError) -> ExceptionInfo {
    match err {
        DecodeError::RefusedContentType { .. } | DecodeError::UnknownContentType { .. } => {
            ExceptionInfo::custom(
                "kombu.exceptions",
                "ContentDisallowed",
                vec![err.to_string().into()],
            )
        }
        _ => ExceptionInfo::new(PyException::InvalidTaskError, error_chain(err)),
    }
}
