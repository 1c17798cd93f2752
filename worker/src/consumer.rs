//! The delivery pipeline: decode → registry → expiry/eta → concurrency permit → execute under
//! time limits, then hand the outcome to [`crate::outcome`], which replies and settles. One
//! spawned task per delivery; bad input is answered and rejected there and never reaches a task.
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
//! its end, so that `inspect active/reserved/scheduled` list it and `revoke` can stop it. The
//! task's metrics entry is looked up once, on receipt, and passed along.
//! ```

use std::sync::Arc;
use std::time::Instant;

use celeriac_protocol::{DecodeError, Reply, TaskMessage, WireMessage};
use chrono::Utc;
use lapin::message::Delivery;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::control::{Revoked, Tracking};
use crate::eta::{EtaWindow, Hold};
use crate::events;
use crate::execute::{self, Limits};
use crate::metrics::TaskMetrics;
use crate::outcome::{self, Finish, Incoming, NotRun, Refusal, Settle, reply_quietly, settle};
use crate::registry::Entry;
use crate::reply::ReplyTarget;
use crate::task::{TaskArgs, TaskContext};
use crate::task_limits::Turn;
use celeriac_broker::wire_from_amqp;

// Remote control and the session loop name these through this module.
pub(crate) use crate::shared::{SessionCtx, Shared};
pub(crate) use celeriac_error_chain::error_chain;

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
            Box::pin(outcome::malformed(
                &shared, &session, &incoming, &wire, &err,
            ))
            .await;
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

async fn process(shared: &Shared, session: &SessionCtx, incoming: Incoming, msg: Box<TaskMessage>) {
    let name = msg.headers.task.as_str();
    let Some(entry) = shared.registry.get(name) else {
        return Box::pin(outcome::unknown_task(shared, session, &incoming, &msg)).await;
    };
    let metrics = shared.metrics.task(name);
    metrics.received.increment(1);
    let target = ReplyTarget::of(&msg, entry.options.ignore_result);
    let msg: Arc<TaskMessage> = Arc::from(msg);
    let refusal = Refusal {
        shared,
        session,
        incoming: &incoming,
        msg: &msg,
        metrics,
        target: target.as_ref(),
    };
    let delivery = incoming.delivery_info();
    let Ok(tracking) = shared
        .state
        .receive(msg.clone(), delivery, entry.options.acks_late)
    else {
        return Box::pin(refusal.not_run(NotRun::Revoked)).await;
    };
    if is_expired(&msg) {
        return Box::pin(refusal.not_run(NotRun::Expired)).await;
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
        .wait_turn(
            msg.headers.task.as_str(),
            &session.gone,
            &shared.metrics.rate_limited,
        )
        .await
        == Turn::Stopped
    {
        return settle(session, &incoming, Settle::Requeue).await;
    }
    let Some(permit) = acquire(shared, &session.gone).await else {
        return settle(session, &incoming, Settle::Requeue).await;
    };
    if is_expired(&msg) {
        return Box::pin(refusal.not_run(NotRun::Expired)).await;
    }
    if !incoming.acker.usable() {
        tracing::debug!(
            delivery_tag = incoming.tag,
            "channel gone before start; the broker redelivers"
        );
        session.acks.forget(incoming.tag);
        return;
    }
    let admitted = Admitted {
        permit,
        tracking,
        metrics,
    };
    run(shared, session, &incoming, &msg, entry, target, admitted).await;
}

/// A request allowed to run: its concurrency slot, its entry in the worker state, and its
/// task's metrics.
struct Admitted<'a> {
    permit: OwnedSemaphorePermit,
    tracking: Tracking<'a>,
    metrics: &'a TaskMetrics,
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
    let Admitted {
        permit,
        tracking,
        metrics,
    } = admitted;
    // Fired by `execute::run` at the soft limit, the hard limit, when the worker gives up, or by
    // `revoke --terminate`.
    let cancel = CancellationToken::new();
    if tracking.start(&cancel) == Err(Revoked) {
        drop(permit);
        let refusal = Refusal {
            shared,
            session,
            incoming,
            msg,
            metrics,
            target: target.as_ref(),
        };
        return Box::pin(refusal.not_run(NotRun::Revoked)).await;
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
    shared.metrics.in_flight.increment(1.0);
    tracing::debug!(
        delivery_tag = incoming.tag,
        retries = msg.headers.retries,
        "task started"
    );
    let started = Instant::now();
    let out = execute::run(entry.task.run(ctx, args), &cancel, limits, &shared.abandon).await;
    let runtime = started.elapsed();
    metrics.observe_runtime(runtime);
    shared.metrics.in_flight.decrement(1.0);
    drop(permit);
    let finish = Finish {
        shared,
        session,
        incoming,
        msg,
        options,
        metrics,
        target: target.as_ref(),
    };
    finish.conclude(out, runtime, tracking).await;
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
