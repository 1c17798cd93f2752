//! Owns the confirmed publisher: a channel in confirm mode on which each publish waits for the
//! broker's ack. The worker publishes replies and retries with it, beat its task messages.

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
        match publish_on(&self.channel, exchange, routing_key, message).await? {
            Confirmation::Ack(_) | Confirmation::NotRequested => Ok(()),
            Confirmation::Nack(_) => Err(BrokerError::Nacked {
                routing_key: routing_key.to_owned(),
            }),
        }
    }
}

/// Publishes `message` on `channel` and waits for its confirmation (`NotRequested` on a channel
/// without confirms).
pub(crate) async fn publish_on(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    message: &WireMessage,
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
            BasicPublishOptions::default(),
            &message.body,
            properties,
        )
        .await
        .map_err(failed)?;
    confirm.await.map_err(failed)
}
