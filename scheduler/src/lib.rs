//! celeriac beat's core, as pure data and pure functions: the `[beat]` config, Celery crontab
//! maths in a time zone (DST-correct), intervals, slots and their deterministic task ids, the
//! missed-slot policy over an injected [`Clock`], and the protocol v2 message for a slot.
//! No I/O: publishing, leader election and persistence live elsewhere.
//!
//! ```
//! use celeriac_scheduler::{BeatConfig, Slot};
//!
//! let config = BeatConfig::from_toml("[beat]\ntimezone = \"Europe/Paris\"\n")?;
//! let entry = &config.entries[0]; // the default: configuration-backup-daily, 0 4 * * *
//! let now = "2026-03-28T12:00:00Z".parse()?;
//! let next = entry.schedule.next_after(entry.timezone, now).expect("a next run");
//! assert_eq!(next.to_rfc3339(), "2026-03-29T02:00:00+00:00"); // 04:00 CEST
//! let id = Slot::new(&entry.name, next).task_id(); // the same on every replica
//! # let _ = id;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod clock;
mod config;
mod crontab;
mod duration;
mod error;
mod interval;
mod message;
mod missed;
mod schedule;
mod slot;
mod ticker;
pub mod zoned;

pub use chrono_tz::Tz;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    BeatConfig, DEFAULT_CRONTAB, DEFAULT_ENTRY, DEFAULT_PRIORITY, DEFAULT_TASK, Entry,
    EntryOptions, MissedKind, RawBeat, RawEntry, RawOptions,
};
pub use crontab::{Crontab, Field, ValueSet};
pub use duration::{format_duration, parse_duration};
pub use error::{ConfigError, CrontabError, DurationError};
pub use interval::Every;
pub use message::{DEFAULT_QUEUE, Outgoing, Route, Sender, beat_message};
pub use missed::{
    DEFAULT_GRACE, Due, MAX_FIRE_PER_CALL, MissedPolicy, ON_TIME, Skipped, due, due_now,
};
pub use schedule::Schedule;
pub use slot::{Slot, slot_namespace};
pub use ticker::{EntryDue, MAX_SLEEP, Ticker};
