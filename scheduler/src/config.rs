//! The `[beat]` section of the config file, as written ([`RawBeat`]) and validated
//! ([`BeatConfig`], [`Entry`]). Shaped like Celery's `beat_schedule`, so a Python entry
//!
//! ```python
//! "configuration-backup-daily": {
//!     "task": "apps.backups.tasks.configuration_backup",
//!     "schedule": crontab(minute=0, hour=4),
//!     "options": {"priority": 8},
//! }
//! ```
//!
//! becomes
//!
//! ```toml
//! [beat.schedule.configuration-backup-daily]
//! task = "apps.backups.tasks.configuration_backup"
//! schedule = "0 4 * * *"
//! options = { priority = 8 }
//! ```
//!
//! Unknown keys inside `[beat]` are refused; the rest of the file (the worker's and the backup
//! commands' tables) is not beat's business and is ignored here.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use chrono::Duration;
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Map, Value};

use celeriac_protocol::TaskName;

use crate::crontab::Crontab;
use crate::duration::parse_duration;
use crate::error::{ConfigError, DurationError};
use crate::interval::Every;
use crate::missed::{DEFAULT_GRACE, MissedPolicy};
use crate::schedule::Schedule;

/// The default entry's name, used when the file has no `[beat.schedule]` table.
pub const DEFAULT_ENTRY: &str = "configuration-backup-daily";
/// The default entry's task.
pub const DEFAULT_TASK: &str = "apps.backups.tasks.configuration_backup";
/// The default entry's crontab.
pub const DEFAULT_CRONTAB: &str = "0 4 * * *";
/// The default entry's priority.
pub const DEFAULT_PRIORITY: u8 = 8;

/// The whole file as beat sees it: only `[beat]`.
#[derive(Debug, Default, Deserialize)]
struct RawFile {
    #[serde(default)]
    beat: RawBeat,
}

/// `[beat]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBeat {
    /// IANA zone for crontab entries without their own (default `UTC`).
    pub timezone: Option<String>,
    /// `[beat.schedule.NAME]`; absent: the default entry.
    pub schedule: Option<BTreeMap<String, RawEntry>>,
    /// `host:port` where beat serves `/healthz` and `/metrics`; absent: no endpoint.
    #[serde(rename = "metrics-listen")]
    pub metrics_listen: Option<String>,
}

/// `[beat.schedule.NAME]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntry {
    /// The task name.
    pub task: Option<String>,
    /// A crontab string or `{ every = "30s" }`.
    pub schedule: toml::Value,
    /// This entry's zone (default: `[beat] timezone`).
    pub timezone: Option<String>,
    /// Positional arguments.
    #[serde(default)]
    pub args: Vec<Value>,
    /// Keyword arguments.
    #[serde(default)]
    pub kwargs: Map<String, Value>,
    /// `apply_async` options.
    #[serde(default)]
    pub options: RawOptions,
    /// Missed-slot policy (default `grace`).
    pub missed: Option<MissedKind>,
    /// Grace window for `missed = "grace"` (default 1h).
    pub grace: Option<toml::Value>,
}

/// `options` as written: the `apply_async` options beat passes on.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOptions {
    /// Queue name (default `celery`).
    pub queue: Option<String>,
    /// Exchange (default: the anonymous exchange, as Celery uses for direct queues).
    pub exchange: Option<String>,
    /// Routing key (used only with `exchange`, as in Celery).
    #[serde(alias = "routing-key")]
    pub routing_key: Option<String>,
    /// Message priority.
    pub priority: Option<i64>,
    /// Expiry after sending: seconds, or a duration such as `"1h"`.
    pub expires: Option<toml::Value>,
}

/// The missed-slot policies as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissedKind {
    /// [`MissedPolicy::Grace`].
    Grace,
    /// [`MissedPolicy::Skip`].
    Skip,
    /// [`MissedPolicy::All`].
    All,
}

/// The validated `[beat]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct BeatConfig {
    /// The scheduler's zone.
    pub timezone: Tz,
    /// The entries, sorted by name.
    pub entries: Vec<Entry>,
    /// Where `/healthz` and `/metrics` listen, if anywhere (`[beat] metrics-listen`).
    pub metrics_listen: Option<SocketAddr>,
}

/// One validated schedule entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `NAME` in `[beat.schedule.NAME]`.
    pub name: String,
    /// The task to send.
    pub task: TaskName,
    /// When.
    pub schedule: Schedule,
    /// The zone its crontab is read in.
    pub timezone: Tz,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Map<String, Value>,
    /// Routing, priority, expiry.
    pub options: EntryOptions,
    /// What to do with missed slots.
    pub missed: MissedPolicy,
}

/// The `apply_async` options of an entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryOptions {
    /// Queue (default `celery`).
    pub queue: Option<String>,
    /// Exchange.
    pub exchange: Option<String>,
    /// Routing key.
    pub routing_key: Option<String>,
    /// AMQP priority (0-255; Celery documents 0-9).
    pub priority: Option<u8>,
    /// Expiry, counted from the moment the message is sent.
    pub expires: Option<Duration>,
}

impl Entry {
    /// The default entry: `configuration-backup-daily`, `0 4 * * *` in `tz`, priority 8.
    pub fn default_backup(tz: Tz) -> Entry {
        Entry {
            name: DEFAULT_ENTRY.to_owned(),
            task: TaskName::new(DEFAULT_TASK).unwrap_or_else(|_| unreachable!("a valid name")),
            schedule: Schedule::Crontab(
                Crontab::parse(DEFAULT_CRONTAB).unwrap_or_else(|_| unreachable!("valid crontab")),
            ),
            timezone: tz,
            args: Vec::new(),
            kwargs: Map::new(),
            options: EntryOptions {
                priority: Some(DEFAULT_PRIORITY),
                ..EntryOptions::default()
            },
            missed: MissedPolicy::default(),
        }
    }
}

impl BeatConfig {
    /// Reads the `[beat]` section of a whole config file's text (other tables are ignored).
    ///
    /// # Errors
    /// [`ConfigError`] naming the entry and key at fault.
    pub fn from_toml(text: &str) -> Result<BeatConfig, ConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(ConfigError::Toml)?;
        BeatConfig::try_from(raw.beat)
    }
}

impl Default for BeatConfig {
    fn default() -> Self {
        BeatConfig {
            timezone: Tz::UTC,
            entries: vec![Entry::default_backup(Tz::UTC)],
            metrics_listen: None,
        }
    }
}

impl TryFrom<RawBeat> for BeatConfig {
    type Error = ConfigError;

    fn try_from(raw: RawBeat) -> Result<Self, ConfigError> {
        let timezone = match raw.timezone {
            Some(zone) => parse_zone("[beat] timezone", &zone)?,
            None => Tz::UTC,
        };
        let entries = match raw.schedule {
            None => vec![Entry::default_backup(timezone)],
            Some(table) => table
                .into_iter()
                .map(|(name, entry)| validate_entry(name, entry, timezone))
                .collect::<Result<_, _>>()?,
        };
        let metrics_listen = raw
            .metrics_listen
            .map(|addr| {
                addr.trim()
                    .parse::<SocketAddr>()
                    .map_err(|_| ConfigError::MetricsListen { addr })
            })
            .transpose()?;
        Ok(BeatConfig {
            timezone,
            entries,
            metrics_listen,
        })
    }
}

fn parse_zone(place: &str, zone: &str) -> Result<Tz, ConfigError> {
    zone.parse::<Tz>().map_err(|_| ConfigError::UnknownZone {
        place: place.to_owned(),
        zone: zone.to_owned(),
    })
}

fn validate_entry(name: String, raw: RawEntry, default_zone: Tz) -> Result<Entry, ConfigError> {
    let task = raw
        .task
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .and_then(|t| TaskName::new(t).ok())
        .ok_or_else(|| ConfigError::Task {
            entry: name.clone(),
        })?;
    let timezone = match &raw.timezone {
        Some(zone) => parse_zone(&format!("[beat.schedule.{name}] timezone"), zone)?,
        None => default_zone,
    };
    let schedule = schedule(&name, &raw.schedule)?;
    let options = options(&name, raw.options)?;
    let missed = match (raw.missed.unwrap_or(MissedKind::Grace), raw.grace) {
        (MissedKind::Grace, grace) => MissedPolicy::Grace(match grace {
            Some(value) => duration(&name, "grace", &value)?,
            None => DEFAULT_GRACE,
        }),
        (_, Some(_)) => return Err(ConfigError::GraceWithoutGracePolicy { entry: name }),
        (MissedKind::Skip, None) => MissedPolicy::Skip,
        (MissedKind::All, None) => MissedPolicy::All,
    };
    Ok(Entry {
        name,
        task,
        schedule,
        timezone,
        args: raw.args,
        kwargs: raw.kwargs,
        options,
        missed,
    })
}

fn schedule(entry: &str, value: &toml::Value) -> Result<Schedule, ConfigError> {
    match value {
        toml::Value::String(spec) => Crontab::parse(spec)
            .map(Schedule::Crontab)
            .map_err(|cause| ConfigError::Crontab {
                entry: entry.to_owned(),
                cause,
            }),
        toml::Value::Table(table) if table.len() == 1 && table.contains_key("every") => {
            let d = duration(entry, "every", &table["every"])?;
            Every::new(d)
                .map(Schedule::Every)
                .ok_or_else(|| ConfigError::ScheduleShape {
                    entry: entry.to_owned(),
                })
        }
        _ => Err(ConfigError::ScheduleShape {
            entry: entry.to_owned(),
        }),
    }
}

/// A duration as a string (`"1h30m"`) or a positive whole number of seconds.
fn duration(entry: &str, key: &'static str, value: &toml::Value) -> Result<Duration, ConfigError> {
    let err = |cause| ConfigError::Duration {
        entry: entry.to_owned(),
        key,
        cause,
    };
    match value {
        toml::Value::String(text) => parse_duration(text).map_err(err),
        toml::Value::Integer(secs) if *secs > 0 => Ok(Duration::seconds(*secs)),
        toml::Value::Integer(secs) => Err(err(DurationError::Zero(secs.to_string()))),
        other => Err(err(DurationError::Invalid(other.to_string()))),
    }
}

fn options(entry: &str, raw: RawOptions) -> Result<EntryOptions, ConfigError> {
    let priority = raw
        .priority
        .map(|p| {
            u8::try_from(p).map_err(|_| ConfigError::Priority {
                entry: entry.to_owned(),
                value: p,
            })
        })
        .transpose()?;
    if raw.queue.as_deref().is_some_and(str::is_empty) {
        return Err(ConfigError::Queue {
            entry: entry.to_owned(),
        });
    }
    let expires = raw
        .expires
        .map(|v| duration(entry, "options.expires", &v))
        .transpose()?;
    Ok(EntryOptions {
        queue: raw.queue,
        exchange: raw.exchange.filter(|e| !e.is_empty()),
        routing_key: raw.routing_key,
        priority,
        expires,
    })
}
