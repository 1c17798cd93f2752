//! `celeriac beat`'s AMQP side: one connection with celeriac-broker's confirmed publisher,
//! declaring each queue as kombu does before its first message.

use std::collections::HashSet;

use anyhow::Context;
use celeriac_broker::Publisher as Confirmed;
use celeriac_scheduler::Outgoing;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};

/// A broker connection with publisher confirms.
pub(crate) struct Publisher {
    _connection: Connection,
    confirmed: Confirmed,
    declared: HashSet<String>,
}

impl Publisher {
    /// Connects and turns publisher confirms on.
    pub(crate) async fn connect(url: &str) -> anyhow::Result<Publisher> {
        let connection = Connection::connect(url, ConnectionProperties::default())
            .await
            .context("cannot connect to the broker")?;
        let confirmed = Confirmed::open(&connection).await?;
        Ok(Publisher {
            _connection: connection,
            confirmed,
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
            self.confirmed
                .channel()
                .queue_declare(route.queue.as_str().into(), durable, FieldTable::default())
                .await
                .with_context(|| format!("cannot declare the queue {}", route.queue))?;
            self.declared.insert(route.queue.clone());
        }
        self.confirmed
            .publish(&route.exchange, &route.routing_key, &out.to_wire())
            .await?;
        Ok(())
    }
}
