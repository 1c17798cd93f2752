//! Owns the remote-control mailbox on the broker, declared exactly as Celery 5.6.3's
//! `Mailbox('celery', type='fanout', queue_ttl=300, queue_expires=10)` (kombu 5.7) declares it:
//! the fanout exchange `celery.pidbox` (durable=False), one node's queue `<node>.celery.pidbox`
//! bound to it (durable=False, exclusive=False, auto_delete=True, `x-message-ttl` 300000,
//! `x-expires` 10000) consumed on a channel of its own, and replies published on that channel to
//! the requester's direct reply exchange (durable=False, declared before each reply as kombu's
//! `declare=[exchange]` does). What the messages mean is the worker's business.
//!
//! One difference from kombu, invisible to clients: kombu consumes no-ack, so a flood of
//! requests would all be pushed into the worker's memory; here the consumer acks and has a
//! prefetch of [`MAILBOX_PREFETCH`], so at most that many requests are held at once.

use lapin::options::{
    BasicConsumeOptions, BasicQosOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Connection, Consumer, ExchangeKind};

use crate::error::BrokerError;
use crate::publisher::publish_on;
use celeriac_protocol::WireMessage;

/// The request exchange every `celery inspect`/`control` broadcast goes to.
pub const CONTROL_EXCHANGE: &str = "celery.pidbox";
/// Most control requests delivered and not yet handled.
pub const MAILBOX_PREFETCH: u16 = 16;
/// `control_queue_ttl` (300 s) as `x-message-ttl`.
const QUEUE_TTL_MS: i32 = 300_000;
/// `control_queue_expires` (10 s) as `x-expires`.
const QUEUE_EXPIRES_MS: i32 = 10_000;

/// The queue of node `node` (e.g. `celeriac@host.celery.pidbox`).
pub fn pidbox_queue_name(node: &str) -> String {
    format!("{node}.celery.pidbox")
}

/// The arguments of a node's pidbox queue, as kombu sends them (py-amqp encodes both as `I`).
fn queue_arguments() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-message-ttl".into(), AMQPValue::LongInt(QUEUE_TTL_MS));
    args.insert("x-expires".into(), AMQPValue::LongInt(QUEUE_EXPIRES_MS));
    args
}

fn transient_exchange() -> ExchangeDeclareOptions {
    ExchangeDeclareOptions {
        durable: false,
        ..ExchangeDeclareOptions::default()
    }
}

/// One node's mailbox: its channel, on which requests are consumed and replies published.
#[derive(Clone)]
pub struct Mailbox {
    channel: Channel,
}

impl Mailbox {
    /// Opens a channel on `connection`, declares the exchange and `node`'s queue, binds them
    /// and starts a consumer on the queue (prefetch [`MAILBOX_PREFETCH`]; the caller acks each
    /// delivery once handled).
    pub async fn open(
        connection: &Connection,
        node: &str,
    ) -> Result<(Self, Consumer), BrokerError> {
        let channel = connection
            .create_channel()
            .await
            .map_err(|source| BrokerError::Setup {
                what: "remote-control channel",
                source,
            })?;
        let queue = pidbox_queue_name(node);
        let declare_failed = |entity, name: &str| {
            let name = name.to_owned();
            move |source| BrokerError::Declare {
                entity,
                name,
                source,
            }
        };
        channel
            .exchange_declare(
                CONTROL_EXCHANGE.into(),
                ExchangeKind::Fanout,
                transient_exchange(),
                FieldTable::default(),
            )
            .await
            .map_err(declare_failed("exchange", CONTROL_EXCHANGE))?;
        let options = QueueDeclareOptions {
            durable: false,
            exclusive: false,
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(queue.as_str().into(), options, queue_arguments())
            .await
            .map_err(declare_failed("queue", &queue))?;
        channel
            .queue_bind(
                queue.as_str().into(),
                CONTROL_EXCHANGE.into(),
                ShortString::from(""),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(declare_failed("binding", &queue))?;
        let setup = |what| move |source| BrokerError::Setup { what, source };
        channel
            .basic_qos(MAILBOX_PREFETCH, BasicQosOptions { global: false })
            .await
            .map_err(setup("remote-control prefetch"))?;
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                ShortString::from(""),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(setup("remote-control consumer"))?;
        Ok((Self { channel }, consumer))
    }

    /// Publishes a reply to the direct exchange `exchange` with `routing_key`, declaring the
    /// exchange first (transient, as kombu declares `reply.celery.pidbox`). Not confirmed: a
    /// lost reply only costs the requester one answer, as with Celery.
    pub async fn reply(
        &self,
        exchange: &str,
        routing_key: &str,
        message: &WireMessage,
    ) -> Result<(), BrokerError> {
        self.channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Direct,
                transient_exchange(),
                FieldTable::default(),
            )
            .await
            .map_err(|source| BrokerError::Declare {
                entity: "exchange",
                name: exchange.to_owned(),
                source,
            })?;
        publish_on(&self.channel, exchange, routing_key, message, false).await?;
        Ok(())
    }

    /// True while the channel can still be used.
    pub fn is_open(&self) -> bool {
        self.channel.status().connected()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arguments_mirror_kombu() {
        assert_eq!(
            pidbox_queue_name("celeriac@h1"),
            "celeriac@h1.celery.pidbox"
        );
        let args = queue_arguments();
        assert!(matches!(
            args.inner().get("x-message-ttl"),
            Some(AMQPValue::LongInt(300_000))
        ));
        assert!(matches!(
            args.inner().get("x-expires"),
            Some(AMQPValue::LongInt(10_000))
        ));
    }
}
