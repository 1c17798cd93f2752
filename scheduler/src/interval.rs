//! `{ every = "30s" }`: a fixed interval, anchored at the Unix epoch.
//!
//! Celery's `schedule(run_every=...)` counts from the entry's last run, which differs from one
//! replica to the next. celeriac anchors the slots at 1970-01-01T00:00:00Z instead (slot k at
//! `k × every`), so every replica computes the same slots and the same task ids: `every = "1h"`
//! fires on the hour (UTC), `every = "30s"` at :00 and :30. Time zones do not apply: an
//! interval measures elapsed time.

use chrono::{DateTime, Duration, Utc};

/// A fixed interval of whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Every {
    seconds: i64,
}

impl Every {
    /// An interval of `d`, rounded down to whole seconds; `None` when under one second.
    pub fn new(d: Duration) -> Option<Every> {
        let seconds = d.num_seconds();
        (seconds >= 1).then_some(Every { seconds })
    }

    /// The interval.
    pub fn duration(self) -> Duration {
        Duration::seconds(self.seconds)
    }

    /// The last slot at or before `t`.
    pub fn latest_at_or_before(self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let k = t.timestamp().div_euclid(self.seconds);
        DateTime::from_timestamp(k.checked_mul(self.seconds)?, 0)
    }

    /// The first slot strictly after `t`.
    pub fn next_after(self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.latest_at_or_before(t)?
            .checked_add_signed(self.duration())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn slots_are_multiples_of_the_interval_since_the_epoch() {
        let every = Every::new(Duration::seconds(30)).unwrap();
        assert_eq!(
            every.next_after(at("2026-03-29T01:59:59.900Z")),
            Some(at("2026-03-29T02:00:00Z"))
        );
        assert_eq!(
            every.next_after(at("2026-03-29T02:00:00Z")),
            Some(at("2026-03-29T02:00:30Z"))
        );
        assert_eq!(
            every.latest_at_or_before(at("2026-03-29T02:00:29.999Z")),
            Some(at("2026-03-29T02:00:00Z"))
        );
        assert_eq!(
            every.latest_at_or_before(at("2026-03-29T02:00:30Z")),
            Some(at("2026-03-29T02:00:30Z"))
        );
        assert!(Every::new(Duration::milliseconds(500)).is_none());
    }

    #[test]
    fn before_the_epoch_still_rounds_down() {
        let every = Every::new(Duration::hours(1)).unwrap();
        assert_eq!(
            every.latest_at_or_before(at("1969-12-31T23:30:00Z")),
            Some(at("1969-12-31T23:00:00Z"))
        );
    }
}
