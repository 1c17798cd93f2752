//! The typed errors of the crate: a crontab that does not parse, a duration that does not parse,
//! and a `[beat]` config that does not validate (each naming the entry at fault).

use crate::crontab::Field;

/// Why a crontab expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrontabError {
    /// Not five space-separated fields.
    #[error(
        "a crontab has 5 fields \"minute hour day_of_month month_of_year day_of_week\", found {found}"
    )]
    FieldCount {
        /// How many fields there were.
        found: usize,
    },
    /// An empty item in a list (`1,,2`) or an empty step (`*/`).
    #[error("{field}: empty part in {spec:?}")]
    EmptyPart {
        /// The field.
        field: Field,
        /// The field's text.
        spec: String,
    },
    /// Not a number, a `*`, a range, a step, or a month/weekday name Celery knows.
    #[error(
        "{field}: cannot read {part:?} (numbers, *, a-b, */n, a-b/n, and names like mon or jan)"
    )]
    Invalid {
        /// The field.
        field: Field,
        /// The offending item.
        part: String,
    },
    /// A value outside the field's range.
    #[error("{field}: {value} is out of range {min}-{max}")]
    OutOfRange {
        /// The field.
        field: Field,
        /// The value.
        value: u32,
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value.
        max: u32,
    },
    /// `*/0` or `a-b/0`.
    #[error("{field}: a step must be at least 1 in {part:?}")]
    ZeroStep {
        /// The field.
        field: Field,
        /// The offending item.
        part: String,
    },
    /// The day-of-month, month and day-of-week fields never meet (e.g. `0 0 30 2 *`).
    #[error(
        "{spec:?} never fires: no date matches its day_of_month, month_of_year and day_of_week"
    )]
    NeverFires {
        /// The expression.
        spec: String,
    },
}

/// Why a duration such as `30s` or `1h30m` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not `<number><unit>...` with units `s`, `m`, `h`, `d`.
    #[error("cannot read the duration {0:?} (write e.g. 30s, 5m, 1h30m, 1d)")]
    Invalid(String),
    /// Zero (an interval or window must last).
    #[error("the duration {0:?} is zero")]
    Zero(String),
    /// Longer than this crate handles (100 years).
    #[error("the duration {0:?} is too long")]
    TooLong(String),
}

/// Why the `[beat]` section was refused. Every variant names the entry it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is not valid TOML, or `[beat]` has an unknown key or a wrong type.
    #[error("[beat]: {0}")]
    Toml(toml::de::Error),
    /// A time zone that is not an IANA name.
    #[error(
        "{place}: unknown time zone {zone:?} (use an IANA name such as \"Europe/Paris\" or \"UTC\")"
    )]
    UnknownZone {
        /// `[beat]` or `[beat.schedule.NAME]`.
        place: String,
        /// The name given.
        zone: String,
    },
    /// `metrics-listen` is not `host:port` with a numeric host.
    #[error(
        "[beat] metrics-listen: {addr:?} is not an address such as \"0.0.0.0:9809\" (an IP address and a port)"
    )]
    MetricsListen {
        /// The value given.
        addr: String,
    },
    /// A crontab that does not parse.
    #[error("[beat.schedule.{entry}]: schedule: {cause}")]
    Crontab {
        /// The entry.
        entry: String,
        /// What is wrong (in the message, so not repeated as a source).
        cause: CrontabError,
    },
    /// A duration (`every`, `grace`, `expires`) that does not parse.
    #[error("[beat.schedule.{entry}]: {key}: {cause}")]
    Duration {
        /// The entry.
        entry: String,
        /// The key.
        key: &'static str,
        /// What is wrong (in the message, so not repeated as a source).
        cause: DurationError,
    },
    /// `schedule` is neither a crontab string nor `{ every = "..." }`.
    #[error(
        "[beat.schedule.{entry}]: schedule must be a crontab string such as \"0 4 * * *\" or {{ every = \"30s\" }}"
    )]
    ScheduleShape {
        /// The entry.
        entry: String,
    },
    /// `task` is missing or empty.
    #[error(
        "[beat.schedule.{entry}]: task must name a task, e.g. \"apps.backups.tasks.configuration_backup\""
    )]
    Task {
        /// The entry.
        entry: String,
    },
    /// `options.priority` outside 0-255 (RabbitMQ's range; Celery documents 0-9).
    #[error("[beat.schedule.{entry}]: options.priority {value} is outside 0-255")]
    Priority {
        /// The entry.
        entry: String,
        /// The value.
        value: i64,
    },
    /// `options.queue` is empty.
    #[error("[beat.schedule.{entry}]: options.queue must not be empty")]
    Queue {
        /// The entry.
        entry: String,
    },
    /// `grace` given with a policy other than `missed = "grace"`.
    #[error("[beat.schedule.{entry}]: grace only applies with missed = \"grace\"")]
    GraceWithoutGracePolicy {
        /// The entry.
        entry: String,
    },
}
