//! Remote control (Celery's "pidbox"), so that `celery inspect …` / `celery control …` and
//! Flower see this worker: the mailbox loop of one broker connection ([`serve`]) takes each
//! request from `<hostname>.celery.pidbox`, runs it if it is addressed to this node, and replies
//! `{hostname: answer}` to the requester's `reply_to` with its `ticket`, as kombu's
//! `Node.handle_message` does.
//!
//! * `request.rs`: decoding a request, destination matching, the reply message, [`ControlError`].
//! * `commands.rs`: the commands and their answers ([`Node`]).
//! * `consumers.rs`: the consumed queues ([`Queues`]), `add_consumer` and `cancel_consumer`.
//! * `state.rs`: [`WorkerState`], the requests, totals, clock and revoked ids the commands read
//!   and the delivery path keeps up to date.
//! * `revoked.rs`: the bounded, expiring set of revoked ids.
//!
//! A malformed request is logged and dropped; nothing here can stop the worker. Requests are
//! handled one at a time (at most `MAILBOX_PREFETCH` are delivered and waiting), each command on
//! a blocking thread since some answers (`active` with large arguments) take real work; only
//! `add_consumer` / `cancel_consumer` are async (they wait for the delivery loop and the broker).

mod commands;
mod consumers;
mod request;
mod revoked;
mod state;

use std::sync::Arc;

use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::BasicAckOptions;
use tokio_util::sync::CancellationToken;

use celeriac_broker::{Mailbox, wire_from_amqp};
use lapin::Consumer;

pub(crate) use commands::Node;
pub(crate) use consumers::{Queues, apply as apply_queue_change};
pub(crate) use request::ControlError;
pub(crate) use state::{DeliveryInfo, Revoked, Tracking, WorkerState};

use crate::consumer::error_chain;
use commands::Answer;
use request::{ControlRequest, reply_message};

/// Serves `node`'s mailbox until `gone` fires or the channel goes away.
pub(crate) async fn serve(
    node: Arc<Node>,
    mailbox: Mailbox,
    mut requests: Consumer,
    gone: CancellationToken,
) {
    loop {
        let delivery = tokio::select! {
            biased;
            () = gone.cancelled() => return,
            next = requests.next() => match next {
                Some(Ok(delivery)) => delivery,
                Some(Err(err)) => {
                    tracing::warn!(cause = %err, "remote control: mailbox channel lost; inspect/control unanswered until reconnect");
                    return;
                }
                None => return,
            },
        };
        handle(&node, &mailbox, delivery).await;
    }
}

/// Handles one request to the end: decode, dispatch, reply, ack.
async fn handle(node: &Arc<Node>, mailbox: &Mailbox, delivery: Delivery) {
    let acker = delivery.acker.clone();
    let wire = wire_from_amqp(&delivery.properties, delivery.data);
    match ControlRequest::from_wire(&wire) {
        Ok((request, clock)) => {
            let state = &node.shared.state;
            state.clock_adjust(clock);
            if request.is_for(&node.shared.hostname) {
                run(node, mailbox, request).await;
            }
        }
        Err(err) => drop_malformed(&err),
    }
    if let Err(err) = acker.ack(BasicAckOptions::default()).await {
        tracing::debug!(cause = %err, "remote control: could not ack a request");
    }
}

fn drop_malformed(err: &ControlError) {
    tracing::warn!(cause = %error_chain(err), "remote control: dropping malformed request");
}

async fn run(node: &Arc<Node>, mailbox: &Mailbox, request: ControlRequest) {
    let ControlRequest {
        method,
        ticket,
        reply_to,
        ..
    } = &request;
    let (method, ticket, reply_to) = (method.clone(), ticket.clone(), reply_to.clone());
    tracing::debug!(%method, ticket = ticket.as_deref().unwrap_or("-"), "remote control request");
    let arguments = request.arguments();
    let answer = match method.as_str() {
        // these talk to the broker (through the delivery loop): async, not on a blocking thread
        "add_consumer" => Answer::Reply(node.queues.add(&arguments).await),
        "cancel_consumer" => Answer::Reply(node.queues.cancel(&arguments).await),
        _ => {
            let worker = node.clone();
            let name = method.clone();
            tokio::task::spawn_blocking(move || worker.dispatch(&name, &arguments))
                .await
                .unwrap_or_else(|err| {
                    tracing::error!(%method, cause = %err, "remote control: command panicked");
                    Answer::Reply(
                        serde_json::json!({ "error": format!("command {method} failed") }),
                    )
                })
        }
    };
    let (Answer::Reply(value), Some(reply_to)) = (answer, reply_to) else {
        return;
    };
    let clock = node.shared.state.clock_forward();
    let message = reply_message(&node.shared.hostname, value, ticket.as_deref(), clock);
    if let Err(err) = mailbox
        .reply(&reply_to.exchange, &reply_to.routing_key, &message)
        .await
    {
        tracing::warn!(%method, cause = %error_chain(&err), "remote control: could not publish the reply");
    }
}
