//! Owns the monitoring-event channel: a connection of its own on which events are published to
//! the `celeryev` topic exchange, declared as Celery 5.6.3's `Exchange('celeryev',
//! type='topic')` is (durable, not auto-deleted, no arguments; kombu declares it before each
//! publish, we once per connection). Publishes are not confirmed (Celery's dispatcher does not
//! confirm either); [`EventChannel::publish`] returns once the frames are written to the socket,
//! so a broker that stops reading (connection.blocked, a stalled network) makes it wait, and
//! [`EventChannel::is_blocked`] tells the caller to drop instead. What an event says is the
//! worker's business.
//!
//! A connection of its own, not a channel on the consuming one: RabbitMQ blocks a connection
//! that publishes during a resource alarm, and lapin then stops writing anything on it, acks
//! included. Events must never take the task path down with them.

use lapin::options::ExchangeDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ExchangeKind};

use crate::error::BrokerError;
use crate::publisher::publish_on;
use crate::session::connect;
use crate::url::BrokerUrl;
use celeriac_protocol::WireMessage;

/// The exchange events are published to (Celery's `event_exchange`).
pub const EVENT_EXCHANGE: &str = "celeryev";

/// A connection and channel for publishing events.
pub struct EventChannel {
    connection: Connection,
    channel: Channel,
}

impl EventChannel {
    /// Connects to `url` as `connection_name`, opens a channel and declares [`EVENT_EXCHANGE`].
    pub async fn open(url: &BrokerUrl, connection_name: &str) -> Result<Self, BrokerError> {
        let connection = connect(url, connection_name).await?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|source| BrokerError::Setup {
                what: "event channel",
                source,
            })?;
        let options = ExchangeDeclareOptions {
            durable: true,
            auto_delete: false,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                EVENT_EXCHANGE.into(),
                ExchangeKind::Topic,
                options,
                FieldTable::default(),
            )
            .await
            .map_err(|source| BrokerError::Declare {
                entity: "exchange",
                name: EVENT_EXCHANGE.to_owned(),
                source,
            })?;
        Ok(Self {
            connection,
            channel,
        })
    }

    /// True while the broker has told us (connection.blocked) that it will not read from this
    /// connection.
    pub fn is_blocked(&self) -> bool {
        self.connection.status().blocked()
    }

    /// True while the channel can still be used.
    pub fn is_open(&self) -> bool {
        self.channel.status().connected()
    }

    /// Publishes `message` to [`EVENT_EXCHANGE`] with `routing_key`; returns once it is written.
    pub async fn publish(
        &self,
        routing_key: &str,
        message: &WireMessage,
    ) -> Result<(), BrokerError> {
        publish_on(&self.channel, EVENT_EXCHANGE, routing_key, message, false).await?;
        Ok(())
    }

    /// Closes the connection.
    pub async fn close(&self) {
        if let Err(err) = self.connection.close(200, "worker stopping".into()).await {
            tracing::debug!(cause = %err, "event connection close failed");
        }
    }
}
