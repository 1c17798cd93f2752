//! Owns [`EventSettings`]: which monitoring events the worker sends and where, from the config
//! file keys `events`, `without-heartbeat`, `events-broker-url`, `events-buffer` and the flags
//! `-E/--events`, `--without-heartbeat`, `--events-broker`.

use std::time::Duration;

use celeriac_broker::BrokerUrl;

use crate::config::{ConfigError, Overrides, RawConfig};

/// Seconds between `worker-heartbeat` events (Celery's default `--heartbeat-interval`).
pub(crate) const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);
/// Events queued for the publisher before new ones are dropped, by default.
pub const DEFAULT_EVENTS_BUFFER: usize = 1024;

/// Which monitoring events (Celery's `celeryev`) the worker sends, and where.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// `task-*` events (Celery's `-E` / `worker_send_task_events`); remote control's
    /// `enable_events` / `disable_events` change it at run time. Off by default, as in Celery.
    pub task_events: bool,
    /// `worker-online`, `worker-heartbeat` (every 2 s) and `worker-offline`, which tell Flower
    /// and `celery events` that the worker is alive. On by default, as in Celery; off with
    /// `--without-heartbeat`.
    pub heartbeat: bool,
    /// The broker events go to; `None` is the worker's own broker. Events always go over a
    /// connection of their own.
    pub broker: Option<BrokerUrl>,
    /// Events queued for the publisher at most; beyond that new events are dropped (and
    /// counted) rather than slow the tasks down.
    pub buffer: usize,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            task_events: false,
            heartbeat: true,
            broker: None,
            buffer: DEFAULT_EVENTS_BUFFER,
        }
    }
}

impl EventSettings {
    /// The flags over the file over the defaults.
    pub(crate) fn from_parts(raw: &RawConfig, flags: &Overrides) -> Result<Self, ConfigError> {
        let broker = flags
            .events_broker_url
            .as_deref()
            .or(raw.events_broker_url.as_deref())
            .map(BrokerUrl::parse)
            .transpose()
            .map_err(|_| ConfigError::BrokerUrl)?;
        let buffer = raw.events_buffer.map_or(Ok(DEFAULT_EVENTS_BUFFER), |n| {
            usize::try_from(n)
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or(ConfigError::OutOfRange {
                    setting: "events-buffer".to_owned(),
                    expected: "between 1 and 1000000",
                })
        })?;
        Ok(Self {
            task_events: flags.events.or(raw.events).unwrap_or(false),
            heartbeat: !flags
                .without_heartbeat
                .or(raw.without_heartbeat)
                .unwrap_or(false),
            broker,
            buffer,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn defaults_flags_and_file() {
        let s = EventSettings::from_parts(&RawConfig::default(), &Overrides::default()).unwrap();
        assert!(!s.task_events && s.heartbeat && s.broker.is_none());
        assert_eq!(s.buffer, DEFAULT_EVENTS_BUFFER);
        let raw = RawConfig::from_toml(
            "events = true\nwithout-heartbeat = true\nevents-buffer = 8\n\
             events-broker-url = \"amqp://u:pw@mon/%2f\"",
        )
        .unwrap();
        let s = EventSettings::from_parts(&raw, &Overrides::default()).unwrap();
        assert!(s.task_events && !s.heartbeat);
        assert_eq!(s.buffer, 8);
        assert_eq!(s.broker.unwrap().safe_url(), "amqp://u:***@mon:5672/%2f");
        let flags = Overrides {
            events: Some(false),
            without_heartbeat: Some(false),
            ..Overrides::default()
        };
        let s = EventSettings::from_parts(&raw, &flags).unwrap();
        assert!(!s.task_events && s.heartbeat);
        let zero = RawConfig::from_toml("events-buffer = 0").unwrap();
        assert!(EventSettings::from_parts(&zero, &Overrides::default()).is_err());
        let bad = RawConfig::from_toml("events-broker-url = \"http://[x\"").unwrap();
        assert!(EventSettings::from_parts(&bad, &Overrides::default()).is_err());
    }
}
