//! [`Schedule`]: a crontab or an interval, and its slots in a time zone.

use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::crontab::Crontab;
use crate::duration::format_duration;
use crate::interval::Every;
use crate::zoned;

/// When an entry runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Wall-clock minutes in the entry's zone, Celery `crontab` semantics.
    Crontab(Crontab),
    /// A fixed interval anchored at the Unix epoch.
    Every(Every),
}

impl Schedule {
    /// The first slot strictly after `t` (`None` only past the year 262143).
    pub fn next_after(&self, tz: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Crontab(cron) => zoned::next_after(cron, tz, t),
            Schedule::Every(every) => every.next_after(t),
        }
    }

    /// The last slot at or before `t`.
    pub fn latest_at_or_before(&self, tz: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Crontab(cron) => zoned::latest_at_or_before(cron, tz, t),
            Schedule::Every(every) => every.latest_at_or_before(t),
        }
    }

    /// The slots strictly after `t`, in order.
    pub fn slots_after(&self, tz: Tz, t: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> {
        let mut cursor = t;
        std::iter::from_fn(move || {
            let next = self.next_after(tz, cursor)?;
            cursor = next;
            Some(next)
        })
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Crontab(cron) => write!(f, "crontab {:?}", cron.as_str()),
            Schedule::Every(every) => write!(f, "every {}", format_duration(every.duration())),
        }
    }
}
