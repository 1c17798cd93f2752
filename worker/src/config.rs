//! Worker configuration: the file/flag shape ([`RawConfig`], [`Overrides`]) and the validated
//! [`Config`] built once at startup. This module never reads files or the environment; the binary
//! does that and hands the text and the flag values in.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::events::EventSettings;
use crate::task::TaskOptions;
use celeriac_broker::{BrokerUrl, QueueSpec, QueueType};

/// The broker URL used when neither a flag, the environment nor the file gives one.
pub const DEFAULT_BROKER_URL: &str = celeriac_broker::DEFAULT_BROKER_URL;
/// The queue consumed when none is configured (Celery's `task_default_queue`).
pub const DEFAULT_QUEUE: &str = "celery";

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML text did not parse or had unknown keys.
    #[error("invalid configuration file")]
    Toml(#[source] toml::de::Error),
    /// The broker URL did not parse (the text is not repeated: it may hold a password).
    #[error("invalid broker url (expected amqp://user:password@host:port/vhost)")]
    BrokerUrl,
    /// A numeric setting is out of its range.
    #[error("setting `{setting}` must be {expected}")]
    OutOfRange {
        /// The setting's name as written in the file.
        setting: String,
        /// The accepted range, in words.
        expected: &'static str,
    },
    /// A queue name is empty or longer than AMQP allows.
    #[error("queue name {name:?} is not a valid AMQP queue name")]
    QueueName {
        /// The offending name.
        name: String,
    },
    /// A task's `rate-limit` is not of the form `"10/s"`, `"100/m"` or `"5/h"` with a count > 0.
    #[error(
        "setting `{setting}` must be a rate such as \"10/s\", \"100/m\" or \"5/h\" (count > 0)"
    )]
    RateLimit {
        /// The setting's name as written in the file.
        setting: String,
        /// What is wrong with it.
        #[source]
        source: crate::rate_limit::RateLimitError,
    },
    /// No queue to consume from.
    #[error("no queue to consume from")]
    NoQueues,
    /// A listen address did not parse.
    #[error("invalid listen address {value:?}")]
    ListenAddr {
        /// The text given.
        value: String,
        /// The parse error.
        #[source]
        source: std::net::AddrParseError,
    },
}

/// How log lines are written (read by the binary that sets up `tracing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Human-readable text (coloured on a terminal).
    #[default]
    Text,
    /// One JSON object per line, with the span fields (task id and name).
    Json,
}

/// One queue's declaration arguments as written in the file (`[queue.<name>]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawQueue {
    /// `x-max-priority`, when the Python side sets `task_queue_max_priority`.
    #[serde(rename = "x-max-priority")]
    pub x_max_priority: Option<u8>,
    /// `x-queue-type`, when the Python side uses quorum queues.
    #[serde(rename = "x-queue-type")]
    pub x_queue_type: Option<QueueType>,
}

/// Per-task defaults as written in the file (`[task."<name>"]`). Every field is optional; unset
/// fields keep the task's own defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawTask {
    /// Ack after the outcome is replied (true) or when the task starts (false).
    pub acks_late: Option<bool>,
    /// On failure: ack (true) or reject without requeue so a DLX catches it (false).
    pub acks_on_failure: Option<bool>,
    /// Retries allowed before the task fails; negative means unlimited.
    pub max_retries: Option<i64>,
    /// Hard time limit in seconds.
    pub time_limit: Option<f64>,
    /// Soft time limit in seconds.
    pub soft_time_limit: Option<f64>,
    /// Countdown used when a task asks for a retry without one (Celery: 180 s).
    pub default_retry_delay: Option<f64>,
    /// Base factor of exponential backoff in seconds.
    pub retry_backoff: Option<f64>,
    /// Cap of exponential backoff in seconds.
    pub retry_backoff_max: Option<f64>,
    /// Full jitter on backoff.
    pub retry_jitter: Option<bool>,
    /// Send a STARTED reply when the task starts.
    pub track_started: Option<bool>,
    /// Never reply.
    pub ignore_result: Option<bool>,
    /// Most runs started per second, minute or hour: `"10/s"`, `"100/m"`, `"5/h"` (Celery's
    /// `rate_limit`).
    pub rate_limit: Option<String>,
}

/// The configuration file, mirrored field for field (kebab-case keys, unknown keys refused).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawConfig {
    /// AMQP URL. Prefer the environment for it: it usually carries a password.
    pub broker_url: Option<String>,
    /// Queues to consume.
    pub queues: Option<Vec<String>>,
    /// Tasks run at once.
    pub concurrency: Option<u32>,
    /// Prefetch = concurrency × this.
    pub prefetch_multiplier: Option<u32>,
    /// Node name used in STARTED replies and logs.
    pub hostname: Option<String>,
    /// Seconds running tasks get to finish after SIGTERM.
    pub shutdown_grace: Option<f64>,
    /// Most ETA messages held at once beyond the base prefetch.
    pub eta_limit: Option<u32>,
    /// RabbitMQ's `consumer_timeout` in seconds, to warn about ETAs beyond it.
    pub consumer_timeout: Option<f64>,
    /// First reconnect delay in seconds.
    pub reconnect_initial: Option<f64>,
    /// Longest reconnect delay in seconds.
    pub reconnect_max: Option<f64>,
    /// `host:port` for `/healthz` and `/metrics`; absent = no endpoint.
    pub metrics_listen: Option<String>,
    /// `text` or `json`.
    pub log_format: Option<LogFormat>,
    /// Send task events (`-E`).
    pub events: Option<bool>,
    /// Send no worker-online/heartbeat/offline events.
    pub without_heartbeat: Option<bool>,
    /// The broker monitoring events go to, if not the worker's.
    pub events_broker_url: Option<String>,
    /// Events queued for the publisher at most before new ones are dropped.
    pub events_buffer: Option<u32>,
    /// Per-queue declaration arguments.
    pub queue: BTreeMap<String, RawQueue>,
    /// Per-task defaults.
    pub task: BTreeMap<String, RawTask>,
}

impl RawConfig {
    /// Parses the TOML text of a configuration file.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(ConfigError::Toml)
    }
}

/// Values from command-line flags (or their environment fallbacks); each one set wins over the
/// file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--broker` / `CELERIAC_BROKER_URL`.
    pub broker_url: Option<String>,
    /// `-Q/--queues`.
    pub queues: Option<Vec<String>>,
    /// `-c/--concurrency`.
    pub concurrency: Option<u32>,
    /// `--prefetch-multiplier`.
    pub prefetch_multiplier: Option<u32>,
    /// `--hostname`.
    pub hostname: Option<String>,
    /// `--metrics-listen`.
    pub metrics_listen: Option<String>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
    /// `-E/--events`.
    pub events: Option<bool>,
    /// `--without-heartbeat`.
    pub without_heartbeat: Option<bool>,
    /// `--events-broker` / `CELERIAC_EVENTS_BROKER_URL`.
    pub events_broker_url: Option<String>,
}

/// The validated worker configuration.
#[derive(Debug)]
pub struct Config {
    /// Where the broker is.
    pub broker: BrokerUrl,
    /// Queues to consume, in order.
    pub queues: Vec<QueueSpec>,
    /// The file's `[queue.<name>]` declaration arguments, also for queues added later through
    /// remote control's `add_consumer` (see [`Config::queue_spec`]).
    pub queue_arguments: BTreeMap<String, RawQueue>,
    /// Tasks run at once.
    pub concurrency: u32,
    /// Prefetch = concurrency × multiplier (0 = unlimited, as in Celery).
    pub prefetch_multiplier: u32,
    /// Node name, e.g. `celeriac@host`.
    pub hostname: String,
    /// How long running tasks may take to finish after a shutdown request.
    pub shutdown_grace: Duration,
    /// Most ETA messages for which the prefetch window is widened.
    pub eta_limit: u32,
    /// RabbitMQ `consumer_timeout`: holding an ETA message longer closes the channel.
    pub consumer_timeout: Duration,
    /// First reconnect delay.
    pub reconnect_initial: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// Where `/healthz` and `/metrics` listen, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// Log format for the binary.
    pub log_format: LogFormat,
    /// Per-task settings from the file, applied over each task's own defaults.
    pub task_overrides: BTreeMap<String, RawTask>,
    /// Monitoring events (`celeryev`).
    pub events: EventSettings,
}

impl Config {
    /// Merges the file and the flags over the built-in defaults and validates the result.
    pub fn from_parts(raw: RawConfig, flags: Overrides) -> Result<Self, ConfigError> {
        let events = EventSettings::from_parts(&raw, &flags)?;
        let broker = BrokerUrl::parse(
            flags
                .broker_url
                .as_deref()
                .or(raw.broker_url.as_deref())
                .unwrap_or(DEFAULT_BROKER_URL),
        )
        .map_err(|_| ConfigError::BrokerUrl)?;
        let names = flags
            .queues
            .or(raw.queues)
            .unwrap_or_else(|| vec![DEFAULT_QUEUE.to_owned()]);
        let queues = queue_specs(names, &raw.queue)?;
        let queue_arguments = raw.queue.clone();
        let concurrency = flags
            .concurrency
            .or(raw.concurrency)
            .unwrap_or(default_concurrency());
        if concurrency == 0 || concurrency > 10_000 {
            return Err(out_of_range("concurrency", "between 1 and 10000"));
        }
        let prefetch_multiplier = flags
            .prefetch_multiplier
            .or(raw.prefetch_multiplier)
            .unwrap_or(4);
        if u64::from(concurrency) * u64::from(prefetch_multiplier) > u64::from(u16::MAX) {
            return Err(out_of_range(
                "prefetch-multiplier",
                "such that concurrency × multiplier ≤ 65535",
            ));
        }
        let metrics_listen = flags.metrics_listen.or(raw.metrics_listen);
        let metrics_listen = metrics_listen
            .map(|value| {
                value
                    .parse()
                    .map_err(|source| ConfigError::ListenAddr { value, source })
            })
            .transpose()?;
        for (name, task) in &raw.task {
            TaskOptions::default().apply(name, task)?;
        }
        Ok(Self {
            broker,
            queues,
            queue_arguments,
            concurrency,
            prefetch_multiplier,
            hostname: flags
                .hostname
                .or(raw.hostname)
                .unwrap_or_else(|| "celeriac@localhost".to_owned()),
            shutdown_grace: seconds("shutdown-grace", raw.shutdown_grace, 30.0)?,
            eta_limit: raw.eta_limit.unwrap_or(1000),
            consumer_timeout: seconds("consumer-timeout", raw.consumer_timeout, 1800.0)?,
            reconnect_initial: seconds("reconnect-initial", raw.reconnect_initial, 0.2)?,
            reconnect_max: seconds("reconnect-max", raw.reconnect_max, 30.0)?,
            metrics_listen,
            log_format: flags.log_format.or(raw.log_format).unwrap_or_default(),
            task_overrides: raw.task,
            events,
        })
    }

    /// The AMQP prefetch count: concurrency × multiplier (0 means no limit).
    pub fn prefetch(&self) -> u16 {
        u16::try_from(self.concurrency * self.prefetch_multiplier).unwrap_or(u16::MAX)
    }

    /// How queue `name` is declared: with its `[queue.<name>]` arguments if the file has them,
    /// else as a plain classic queue (Celery's defaults).
    pub fn queue_spec(&self, name: &str) -> QueueSpec {
        spec_of(name.to_owned(), &self.queue_arguments)
    }

    /// True when any consumed queue is a quorum queue, which forbids global QoS.
    pub fn has_quorum_queue(&self) -> bool {
        celeriac_broker::has_quorum_queue(&self.queues)
    }
}

fn default_concurrency() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1))
}

fn out_of_range(setting: &str, expected: &'static str) -> ConfigError {
    ConfigError::OutOfRange {
        setting: setting.to_owned(),
        expected,
    }
}

/// Turns an optional number of seconds into a `Duration`, refusing negatives, NaN and absurd values.
pub(crate) fn seconds(
    setting: &str,
    value: Option<f64>,
    default: f64,
) -> Result<Duration, ConfigError> {
    let value = value.unwrap_or(default);
    positive_seconds(value).ok_or_else(|| out_of_range(setting, "a number of seconds ≥ 0"))
}

/// `Some(Duration)` for a finite, non-negative number of seconds below ~31 years.
pub(crate) fn positive_seconds(value: f64) -> Option<Duration> {
    (value.is_finite() && (0.0..1e9).contains(&value)).then(|| Duration::from_secs_f64(value))
}

fn queue_specs(
    names: Vec<String>,
    raw: &BTreeMap<String, RawQueue>,
) -> Result<Vec<QueueSpec>, ConfigError> {
    let mut specs: Vec<QueueSpec> = Vec::with_capacity(names.len());
    for name in names {
        let name = name.trim().to_owned();
        if name.is_empty() || name.len() > 255 {
            return Err(ConfigError::QueueName { name });
        }
        if specs.iter().any(|s| s.name == name) {
            continue;
        }
        specs.push(spec_of(name, raw));
    }
    if specs.is_empty() {
        return Err(ConfigError::NoQueues);
    }
    Ok(specs)
}

/// Queue `name` declared with its `raw` arguments, if any.
pub(crate) fn spec_of(name: String, raw: &BTreeMap<String, RawQueue>) -> QueueSpec {
    let args = raw.get(&name).cloned().unwrap_or_default();
    QueueSpec {
        name,
        max_priority: args.x_max_priority,
        queue_type: args.x_queue_type.unwrap_or_default(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn defaults_match_celery() {
        let c = Config::from_parts(RawConfig::default(), Overrides::default()).unwrap();
        assert_eq!(c.queues.len(), 1);
        assert_eq!(c.queues[0].name, "celery");
        assert_eq!(c.queues[0].max_priority, None);
        assert_eq!(c.queues[0].queue_type, QueueType::Classic);
        assert_eq!(c.prefetch_multiplier, 4);
        assert_eq!(c.broker.safe_url(), "amqp://guest:***@127.0.0.1:5672/%2f");
        assert_eq!(c.shutdown_grace, Duration::from_secs(30));
        assert!(c.metrics_listen.is_none());
    }

    #[test]
    fn flags_win_over_file() {
        let raw = RawConfig::from_toml(
            r#"
            broker-url = "amqp://u:filepw@h:1/v"
            queues = ["a"]
            concurrency = 3
            metrics-listen = "127.0.0.1:9000"
            [queue.a]
            x-max-priority = 10
            [queue.b]
            x-queue-type = "quorum"
            [task."backup.run"]
            acks-late = true
            time-limit = 60
            "#,
        )
        .unwrap();
        let flags = Overrides {
            queues: Some(vec!["b".into(), "a".into(), "b".into()]),
            concurrency: Some(8),
            ..Overrides::default()
        };
        let c = Config::from_parts(raw, flags).unwrap();
        let names: Vec<_> = c.queues.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(c.queues[0].queue_type, QueueType::Quorum);
        assert_eq!(c.queues[1].max_priority, Some(10));
        assert!(c.has_quorum_queue());
        assert_eq!(c.queue_spec("a"), c.queues[1]);
        assert_eq!(c.queue_spec("zz").queue_type, QueueType::Classic);
        assert_eq!(c.queue_spec("zz").max_priority, None);
        assert_eq!(c.concurrency, 8);
        assert_eq!(c.prefetch(), 32);
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9000".parse().unwrap()));
        assert_eq!(c.broker.safe_url(), "amqp://u:***@h:1/v");
    }

    #[test]
    fn secrets_never_printed() {
        let c = Config::from_parts(
            RawConfig::default(),
            Overrides {
                broker_url: Some("amqp://user:s3cr3t@host/%2f".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert!(!format!("{}", c.broker).contains("s3cr3t"));
        let err = BrokerUrl::parse("http://user:s3cr3t@[bad").unwrap_err();
        assert!(!format!("{err:?} {err}").contains("s3cr3t"));
    }

    #[test]
    fn the_readme_worker_config_example_parses() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## The worker")
            .nth(1)
            .expect("README has a worker section");
        let toml = section
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("the worker section has a TOML example");
        let raw = RawConfig::from_toml(toml).unwrap();
        let c = Config::from_parts(raw, Overrides::default()).unwrap();
        assert_eq!(c.queues[1].max_priority, Some(10));
        assert_eq!(c.shutdown_grace, Duration::from_mins(1));
        assert!(c.task_overrides.contains_key("celery.accumulate"));
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(matches!(
            RawConfig::from_toml("nope = 1"),
            Err(ConfigError::Toml(_))
        ));
        let zero = Overrides {
            concurrency: Some(0),
            ..Overrides::default()
        };
        assert!(matches!(
            Config::from_parts(RawConfig::default(), zero),
            Err(ConfigError::OutOfRange { .. })
        ));
        let raw = RawConfig::from_toml("shutdown-grace = -1.0").unwrap();
        assert!(Config::from_parts(raw, Overrides::default()).is_err());
        let raw = RawConfig::from_toml("[task.x]\ntime-limit = -5").unwrap();
        assert!(Config::from_parts(raw, Overrides::default()).is_err());
        for bad in ["10/d", "ten/s", "0/s", "-1/m", ""] {
            let raw = RawConfig::from_toml(&format!("[task.x]\nrate-limit = {bad:?}")).unwrap();
            let err = Config::from_parts(raw, Overrides::default()).unwrap_err();
            assert!(
                matches!(&err, ConfigError::RateLimit { setting, .. } if setting == "task.x.rate-limit"),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().contains("\"10/s\""), "{err}");
        }
        assert!(matches!(
            RawConfig::from_toml("[task.x]\nrate-limit = 10"),
            Err(ConfigError::Toml(_))
        ));
        let raw = RawConfig::from_toml("[task.x]\nrate-limit = \"5/h\"").unwrap();
        let c = Config::from_parts(raw, Overrides::default()).unwrap();
        assert_eq!(c.task_overrides["x"].rate_limit.as_deref(), Some("5/h"));
        let empty = Overrides {
            queues: Some(vec![" ".into()]),
            ..Overrides::default()
        };
        assert!(matches!(
            Config::from_parts(RawConfig::default(), empty),
            Err(ConfigError::QueueName { .. })
        ));
    }
}
