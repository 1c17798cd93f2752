//! The raw AMQP echo ceiling of `bench/worker-throughput`: consumes a task queue and answers
//! every message with a SUCCESS reply to its `reply_to`, with the same AMQP work a worker does
//! per task and nothing else: one delivery, one confirmed publish, and coalesced acks sent only
//! after the reply's confirm (as `acks_late`), over the same client library and connection
//! settings as the worker. No decoding, no task, no bookkeeping: what is left is what RabbitMQ
//! and lapin allow on this machine, the ceiling a worker can approach.
//!
//! Usage: `bench_echo <broker-url> <queue> <prefetch>`; prints `ready` once consuming, then
//! runs until killed.

use std::collections::VecDeque;

use celeriac_broker::BrokerUrl;
use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, PublisherConfirm};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, queue, prefetch] = args.as_slice() else {
        return Err("usage: bench_echo <broker-url> <queue> <prefetch>".into());
    };
    let url = BrokerUrl::parse(url)?;
    let prefetch: u16 = prefetch.parse()?;
    // One thread, as the worker runs by default.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(echo(&url, queue, prefetch))
}

async fn echo(url: &BrokerUrl, queue: &str, prefetch: u16) -> Result<(), Error> {
    let connection = celeriac_broker::connect(url, "celeriac bench echo").await?;
    let consume = connection.create_channel().await?;
    let publish = connection.create_channel().await?;
    publish
        .confirm_select(lapin::options::ConfirmSelectOptions::default())
        .await?;
    consume
        .basic_qos(prefetch, BasicQosOptions { global: true })
        .await?;
    let mut deliveries = consume
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    println!("ready");
    // Replies in publish order: confirms come back in that order on one channel.
    let mut waiting: VecDeque<(u64, PublisherConfirm)> = VecDeque::new();
    loop {
        tokio::select! {
            biased;
            confirmed = next_confirm(&mut waiting), if !waiting.is_empty() => {
                let mut last = confirmed?;
                // everything else already confirmed goes in the same multiple ack
                while let Some((tag, confirm)) = waiting.front_mut() {
                    match futures::FutureExt::now_or_never(&mut *confirm) {
                        Some(result) => {
                            ensure_acked(&result?)?;
                            last = *tag;
                            waiting.pop_front();
                        }
                        None => break,
                    }
                }
                consume.basic_ack(last, BasicAckOptions { multiple: true }).await?;
            }
            delivery = deliveries.next() => {
                let Some(delivery) = delivery else { return Ok(()) };
                let delivery = delivery?;
                let confirm = reply(&publish, &delivery.properties).await?;
                waiting.push_back((delivery.delivery_tag, confirm));
            }
        }
    }
}

/// Waits for the oldest reply's confirm; returns its delivery's tag.
async fn next_confirm(waiting: &mut VecDeque<(u64, PublisherConfirm)>) -> Result<u64, Error> {
    let Some((tag, confirm)) = waiting.front_mut() else {
        return Err("nothing to wait for".into());
    };
    let tag = *tag;
    ensure_acked(&confirm.await?)?;
    waiting.pop_front();
    Ok(tag)
}

fn ensure_acked(confirmation: &Confirmation) -> Result<(), Error> {
    match confirmation {
        Confirmation::Nack(_) => Err("the broker nacked a reply".into()),
        _ => Ok(()),
    }
}

/// Publishes a SUCCESS reply as the worker's for `celery.accumulate` looks (same size and
/// properties).
async fn reply(channel: &Channel, request: &BasicProperties) -> Result<PublisherConfirm, Error> {
    let reply_to = request.reply_to().as_ref().map_or("", |r| r.as_str());
    let correlation_id = request
        .correlation_id()
        .as_ref()
        .map_or_else(String::new, ToString::to_string);
    let body = format!(
        r#"{{"status": "SUCCESS", "result": [0, "x"], "traceback": null, "children": [], "date_done": "2026-12-04T00:00:00.000000+00:00", "task_id": "{correlation_id}"}}"#
    );
    let properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_content_encoding("utf-8".into())
        .with_correlation_id(correlation_id.as_str().into())
        .with_delivery_mode(1);
    let confirm = channel
        .basic_publish(
            "".into(),
            reply_to.into(),
            BasicPublishOptions::default(),
            body.as_bytes(),
            properties,
        )
        .await?;
    Ok(confirm)
}
