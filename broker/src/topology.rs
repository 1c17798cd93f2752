//! Owns the queue topology, declared exactly as kombu declares it for the same settings:
//! [`QueueSpec`] / [`QueueType`] (the arguments mirrored from the Python side), the arguments
//! table, and [`declare_queue`] (kombu's `Queue(name, Exchange(name, 'direct'),
//! routing_key=name)`), with a 406 PRECONDITION_FAILED turned into
//! [`BrokerError::QueueMismatch`].

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};
use serde::Deserialize;

use crate::error::BrokerError;

/// RabbitMQ queue type, mirrored from the Python side's `x-queue-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueType {
    /// A classic queue (no `x-queue-type` argument is sent, exactly as kombu does).
    #[default]
    Classic,
    /// A quorum queue: `x-queue-type: quorum`, and QoS becomes per-consumer.
    Quorum,
}

/// One queue: its name and the arguments it is declared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// Queue name; also the name of its direct exchange and its routing key (kombu's layout).
    pub name: String,
    /// `x-max-priority`, if mirrored from the Python side.
    pub max_priority: Option<u8>,
    /// Classic or quorum.
    pub queue_type: QueueType,
}

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
pub async fn declare_queue(channel: &Channel, spec: &QueueSpec) -> Result<(), BrokerError> {
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
    declare_durable_queue(channel, spec).await?;
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

/// Declares only the queue of `spec` (durable, not exclusive, not auto-delete, with kombu's
/// arguments), no exchange or binding: enough for messages sent through the default exchange
/// with the queue's name as routing key, as beat sends them.
pub async fn declare_durable_queue(channel: &Channel, spec: &QueueSpec) -> Result<(), BrokerError> {
    let durable_queue = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(
            spec.name.as_str().into(),
            durable_queue,
            queue_arguments(spec),
        )
        .await
        .map_err(|source| declare_error("queue", spec, source))?;
    Ok(())
}

/// True when any of `queues` is a quorum queue, which forbids global QoS.
pub fn has_quorum_queue(queues: &[QueueSpec]) -> bool {
    queues.iter().any(|q| q.queue_type == QueueType::Quorum)
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
