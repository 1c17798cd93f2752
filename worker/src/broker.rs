//! The broker session: one lapin connection with a consuming channel (QoS, one consumer per
//! queue) and a publishing channel (publisher confirms), and the kombu-identical topology.
//! Reconnecting is the session loop's job (`worker.rs`); a [`Session`] lives for one connection.

use futures::stream::SelectAll;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};

use crate::config::{Config, QueueSpec, QueueType};
use celeriac_broker::{BrokerError, Publisher};

/// The arguments a queue is declared with, exactly as kombu would for the same settings.
pub(crate) fn queue_arguments(spec: &QueueSpec) -> FieldTable {
    let mut args = FieldTable::default();
    if let Some(p) = spec.max_priority {
        args.insert("x-max-priority".into(), AMQPValue::LongInt(i32::from(p)));
    }
    if spec.queue_type == QueueType::Quorum {
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from("quorum")),
        );
    }
    args
}

fn describe_arguments(spec: &QueueSpec) -> String {
    let mut parts = Vec::new();
    if let Some(p) = spec.max_priority {
        parts.push(format!("x-max-priority={p}"));
    }
    if spec.queue_type == QueueType::Quorum {
        parts.push("x-queue-type=quorum".to_owned());
    }
    if parts.is_empty() {
        "durable, no arguments".to_owned()
    } else {
        format!("durable, {}", parts.join(", "))
    }
}

/// Declares `queue` like kombu's `Queue(name, Exchange(name, 'direct'), routing_key=name)`:
/// a durable direct exchange, a durable queue, and the binding.
pub(crate) async fn declare_queue(channel: &Channel, spec: &QueueSpec) -> Result<(), BrokerError> {
    let name = spec.name.as_str();
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            name.into(),
            ExchangeKind::Direct,
            durable_exchange,
            FieldTable::default(),
        )
        .await
        .map_err(|source| declare_error("exchange", spec, source))?;
    let durable_queue = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(name.into(), durable_queue, queue_arguments(spec))
        .await
        .map_err(|source| declare_error("queue", spec, source))?;
    channel
        .queue_bind(
            name.into(),
            name.into(),
            name.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|source| declare_error("binding", spec, source))
}

fn declare_error(entity: &'static str, spec: &QueueSpec, source: lapin::Error) -> BrokerError {
    BrokerError::declare(entity, &spec.name, || describe_arguments(spec), source)
}

/// The stream of deliveries of every consumer of a session.
pub(crate) type Deliveries = SelectAll<Consumer>;

/// One live connection: channels, consumers, and the publisher.
pub(crate) struct Session {
    connection: Connection,
    consume: Channel,
    consumers: Vec<Consumer>,
    publisher: Publisher,
}

impl Session {
    /// Connects, declares the topology, sets QoS and confirms, and starts one consumer per queue.
    pub(crate) async fn open(config: &Config) -> Result<(Self, Deliveries), BrokerError> {
        let properties = ConnectionProperties::default()
            .with_connection_name(format!("celeriac worker {}", config.hostname).into());
        let connection = Connection::connect_uri(config.broker.uri(), properties)
            .await
            .map_err(|source| BrokerError::Connect {
                broker: config.broker.safe_url(),
                source,
            })?;
        let setup = |what| move |source| BrokerError::Setup { what, source };
        let consume = connection
            .create_channel()
            .await
            .map_err(setup("consuming channel"))?;
        let publish = connection
            .create_channel()
            .await
            .map_err(setup("publishing channel"))?;
        for spec in &config.queues {
            declare_queue(&consume, spec).await?;
        }
        let global = !config.has_quorum_queue();
        consume
            .basic_qos(config.prefetch(), BasicQosOptions { global })
            .await
            .map_err(setup("prefetch (basic.qos)"))?;
        let publisher = Publisher::confirming(publish).await?;
        let mut consumers = Vec::with_capacity(config.queues.len());
        for spec in &config.queues {
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
    pub(crate) fn publisher(&self) -> Publisher {
        self.publisher.clone()
    }

    /// The consuming channel (for QoS changes).
    pub(crate) fn consume_channel(&self) -> &Channel {
        &self.consume
    }

    /// Stops the broker from sending more deliveries (basic.cancel on every consumer).
    pub(crate) async fn cancel_consumers(&self) {
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

    /// Closes the channels and the connection; unacked deliveries go back to their queues.
    pub(crate) async fn close(&self) {
        if let Err(err) = self
            .connection
            .close(200, "worker shutting down".into())
            .await
        {
            tracing::debug!(cause = %err, "connection close failed");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn arguments_mirror_kombu() {
        let plain = QueueSpec {
            name: "celery".into(),
            max_priority: None,
            queue_type: QueueType::Classic,
        };
        assert!(queue_arguments(&plain).inner().is_empty());
        assert_eq!(describe_arguments(&plain), "durable, no arguments");
        let prio = QueueSpec {
            max_priority: Some(10),
            queue_type: QueueType::Quorum,
            ..plain
        };
        let args = queue_arguments(&prio);
        assert!(matches!(
            args.inner().get("x-max-priority"),
            Some(AMQPValue::LongInt(10))
        ));
        assert!(args.inner().contains_key("x-queue-type"));
        assert_eq!(
            describe_arguments(&prio),
            "durable, x-max-priority=10, x-queue-type=quorum"
        );
    }
}
