//! Owns the broker session: one connection with a consuming channel (QoS, one consumer per
//! queue) and a publishing channel (publisher confirms), set up from a [`BrokerOptions`] after
//! declaring kombu's topology. Reconnecting is the caller's job (the worker's session loop); a
//! [`Session`] lives for one connection. Queues can be added to and removed from a live session
//! ([`Session::consume_queue`], [`Session::cancel_queue`]) for remote control's
//! `add_consumer` / `cancel_consumer`.

use std::sync::{Mutex, MutexGuard, PoisonError};

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
    /// The live consumers, one per consumed queue.
    consumers: Mutex<Vec<Consumer>>,
    /// Whether QoS is global to the consuming channel (no quorum queue at open).
    global_qos: bool,
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
            consumers.push(start_consumer(&consume, &spec.name).await?);
        }
        let deliveries = futures::stream::select_all(consumers.iter().cloned());
        let session = Self {
            connection,
            consume: consume.clone(),
            consumers: Mutex::new(consumers),
            global_qos: global,
            publisher,
        };
        Ok((session, deliveries))
    }

    /// Declares `spec` as kombu would (on a channel of its own, so that a refusal such as an
    /// argument mismatch does not close the consuming channel), then starts consuming it on the
    /// consuming channel. The caller feeds the returned consumer into the session's delivery
    /// stream (e.g. `SelectAll::push`).
    ///
    /// # Errors
    /// [`BrokerError::QuorumNeedsPerConsumerQos`] for a quorum queue on a session whose QoS is
    /// global; a declare or consume failure otherwise.
    pub async fn consume_queue(&self, spec: &QueueSpec) -> Result<Consumer, BrokerError> {
        if self.global_qos && spec.queue_type == crate::topology::QueueType::Quorum {
            return Err(BrokerError::QuorumNeedsPerConsumerQos {
                queue: spec.name.clone(),
            });
        }
        let scratch =
            self.connection
                .create_channel()
                .await
                .map_err(|source| BrokerError::Setup {
                    what: "declaring channel",
                    source,
                })?;
        let declared = declare_queue(&scratch, spec).await;
        if scratch.status().connected() {
            let _ = scratch.close(200, "declared".into()).await;
        }
        declared?;
        let consumer = start_consumer(&self.consume, &spec.name).await?;
        self.lock_consumers().push(consumer.clone());
        Ok(consumer)
    }

    /// Stops consuming `queue` (basic.cancel). Deliveries the broker already sent stay with the
    /// caller: the consumer's stream yields them, then ends. False if no consumer of this
    /// session consumes `queue`.
    pub async fn cancel_queue(&self, queue: &str) -> bool {
        let consumer = {
            let mut consumers = self.lock_consumers();
            let Some(at) = consumers.iter().position(|c| c.queue().as_str() == queue) else {
                return false;
            };
            consumers.remove(at)
        };
        if let Err(err) = self
            .consume
            .basic_cancel(consumer.tag(), BasicCancelOptions::default())
            .await
        {
            tracing::debug!(cause = %err, queue, "basic.cancel failed");
        }
        true
    }

    fn lock_consumers(&self) -> MutexGuard<'_, Vec<Consumer>> {
        self.consumers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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
        let consumers = std::mem::take(&mut *self.lock_consumers());
        for consumer in &consumers {
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

async fn start_consumer(channel: &Channel, queue: &str) -> Result<Consumer, BrokerError> {
    channel
        .basic_consume(
            queue.into(),
            ShortString::from(""),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|source| BrokerError::Setup {
            what: "consumer (basic.consume)",
            source,
        })
}
