//! What to fire when beat looks at an entry: the slots since the last one handled, filtered by
//! the entry's [`MissedPolicy`]. A pure function of (schedule, zone, policy, last slot, now);
//! [`due_now`] reads "now" from a [`Clock`].
//!
//! The same function serves the on-time tick and the catch-up after downtime: a slot found
//! less than [`ON_TIME`] late is on time and always fires; an older one was missed (no beat was
//! up over it) and the policy decides.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::clock::Clock;
use crate::schedule::Schedule;

/// How late a slot may be found and still count as on time (beat wakes up a little after the
/// slot; a busy host may be late by seconds).
pub const ON_TIME: Duration = Duration::seconds(60);

/// The default grace window of [`MissedPolicy::Grace`].
pub const DEFAULT_GRACE: Duration = Duration::hours(1);

/// At most this many slots fire per call under [`MissedPolicy::All`]; the rest fire on the
/// next call (the returned `through` stops at the last one fired).
pub const MAX_FIRE_PER_CALL: usize = 100;

/// How many skipped slots are counted before the count says "at least".
const MAX_COUNTED: usize = 10_000;

/// What to do with slots that passed while no beat was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissedPolicy {
    /// Fire the most recent missed slot once if it is at most this late; skip older ones.
    Grace(Duration),
    /// Fire nothing that was missed (only on-time slots fire).
    Skip,
    /// Fire every missed slot, oldest first.
    All,
}

impl Default for MissedPolicy {
    fn default() -> Self {
        MissedPolicy::Grace(DEFAULT_GRACE)
    }
}

/// How many slots were skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// Exactly this many.
    Exactly(usize),
    /// At least this many (counting stopped).
    AtLeast(usize),
}

impl Skipped {
    /// Whether nothing was skipped.
    pub fn is_none(self) -> bool {
        self == Skipped::Exactly(0)
    }
}

/// The decision for one entry at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Slots to publish now, oldest first.
    pub fire: Vec<DateTime<Utc>>,
    /// Slots passed over (to log and record).
    pub skipped: Skipped,
    /// The latest slot now handled (fired or skipped): record it as the entry's last slot.
    /// `None` when nothing changed.
    pub through: Option<DateTime<Utc>>,
}

/// The decision for an entry whose last handled slot is `last` (`None`: never ran) at `now`.
///
/// With no `last`, nothing counts as missed: only a slot found on time fires, so a first start
/// does not run a job it was never up for.
pub fn due(
    schedule: &Schedule,
    tz: Tz,
    policy: MissedPolicy,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Due {
    let nothing = Due {
        fire: Vec::new(),
        skipped: Skipped::Exactly(0),
        through: None,
    };
    let floor = last.unwrap_or(now - ON_TIME);
    let Some(latest) = schedule.latest_at_or_before(tz, now) else {
        return nothing;
    };
    if latest <= floor {
        return nothing;
    }
    if policy == MissedPolicy::All && last.is_some() {
        let fire: Vec<_> = schedule
            .slots_after(tz, floor)
            .take_while(|s| *s <= now)
            .take(MAX_FIRE_PER_CALL)
            .collect();
        let through = fire.last().copied();
        return Due {
            fire,
            skipped: Skipped::Exactly(0),
            through,
        };
    }
    // A first start (no `last`) fires at most the latest slot, and only when on time.
    let window = match (policy, last) {
        (MissedPolicy::Grace(window), Some(_)) => window.max(ON_TIME),
        _ => ON_TIME,
    };
    let fire = if now - latest <= window {
        vec![latest]
    } else {
        Vec::new()
    };
    // The slots before `latest` (and `latest` itself when it does not fire) are skipped.
    let mut counted = schedule
        .slots_after(tz, floor)
        .take_while(|s| *s < latest)
        .take(MAX_COUNTED + 1)
        .count();
    if fire.is_empty() && counted <= MAX_COUNTED {
        counted += 1;
    }
    let skipped = if last.is_none() {
        // A first start missed nothing: it was never responsible for the earlier slots.
        Skipped::Exactly(0)
    } else if counted > MAX_COUNTED {
        Skipped::AtLeast(MAX_COUNTED)
    } else {
        Skipped::Exactly(counted)
    };
    Due {
        fire,
        skipped,
        through: Some(latest),
    }
}

/// [`due`] at the clock's now.
pub fn due_now(
    schedule: &Schedule,
    tz: Tz,
    policy: MissedPolicy,
    last: Option<DateTime<Utc>>,
    clock: &dyn Clock,
) -> Due {
    due(schedule, tz, policy, last, clock.now())
}
