//! The delivery pipeline: decode → registry → expiry/eta → concurrency permit → execute under
//! time limits → reply → ack/reject/retry. One spawned task per delivery; bad input is answered
//! and rejected here and never reaches a task.
//!
//! ```text
//! delivery ─decode─┬─ malformed ──────────────► FAILURE? + reject(requeue=false)
//!                  ├─ unknown task ───────────► FAILURE(NotRegistered) + reject(requeue=false)
//!                  ├─ expired or revoked ─────► REVOKED + ack
//!                  └─ eta? hold ─ permit ─ run ─► reply (confirmed) ─► ack   (acks_late)
//!                                                 ├ retry: republish (confirmed) ─► RETRY ─► ack
//!                                                 └ terminated (revoke --terminate) ─► REVOKED ─► ack
//!
//! Each registered request is tracked in the worker state ([`crate::control`]) from receipt to
//! its end, so that `inspect active/reserved/scheduled` list it and `revoke` can stop it.
//! ```

use std::sync::Arc;
use std::time::Instant;

use celeriac_protocol::{DecodeError, ExceptionInfo, PyException, Reply, TaskMessage, WireMessage};
use chrono::Utc;
use lapin::Acker;
use lapin::message::Delivery;
use lapin::options::{BasicNackOptions, BasicRejectOptions};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::acks::Acks;
use crate::control::{DeliveryInfo, Revoked, Tracking, WorkerState};
use crate::eta::{EtaWindow, Hold};
use crate::events::{self, Events, Revocation};
use crate::execute::{self, Limits};
use crate::metrics::{Metrics, RejectReason};
use crate::outcome::{self, Settle};
use crate::registry::{Entry, Registry};
use crate::reply::{ReplyTarget, not_registered};
use crate::task::{TaskArgs, TaskContext};
use crate::task_limits::{TaskLimits, Turn};
use celeriac_broker::{Publisher, wire_from_amqp};

/// What every delivery handler shares, for the worker's lifetime.
pub(crate) struct Shared {
    pub(crate) registry: Registry,
    /// What remote control reads: requests held, totals, clock, revoked ids.
    pub(crate) state: WorkerState,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) hostname: Arc<str>,
    /// Concurrency limit: a permit per running task.
    pub(crate) permits: Arc<Semaphore>,
    /// Shutdown requested: start nothing new, requeue what has not started.
    pub(crate) stop: CancellationToken,
    /// Grace period over: drop running tasks (their messages are requeued).
    pub(crate) abandon: CancellationToken,
    /// Monitoring events (`celeryev`).
    pub(crate) events: Events,
    /// Rate limits and remote-control time limits, per task.
    pub(crate) limits: TaskLimits,
}

/// What the handlers of one broker connection share.
pub(crate) struct SessionCtx {
    pub(crate) publisher: Publisher,
    /// The ack ledger of the consuming channel.
    pub(crate) acks: Arc<Acks>,
    pub(crate) eta: EtaWindow,
    /// Cancelled when this connection is lost or the worker stops (a child of `Shared::stop`):
    /// held and waiting deliveries give up; the broker redelivers them.
    pub(crate) gone: CancellationToken,
}

/// A delivery taken apart.
pub(crate) struct Incoming {
    pub(crate) tag: u64,
    pub(crate) exchange: String,
    pub(crate) routing_key: String,
    pub(crate) redelivered: bool,
    pub(crate) acker: Acker,
}

impl Incoming {
    fn delivery_info(&self) -> DeliveryInfo {
        DeliveryInfo {
            exchange: self.exchange.clone(),
            routing_key: self.routing_key.clone(),
            redelivered: self.redelivered,
        }
    }
}

/// Handles one delivery to the end (settled, or left to the broker if the channel died).
///
/// This future is what the consume loop spawns per delivery, so it is kept small: the decoded
/// message is boxed and the rare paths (bad input, unknown task, expiry, failures) are boxed
/// futures, which keeps the task allocation and the move into it to a few hundred bytes instead
/// of several KiB.
pub(crate) async fn handle(shared: Arc<Shared>, session: Arc<SessionCtx>, delivery: Delivery) {
    let (incoming, decoded) = decode(delivery);
    match decoded {
        Decoded::Task(msg) => {
            let span = tracing::info_span!("task", task_id = %msg.headers.id, task_name = %msg.headers.task);
            process(&shared, &session, incoming, msg)
                .instrument(span)
                .await;
        }
        Decoded::Malformed(wire, err) => {
            Box::pin(malformed(&shared, &session, &incoming, &wire, &err)).await;
        }
    }
}

/// What a delivery's message decoded to (boxed: it lives in every delivery's future).
enum Decoded {
    Task(Box<TaskMessage>),
    /// The undecoded message and why it could not be decoded.
    Malformed(Box<WireMessage>, Box<DecodeError>),
}

/// A delivery taken apart: where it came from and how to settle it, and its decoded message.
fn decode(delivery: Delivery) -> (Incoming, Decoded) {
    let wire = wire_from_amqp(&delivery.properties, delivery.data);
    let incoming = Incoming {
        tag: delivery.delivery_tag,
        exchange: delivery.exchange.as_str().to_owned(),
        routing_key: delivery.routing_key.as_str().to_owned(),
        redelivered: delivery.redelivered,
        acker: delivery.acker,
    };
    let decoded = match TaskMessage::from_wire(&wire) {
        Ok(msg) => Decoded::Task(Box::new(msg)),
        Err(err) => Decoded::Malformed(Box::new(wire), Box::new(err)),
    };
    (incoming, decoded)
}

/// An undecodable message: answered FAILURE when possible, rejected without requeue.
async fn malformed(
    shared: &Shared,
    session: &SessionCtx,
    incoming: &Incoming,
    wire: &WireMessage,
    err: &DecodeError,
) {
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
        reply_quietly(
            &session.publisher,
            &target,
            &target.failure(&malformed_exception(err)),
        )
        .await;
    }
    settle(session, incoming, Settle::Reject).await;
}

async fn process(shared: &Shared, session: &SessionCtx, incoming: Incoming, msg: Box<TaskMessage>) {
    let name = msg.headers.task.as_str();
    let Some(entry) = shared.registry.get(name) else {
        return Box::pin(unknown_task(shared, session, &incoming, &msg)).await;
    };
    let metrics = shared.metrics.task(name);
    metrics.received.increment(1);
    let target = ReplyTarget::of(&msg, entry.options.ignore_result);
    let msg: Arc<TaskMessage> = Arc::from(msg);
    let refuse = |why| not_run(shared, session, &incoming, &msg, target.as_ref(), why);
    let delivery = incoming.delivery_info();
    let Ok(tracking) = shared
        .state
        .receive(msg.clone(), delivery, entry.options.acks_late)
    else {
        return Box::pin(refuse(NotRun::Revoked)).await;
    };
    if is_expired(&msg) {
        return Box::pin(refuse(NotRun::Expired)).await;
    }
    events::task_received(shared, &msg);
    if let Some(wait) = msg
        .headers
        .eta
        .and_then(|eta| EtaWindow::remaining(eta, Utc::now()))
    {
        tracing::debug!(
            delivery_tag = incoming.tag,
            wait_ms = wait.as_millis(),
            "holding until eta"
        );
        tracking.scheduled();
        if session.eta.hold(wait, &session.gone).await == Hold::Stopped {
            return settle(session, &incoming, Settle::Requeue).await;
        }
        tracking.reserved();
    }
    // Rate limit (task_limits.rs): wait for a token still reserved, holding no permit.
    if shared
        .limits
        .wait_turn(msg.headers.task.as_str(), &session.gone)
        .await
        == Turn::Stopped
    {
        return settle(session, &incoming, Settle::Requeue).await;
    }
    let Some(permit) = acquire(shared, &session.gone).await else {
        return settle(session, &incoming, Settle::Requeue).await;
    };
    if is_expired(&msg) {
        return Box::pin(refuse(NotRun::Expired)).await;
    }
    if !incoming.acker.usable() {
        tracing::debug!(
            delivery_tag = incoming.tag,
            "channel gone before start; the broker redelivers"
        );
        session.acks.forget(incoming.tag);
        return;
    }
    let admitted = Admitted { permit, tracking };
    run(shared, session, &incoming, &msg, entry, target, admitted).await;
}

/// A request allowed to run: its concurrency slot and its entry in the worker state.
struct Admitted<'a> {
    permit: OwnedSemaphorePermit,
    tracking: Tracking<'a>,
}

async fn run(
    shared: &Shared,
    session: &SessionCtx,
    incoming: &Incoming,
    msg: &TaskMessage,
    entry: &Entry,
    target: Option<ReplyTarget>,
    admitted: Admitted<'_>,
) {
    let Admitted { permit, tracking } = admitted;
    // Fired by `execute::run` at the soft limit, the hard limit, when the worker gives up, or by
    // `revoke --terminate`.
    let cancel = CancellationToken::new();
    if tracking.start(&cancel) == Err(Revoked) {
        drop(permit);
        let why = NotRun::Revoked;
        return Box::pin(not_run(
            shared,
            session,
            incoming,
            msg,
            target.as_ref(),
            why,
        ))
        .await;
    }
    events::task_started(shared, msg);
    let options = &entry.options;
    if !options.acks_late {
        settle(session, incoming, Settle::Ack).await;
    }
    if options.track_started
        && let Some(t) = &target
    {
        let started = Reply::started(msg.headers.id.clone(), std::process::id(), &shared.hostname);
        Box::pin(reply_quietly(&session.publisher, t, &started)).await;
    }
    let ctx = TaskContext::new(
        msg.headers.id.clone(),
        msg.headers.task.clone(),
        msg.headers.retries,
        shared.hostname.clone(),
        cancel.clone(),
    );
    let args = TaskArgs {
        args: msg.body.plain_args(),
        kwargs: msg.body.plain_kwargs(),
    };
    let task_limits = shared
        .limits
        .time_limits(msg.headers.task.as_str(), options);
    let limits = Limits::over(msg.headers.timelimit, task_limits);
    let metrics = shared.metrics.task(msg.headers.task.as_str());
    shared.metrics.in_flight.increment(1.0);
    tracing::debug!(
        delivery_tag = incoming.tag,
        retries = msg.headers.retries,
        "task started"
    );
    let started = Instant::now();
    let out = execute::run(entry.task.run(ctx, args), &cancel, limits, &shared.abandon).await;
    metrics.observe_runtime(started.elapsed());
    shared.metrics.in_flight.decrement(1.0);
    drop(permit);
    let settle_as = if tracking.terminated() {
        Box::pin(terminated(shared, session, msg, target.as_ref())).await
    } else {
        events::task_ran(shared, msg, &out, started.elapsed());
        let done = outcome::Finish {
            shared,
            publisher: &session.publisher,
            incoming,
            msg,
            options,
            target: target.as_ref(),
        };
        done.conclude(out).await
    };
    drop(tracking);
    if options.acks_late {
        settle(session, incoming, settle_as).await;
    }
}

/// A run stopped by `revoke --terminate`: answered REVOKED (`terminated`), acked, whatever the
/// task returned once cancelled.
async fn terminated(
    shared: &Shared,
    session: &SessionCtx,
    msg: &TaskMessage,
    target: Option<&ReplyTarget>,
) -> Settle {
    tracing::info!("task terminated by remote control: answered REVOKED");
    events::task_revoked(shared, msg, Revocation::Terminated);
    answer_revoked(shared, session, msg, target, "terminated").await;
    Settle::Ack
}

/// Counts a REVOKED outcome and answers it (`TaskRevokedError(reason)`) if a reply is wanted.
async fn answer_revoked(
    shared: &Shared,
    session: &SessionCtx,
    msg: &TaskMessage,
    target: Option<&ReplyTarget>,
    reason: &str,
) {
    shared
        .metrics
        .task(msg.headers.task.as_str())
        .revoked
        .increment(1);
    if let Some(t) = target {
        let reply = Reply::revoked(msg.headers.id.clone(), reason);
        reply_quietly(&session.publisher, t, &reply).await;
    }
}

async fn acquire(shared: &Shared, gone: &CancellationToken) -> Option<OwnedSemaphorePermit> {
    tokio::select! {
        biased;
        () = gone.cancelled() => None,
        p = shared.permits.clone().acquire_owned() => p.ok(),
    }
}

fn is_expired(msg: &TaskMessage) -> bool {
    msg.headers.expires.is_some_and(|at| at <= Utc::now())
}

async fn unknown_task(
    shared: &Shared,
    session: &SessionCtx,
    incoming: &Incoming,
    msg: &TaskMessage,
) {
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
        reply_quietly(
            &session.publisher,
            &t,
            &t.failure(&not_registered(msg.headers.task.as_str())),
        )
        .await;
    }
    settle(session, incoming, Settle::Reject).await;
}

/// Why a task is not run although it is registered.
#[derive(Debug, Clone, Copy)]
enum NotRun {
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

/// Answers REVOKED (reason `expired` or `revoked`, as Celery) and acks, without running.
async fn not_run(
    shared: &Shared,
    session: &SessionCtx,
    incoming: &Incoming,
    msg: &TaskMessage,
    target: Option<&ReplyTarget>,
    why: NotRun,
) {
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
    answer_revoked(shared, session, msg, target, reason).await;
    settle(session, incoming, Settle::Ack).await;
}

/// Sends a reply whose loss only costs the client its answer (logged, not propagated).
pub(crate) async fn reply_quietly(publisher: &Publisher, target: &ReplyTarget, reply: &Reply) {
    if let Err(err) = target.send(publisher, reply).await {
        tracing::warn!(cause = %error_chain(&err), status = %reply.status, "could not publish reply");
    }
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

/// `err` and its sources joined with ": ", for one log field.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}
