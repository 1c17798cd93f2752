//! The message beat sends for a slot, exactly as Python's beat sends it: `Scheduler.apply_async`
//! calls `send_task(entry.task, args, kwargs, **entry.options)`, which builds a protocol v2
//! message (celery/app/amqp.py `as_task_v2`) and routes it (`send_task_message`). The only
//! difference is the task id: the slot's deterministic id instead of a random UUID4.

use chrono::{DateTime, Utc};

use celeriac_protocol::{ArgsReprStyle, TaskMessage, WireMessage};

use crate::config::{Entry, EntryOptions};
use crate::slot::Slot;

/// Celery's `task_default_queue`.
pub const DEFAULT_QUEUE: &str = "celery";

/// Where a message is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The queue the message is meant for (declared before publishing, as kombu does).
    pub queue: String,
    /// The exchange (`""`: the default exchange).
    pub exchange: String,
    /// The routing key.
    pub routing_key: String,
}

impl Route {
    /// Celery's routing for a direct exchange: with no explicit exchange and routing key the
    /// message goes through the anonymous exchange with the queue name as key (`send_task_message`:
    /// "convert to anon-exchange, when exchange not set and direct ex."). A `routing_key` alone
    /// is therefore ignored, as in Celery.
    pub fn for_options(options: &EntryOptions) -> Route {
        let queue = options
            .queue
            .clone()
            .unwrap_or_else(|| DEFAULT_QUEUE.to_owned());
        match (&options.exchange, &options.routing_key) {
            (Some(exchange), Some(key)) if !key.is_empty() => Route {
                queue,
                exchange: exchange.clone(),
                routing_key: key.clone(),
            },
            _ => Route {
                exchange: String::new(),
                routing_key: queue.clone(),
                queue,
            },
        }
    }
}

/// Who sends: the `origin` header and the `reply_to` property Python fills in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// `origin`: Python sends `gen<pid>@<hostname>`.
    pub origin: String,
    /// `reply_to`: Python always sets its `app.thread_oid` (a UUID string), even when nothing
    /// reads replies.
    pub reply_to: String,
}

impl Sender {
    /// `gen<pid>@<host>` and a reply-to UUID derived from it (Python uses a UUID3 of its node and thread; any UUID string does).
    pub fn for_process(pid: u32, host: &str) -> Sender {
        let origin = format!("gen{pid}@{host}");
        let reply_to =
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, origin.as_bytes()).to_string();
        Sender { origin, reply_to }
    }
}

/// One message to publish for one slot.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The slot it is for.
    pub slot: Slot,
    /// Where it goes.
    pub route: Route,
    /// The message.
    pub message: TaskMessage,
}

impl Outgoing {
    /// The message as AMQP properties, headers and body.
    pub fn to_wire(&self) -> WireMessage {
        self.message.to_wire()
    }
}

/// The message for `entry`'s slot at `slot_at`, sent at `now` (`options.expires` counts from
/// `now`, as Python's numeric `expires` counts from `app.now()`).
pub fn beat_message(
    entry: &Entry,
    slot_at: DateTime<Utc>,
    now: DateTime<Utc>,
    sender: &Sender,
) -> Outgoing {
    let slot = Slot::new(entry.name.clone(), slot_at);
    let mut builder = TaskMessage::builder(entry.task.clone())
        .id(slot.task_id())
        .args(entry.args.clone())
        // Beat passes args as a list (`_evaluate_entry_args`), so argsrepr is `[...]`; an empty
        // list becomes `()` in `as_task_v2` (`args = args or ()`).
        .args_style(if entry.args.is_empty() {
            ArgsReprStyle::Tuple
        } else {
            ArgsReprStyle::List
        })
        .kwargs(entry.kwargs.clone())
        .origin(sender.origin.clone())
        .reply_to(sender.reply_to.clone());
    if let Some(priority) = entry.options.priority {
        builder = builder.priority(priority);
    }
    if let Some(expires) = entry.options.expires {
        builder = builder.expires_at(now + expires, now);
    }
    Outgoing {
        route: Route::for_options(&entry.options),
        slot,
        message: builder.build(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use celeriac_protocol::HeaderValue;
    use chrono_tz::Tz;

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn routes_like_celery_for_direct_exchanges() {
        let route = |queue: Option<&str>, exchange: Option<&str>, key: Option<&str>| {
            Route::for_options(&EntryOptions {
                queue: queue.map(str::to_owned),
                exchange: exchange.map(str::to_owned),
                routing_key: key.map(str::to_owned),
                ..EntryOptions::default()
            })
        };
        let r = route(None, None, None);
        assert_eq!(
            (r.exchange.as_str(), r.routing_key.as_str()),
            ("", "celery")
        );
        let r = route(Some("backups"), None, Some("ignored"));
        assert_eq!(
            (r.exchange.as_str(), r.routing_key.as_str()),
            ("", "backups")
        );
        let r = route(Some("backups"), Some("ops"), Some("nightly"));
        assert_eq!(
            (r.exchange.as_str(), r.routing_key.as_str()),
            ("ops", "nightly")
        );
        assert_eq!(r.queue, "backups");
    }

    #[test]
    fn the_default_entry_message() {
        let entry = Entry::default_backup(Tz::UTC);
        let mut entry_with_expiry = entry.clone();
        entry_with_expiry.options.expires = Some(chrono::Duration::hours(1));
        let sender = Sender::for_process(42, "beat-1");
        let now = at("2026-12-04T04:00:00.250Z");
        let out = beat_message(&entry, at("2026-12-04T04:00:00Z"), now, &sender);
        let wire = out.to_wire();
        assert_eq!(out.route.routing_key, "celery");
        assert_eq!(wire.properties.priority, Some(8));
        assert_eq!(wire.properties.expiration, None);
        assert_eq!(wire.headers["expires"], HeaderValue::Null);
        assert_eq!(
            wire.headers["task"],
            HeaderValue::str("apps.backups.tasks.configuration_backup")
        );
        assert_eq!(
            wire.headers["id"],
            HeaderValue::str(out.slot.task_id().as_str())
        );
        assert_eq!(wire.headers["origin"], HeaderValue::str("gen42@beat-1"));
        assert_eq!(
            String::from_utf8(wire.body).unwrap(),
            r#"[[], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#
        );
        let wire =
            beat_message(&entry_with_expiry, at("2026-12-04T04:00:00Z"), now, &sender).to_wire();
        assert_eq!(wire.properties.expiration.as_deref(), Some("3600000"));
        assert_eq!(
            wire.headers["expires"],
            HeaderValue::str("2026-12-04T05:00:00.250000+00:00")
        );
    }
}
