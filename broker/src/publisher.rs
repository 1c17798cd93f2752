//! Owns the confirmed publisher: a channel in confirm mode on which each publish waits for the
//! broker's ack. The worker publishes replies and retries with it, beat its task messages. A
//! `mandatory` publish ([`Publisher::publish_mandatory`]) also tells whether the message reached
//! a queue: RabbitMQ confirms an unroutable message all the same.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{Channel, Confirmation, Connection};

use crate::error::BrokerError;
use crate::wire::amqp_properties;
use celeriac_protocol::WireMessage;

/// Publishes on a confirm-mode channel and waits for the broker's confirm. Clones share the
/// channel.
#[derive(Clone)]
pub struct Publisher {
    channel: Channel,
}

impl Publisher {
    /// Opens a channel on `connection` and turns publisher confirms on.
    pub async fn open(connection: &Connection) -> Result<Self, BrokerError> {
        let channel = connection
            .create_channel()
            .await
            .map_err(|source| BrokerError::Setup {
                what: "publishing channel",
                source,
            })?;
        Self::confirming(channel).await
    }

    /// Turns publisher confirms on for `channel` (confirm.select) and publishes on it.
    pub async fn confirming(channel: Channel) -> Result<Self, BrokerError> {
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|source| BrokerError::Setup {
                what: "publisher confirms",
                source,
            })?;
        Ok(Self { channel })
    }

    /// The confirm-mode channel (to declare what is published to).
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Publishes `message` and returns once the broker has confirmed it (a nack is
    /// [`BrokerError::Nacked`]).
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        message: &WireMessage,
    ) -> Result<(), BrokerError> {
        self.publish_with(exchange, routing_key, message, false)
            .await
            .map(|_| ())
    }

    /// Publishes `message` as `mandatory` and returns, once the broker has confirmed it, whether
    /// it reached a queue ([`Routing::Unroutable`] when no queue is bound to `routing_key`, e.g.
    /// a reply queue that is being re-created).
    pub async fn publish_mandatory(
        &self,
        exchange: &str,
        routing_key: &str,
        message: &WireMessage,
    ) -> Result<Routing, BrokerError> {
        self.publish_with(exchange, routing_key, message, true)
            .await
    }

    async fn publish_with(
        &self,
        exchange: &str,
        routing_key: &str,
        message: &WireMessage,
        mandatory: bool,
    ) -> Result<Routing, BrokerError> {
        match publish_on(&self.channel, exchange, routing_key, message, mandatory).await? {
            Confirmation::Ack(Some(_)) => Ok(Routing::Unroutable),
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(Routing::Routed),
            Confirmation::Nack(_) => Err(BrokerError::Nacked {
                routing_key: routing_key.to_owned(),
            }),
        }
    }
}

/// Whether a confirmed `mandatory` publish reached a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// At least one queue took it.
    Routed,
    /// No queue matched: the broker returned it (and confirmed it all the same).
    Unroutable,
}

/// Publishes `message` on `channel` and waits for its confirmation (`NotRequested` on a channel
/// without confirms).
pub(crate) async fn publish_on(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    message: &WireMessage,
    mandatory: bool,
) -> Result<Confirmation, BrokerError> {
    let failed = |source| BrokerError::Publish {
        routing_key: routing_key.to_owned(),
        source,
    };
    let properties = amqp_properties(&message.properties, &message.headers);
    let confirm = channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions {
                mandatory,
                ..BasicPublishOptions::default()
            },
            &message.body,
            properties,
        )
        .await
        .map_err(failed)?;
    confirm.await.map_err(failed)
}
