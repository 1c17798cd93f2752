//! Owns [`BrokerError`], every way talking to the broker can fail (connect, declare, set up,
//! publish, nack), and which of them a reconnect may cure.

use lapin::protocol::{AMQPErrorKind, AMQPSoftError};

/// Why talking to the broker failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The TCP/AMQP connection could not be opened.
    #[error("cannot connect to the broker at {broker}")]
    Connect {
        /// The URL with its password hidden.
        broker: String,
        /// lapin's error.
        #[source]
        source: lapin::Error,
    },
    /// The queue exists with different arguments (RabbitMQ 406 PRECONDITION_FAILED).
    #[error(
        "queue {queue:?} exists on the broker with different arguments than ours ({arguments}); \
         configure [queue.{queue}] to match the Python side (x-max-priority / x-queue-type)"
    )]
    QueueMismatch {
        /// The queue.
        queue: String,
        /// The arguments we declared it with.
        arguments: String,
        /// The broker's refusal.
        #[source]
        source: lapin::Error,
    },
    /// Declaring an exchange, queue or binding failed for another reason.
    #[error("cannot declare {entity} {name:?}")]
    Declare {
        /// `exchange`, `queue` or `binding`.
        entity: &'static str,
        /// Its name.
        name: String,
        /// lapin's error.
        #[source]
        source: lapin::Error,
    },
    /// Opening or setting up a channel (QoS, confirms, consume) failed.
    #[error("cannot set up the {what}")]
    Setup {
        /// What was being set up.
        what: &'static str,
        /// lapin's error.
        #[source]
        source: lapin::Error,
    },
    /// A publish could not be sent or its confirm did not arrive.
    #[error("publish to {routing_key:?} failed")]
    Publish {
        /// Where it was going.
        routing_key: String,
        /// lapin's error.
        #[source]
        source: lapin::Error,
    },
    /// A quorum queue cannot join a consuming channel whose QoS is global (RabbitMQ allows
    /// only per-consumer QoS with quorum queues).
    #[error(
        "cannot consume quorum queue {queue:?} on this connection: its prefetch is global to the \
         channel (start the worker with a quorum queue to get per-consumer prefetch)"
    )]
    QuorumNeedsPerConsumerQos {
        /// The queue.
        queue: String,
    },
    /// The broker refused a publish (basic.nack).
    #[error("broker refused (nacked) a publish to {routing_key:?}")]
    Nacked {
        /// Where it was going.
        routing_key: String,
    },
}

impl BrokerError {
    /// True when the connection is gone (reconnecting may help); false for refusals that a
    /// reconnect would only repeat, such as a queue argument mismatch.
    pub fn is_connection_error(&self) -> bool {
        match self {
            BrokerError::Connect { .. }
            | BrokerError::Publish { .. }
            | BrokerError::Setup { .. } => true,
            BrokerError::Declare { source, .. } => !is_precondition_failed(source),
            BrokerError::QueueMismatch { .. }
            | BrokerError::Nacked { .. }
            | BrokerError::QuorumNeedsPerConsumerQos { .. } => false,
        }
    }
}

fn is_precondition_failed(err: &lapin::Error) -> bool {
    matches!(err.kind(), lapin::ErrorKind::ProtocolError(e)
        if matches!(e.kind(), AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED)))
}

impl BrokerError {
    /// The error of declaring `entity` (`exchange`, `queue` or `binding`) for the queue `queue`:
    /// a [`BrokerError::QueueMismatch`] when the broker answered 406 PRECONDITION_FAILED (the
    /// queue exists with other arguments; `arguments` describes ours), else
    /// [`BrokerError::Declare`].
    pub(crate) fn declare(
        entity: &'static str,
        queue: &str,
        arguments: impl FnOnce() -> String,
        source: lapin::Error,
    ) -> Self {
        if is_precondition_failed(&source) {
            BrokerError::QueueMismatch {
                queue: queue.to_owned(),
                arguments: arguments(),
                source,
            }
        } else {
            BrokerError::Declare {
                entity,
                name: queue.to_owned(),
                source,
            }
        }
    }
}
