//! `celeriac beat`'s AMQP side: a confirmed publisher that declares each queue as kombu does
//! before its first message. Temporary home: issue 11 item 1 moves the AMQP session, publisher
//! and topology into a `broker/` crate shared with the worker.

use std::collections::HashSet;

use anyhow::Context;
use celeriac_protocol::{HeaderTable, HeaderValue, WireMessage};
use celeriac_scheduler::Outgoing;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, ByteArray, FieldArray, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

/// A broker connection with publisher confirms.
pub(crate) struct Publisher {
    _connection: Connection,
    channel: Channel,
    declared: HashSet<String>,
}

impl Publisher {
    /// Connects and turns publisher confirms on.
    pub(crate) async fn connect(url: &str) -> anyhow::Result<Publisher> {
        let connection = Connection::connect(url, ConnectionProperties::default())
            .await
            .context("cannot connect to the broker")?;
        let channel = connection
            .create_channel()
            .await
            .context("cannot open a channel")?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .context("cannot enable publisher confirms")?;
        Ok(Publisher {
            _connection: connection,
            channel,
            declared: HashSet::new(),
        })
    }

    /// Publishes `out` and waits for the broker's confirm (a nack is an error).
    pub(crate) async fn publish(&mut self, out: &Outgoing) -> anyhow::Result<()> {
        let route = &out.route;
        if !self.declared.contains(&route.queue) {
            // kombu's Queue defaults: durable, not exclusive, not auto-delete, no arguments.
            let durable = QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            };
            self.channel
                .queue_declare(route.queue.as_str().into(), durable, FieldTable::default())
                .await
                .with_context(|| format!("cannot declare the queue {}", route.queue))?;
            self.declared.insert(route.queue.clone());
        }
        let wire = out.to_wire();
        let confirm = self
            .channel
            .basic_publish(
                route.exchange.as_str().into(),
                route.routing_key.as_str().into(),
                BasicPublishOptions::default(),
                &wire.body,
                properties(&wire),
            )
            .await
            .context("cannot publish")?
            .await
            .context("no publisher confirm")?;
        anyhow::ensure!(!confirm.is_nack(), "the broker refused the message (nack)");
        Ok(())
    }
}

/// The message's properties and headers as lapin's, emitting only the value types py-amqp and
/// amq-protocol read alike (as `worker/src/amqp_wire.rs`).
fn properties(wire: &WireMessage) -> BasicProperties {
    let p = &wire.properties;
    let mut out = BasicProperties::default().with_headers(table(&wire.headers));
    if let Some(v) = &p.content_type {
        out = out.with_content_type(v.as_str().into());
    }
    if let Some(v) = &p.content_encoding {
        out = out.with_content_encoding(v.as_str().into());
    }
    if let Some(v) = &p.correlation_id {
        out = out.with_correlation_id(v.as_str().into());
    }
    if let Some(v) = &p.reply_to {
        out = out.with_reply_to(v.as_str().into());
    }
    if let Some(v) = p.delivery_mode {
        out = out.with_delivery_mode(v);
    }
    if let Some(v) = p.priority {
        out = out.with_priority(v);
    }
    if let Some(v) = &p.expiration {
        out = out.with_expiration(v.as_str().into());
    }
    out
}

fn table(headers: &HeaderTable) -> FieldTable {
    let mut out = FieldTable::default();
    for (k, v) in headers {
        out.insert(ShortString::from(k.as_str()), value(v));
    }
    out
}

fn value(v: &HeaderValue) -> AMQPValue {
    match v {
        HeaderValue::Null => AMQPValue::Void,
        HeaderValue::Bool(b) => AMQPValue::Boolean(*b),
        HeaderValue::Int(i) => match i32::try_from(*i) {
            Ok(small) => AMQPValue::LongInt(small),
            Err(_) => AMQPValue::LongLongInt(*i),
        },
        HeaderValue::Float(f) => AMQPValue::Double(*f),
        HeaderValue::Str(s) => AMQPValue::LongString(LongString::from(s.as_str())),
        HeaderValue::Bytes(b) => AMQPValue::ByteArray(ByteArray::from(b.as_slice())),
        HeaderValue::Decimal { scale, value } => {
            AMQPValue::DecimalValue(lapin::types::DecimalValue {
                scale: *scale,
                value: value.cast_unsigned(),
            })
        }
        HeaderValue::Timestamp(t) => AMQPValue::Timestamp(*t),
        HeaderValue::List(items) => AMQPValue::FieldArray(FieldArray::from(
            items.iter().map(value).collect::<Vec<_>>(),
        )),
        HeaderValue::Table(t) => AMQPValue::FieldTable(table(t)),
    }
}
