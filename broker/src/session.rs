//! Owns the broker session: one connection with a consuming channel (QoS, one consumer per
//! queue) and a publishing channel (publisher confirms), set up from a [`BrokerOptions`] after
//! declaring kombu's topology. Reconnecting is the caller's job (the worker's session loop); a
//! [`Session`] lives for one connection.

use futures::stream::SelectAll;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, Connection, ConnectionProperties, Consumer};

use crate::error::BrokerError;
use crate::publisher::Publisher;
use crate::topology::{QueueSpec, declare_queue, has_quorum_queue};
use crate::url::BrokerUrl;

/// What a consuming [`Session`] needs to know: where the broker is, what to call the
/// connection, what to consume, and how much to prefetch.
#[derive(Debug, Clone, Copy)]
pub struct BrokerOptions<'a> {
    /// The broker.
    pub url: &'a BrokerUrl,
    /// The connection name shown by RabbitMQ (`connection_name` client property).
    pub connection_name: &'a str,
    /// The queues to declare and consume, in order.
    pub queues: &'a [QueueSpec],
    /// The prefetch count (basic.qos; 0 = no limit). It is global to the channel unless a queue
    /// is a quorum queue, which allows only per-consumer QoS.
    pub prefetch: u16,
}

/// Opens a connection to `url` named `connection_name`.
pub async fn connect(url: &BrokerUrl, connection_name: &str) -> Result<Connection, BrokerError> {
    let properties = ConnectionProperties::default().with_connection_name(connection_name.into());
    Connection::connect_uri(url.uri(), properties)
        .await
        .map_err(|source| BrokerError::Connect {
            broker: url.safe_url(),
            source,
        })
}

/// The stream of deliveries of every consumer of a session.
pub type Deliveries = SelectAll<Consumer>;

/// One live connection: channels, consumers, and the publisher.
pub struct Session {
    connection: Connection,
    consume: Channel,
    consumers: Vec<Consumer>,
    publisher: Publisher,
}

impl Session {
    /// Connects, declares the topology, sets QoS and confirms, and starts one consumer per queue.
    pub async fn open(options: &BrokerOptions<'_>) -> Result<(Self, Deliveries), BrokerError> {
        let connection = connect(options.url, options.connection_name).await?;
        let setup = |what| move |source| BrokerError::Setup { what, source };
        let consume = connection
            .create_channel()
            .await
            .map_err(setup("consuming channel"))?;
        let publish = connection
            .create_channel()
            .await
            .map_err(setup("publishing channel"))?;
        for spec in options.queues {
            declare_queue(&consume, spec).await?;
        }
        let global = !has_quorum_queue(options.queues);
        consume
            .basic_qos(options.prefetch, BasicQosOptions { global })
            .await
            .map_err(setup("prefetch (basic.qos)"))?;
        let publisher = Publisher::confirming(publish).await?;
        let mut consumers = Vec::with_capacity(options.queues.len());
        for spec in options.queues {
            let consumer = consume
                .basic_consume(
                    spec.name.as_str().into(),
                    ShortString::from(""),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(setup("consumer (basic.consume)"))?;
            consumers.push(consumer);
        }
        let deliveries = futures::stream::select_all(consumers.iter().cloned());
        let session = Self {
            connection,
            consume: consume.clone(),
            consumers,
            publisher,
        };
        Ok((session, deliveries))
    }

    /// The publishing side of this connection.
    pub fn publisher(&self) -> Publisher {
        self.publisher.clone()
    }

    /// Opens `node`'s remote-control mailbox on this connection (a channel of its own).
    pub async fn open_mailbox(
        &self,
        node: &str,
    ) -> Result<(crate::pidbox::Mailbox, Consumer), BrokerError> {
        crate::pidbox::Mailbox::open(&self.connection, node).await
    }

    /// The consuming channel (for QoS changes).
    pub fn consume_channel(&self) -> &Channel {
        &self.consume
    }

    /// Stops the broker from sending more deliveries (basic.cancel on every consumer).
    pub async fn cancel_consumers(&self) {
        for consumer in &self.consumers {
            if let Err(err) = self
                .consume
                .basic_cancel(consumer.tag(), BasicCancelOptions::default())
                .await
            {
                tracing::debug!(cause = %err, "basic.cancel failed");
            }
        }
    }

    /// Closes the channels and the connection, telling the broker `reason`; unacked deliveries
    /// go back to their queues.
    pub async fn close(&self, reason: &str) {
        if let Err(err) = self.connection.close(200, reason.into()).await {
            tracing::debug!(cause = %err, "connection close failed");
        }
    }
}
