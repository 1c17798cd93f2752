//! The AMQP side of celeriac, shared by the worker and beat: the conversion between lapin's
//! message types and `celeriac_protocol::WireMessage` ([`wire_from_amqp`], [`amqp_properties`]),
//! the confirmed [`Publisher`], and [`BrokerError`].
//!
//! Celery's wire format itself lives in `celeriac-protocol`, which does no I/O; this crate is
//! where it meets lapin.

mod error;
mod publisher;
mod wire;

pub use error::BrokerError;
pub use publisher::Publisher;
pub use wire::{amqp_properties, wire_from_amqp};
