//! The AMQP side of celeriac, shared by the worker and beat so that beat publishes without
//! depending on the worker:
//!
//! * [`wire_from_amqp`] / [`amqp_properties`]: lapin's message types ⇄
//!   `celeriac_protocol::WireMessage`, the one conversion.
//! * [`BrokerUrl`]: the parsed URL, printed with its password hidden.
//! * [`QueueSpec`] / [`QueueType`] and [`declare_queue`]: the topology, declared exactly as kombu
//!   declares it.
//! * [`Publisher`]: a confirm-mode channel; each publish waits for the broker's ack.
//! * [`Session`]: one connection from a [`BrokerOptions`]: topology, a consuming channel with
//!   QoS and one consumer per queue, and a [`Publisher`].
//! * [`Mailbox`]: a node's remote-control queue on the `celery.pidbox` fanout exchange, and
//!   its replies, declared as kombu declares them.
//! * [`EventChannel`]: a connection of its own publishing monitoring events to the `celeryev`
//!   topic exchange, declared as Celery declares it.
//! * [`BrokerError`]: every failure, and whether reconnecting may cure it.
//!
//! Celery's wire format itself lives in `celeriac-protocol`, which does no I/O; this crate is
//! where it meets lapin.

mod error;
mod events;
mod pidbox;
mod publisher;
mod session;
mod topology;
mod url;
mod wire;

/// lapin's connection, which [`connect`] opens (re-exported so that callers need no lapin).
pub use lapin::Connection;

pub use error::BrokerError;
pub use events::{EVENT_EXCHANGE, EventChannel};
pub use pidbox::{CONTROL_EXCHANGE, MAILBOX_PREFETCH, Mailbox, pidbox_queue_name};
pub use publisher::{Publisher, Routing};
pub use session::{BrokerOptions, Deliveries, Session, connect};
pub use topology::{QueueSpec, QueueType, declare_durable_queue, declare_queue, has_quorum_queue};
pub use url::{BrokerInfo, BrokerUrl, BrokerUrlError, DEFAULT_BROKER_URL, DEFAULT_FRAME_MAX};
pub use wire::{amqp_properties, wire_from_amqp};
