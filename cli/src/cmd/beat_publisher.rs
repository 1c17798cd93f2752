//! `celeriac beat`'s AMQP side: one connection with celeriac-broker's confirmed publisher,
//! declaring each queue as kombu does before its first message.

use std::collections::HashSet;

use celeriac_broker::{BrokerUrl, Connection, QueueSpec, QueueType, declare_durable_queue};
use celeriac_scheduler::Outgoing;

/// A broker connection with publisher confirms.
pub(crate) struct Publisher {
    _connection: Connection,
    confirmed: celeriac_broker::Publisher,
    declared: HashSet<String>,
}

impl Publisher {
    /// Connects and turns publisher confirms on.
    pub(crate) async fn connect(url: &BrokerUrl) -> anyhow::Result<Publisher> {
        let connection = celeriac_broker::connect(url, "celeriac beat").await?;
        let confirmed = celeriac_broker::Publisher::open(&connection).await?;
        Ok(Publisher {
            _connection: connection,
            confirmed,
            declared: HashSet::new(),
        })
    }

    /// Whether the channel (and so its connection) is still open.
    pub(crate) fn is_open(&self) -> bool {
        self.confirmed.channel().status().connected()
    }

    /// Publishes `out` and waits for the broker's confirm (a nack is an error).
    pub(crate) async fn publish(&mut self, out: &Outgoing) -> anyhow::Result<()> {
        let route = &out.route;
        if !self.declared.contains(&route.queue) {
            // kombu's Queue defaults: durable, not exclusive, not auto-delete, no arguments.
            let queue = QueueSpec {
                name: route.queue.clone(),
                max_priority: None,
                queue_type: QueueType::Classic,
            };
            declare_durable_queue(self.confirmed.channel(), &queue).await?;
            self.declared.insert(queue.name);
        }
        self.confirmed
            .publish(&route.exchange, &route.routing_key, &out.to_wire())
            .await?;
        Ok(())
    }
}
