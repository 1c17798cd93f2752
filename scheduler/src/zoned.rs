//! Wall-clock times in a time zone → instants, with beat's DST rules, and the search for the
//! crontab slot after (or at/before) an instant.
//!
//! A crontab names wall-clock minutes in a zone. Each matching wall-clock minute `W` is one
//! slot, at the instant:
//! * `W` itself when it exists once;
//! * the **first** occurrence when the clocks go back and `W` exists twice (so a slot in the
//!   repeated hour runs once);
//! * the **end of the gap** when the clocks go forward over `W` (02:30 on a spring-forward
//!   night in Paris runs at 03:00 CEST). Several slots in one gap land on the same instant,
//!   and so are one slot, run once.
//!
//! This mapping never decreases as `W` increases, which is what lets the searches below stop
//! at the first hit.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::crontab::Crontab;

/// How far a search looks before giving up (more than any 28-year calendar cycle, so only an
/// expression that never fires reaches it, and [`Crontab::parse`] refuses those).
const SEARCH_DAYS: i64 = 366 * 30;

/// The largest clock change any zone has made, with margin: a wall time this far after an
/// instant's own wall time cannot map to an earlier instant.
const MAX_SHIFT: Duration = Duration::hours(3);

/// The instant a wall-clock time in `tz` stands for, by the rules above.
pub fn resolve(tz: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    if let Some(first) = tz.from_local_datetime(&wall).earliest() {
        return first.with_timezone(&Utc);
    }
    // In a gap: the first wall-clock minute after it that exists is the end of the gap.
    let mut probe = wall.with_second(0).unwrap_or(wall);
    for _ in 0..(24 * 60) {
        probe += Duration::minutes(1);
        if let Some(first) = tz.from_local_datetime(&probe).earliest() {
            return first.with_timezone(&Utc);
        }
    }
    // No zone has a gap of a day; read the wall time as UTC rather than fail.
    wall.and_utc()
}

/// The wall-clock time of `t` in `tz`.
pub fn wall_time(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

/// The first slot of `cron` in `tz` strictly after `t`.
pub fn next_after(cron: &Crontab, tz: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let start = truncate_to_minute(wall_time(tz, t));
    let mut date = start.date();
    for _ in 0..SEARCH_DAYS {
        if cron.matches_date(date) {
            for time in times(cron) {
                let wall = date.and_time(time);
                if wall < start {
                    continue;
                }
                let at = resolve(tz, wall);
                if at > t {
                    return Some(at);
                }
            }
        }
        date = date.succ_opt()?;
    }
    None
}

/// The last slot of `cron` in `tz` at or before `t`.
pub fn latest_at_or_before(cron: &Crontab, tz: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // In a repeated hour, a wall time later than t's own may stand for an earlier instant
    // (its first occurrence): start the search a little later than t's wall time.
    let start = wall_time(tz, t) + MAX_SHIFT;
    let mut date = start.date();
    for _ in 0..SEARCH_DAYS {
        if cron.matches_date(date) {
            for time in times(cron).rev() {
                let wall = date.and_time(time);
                if wall > start {
                    continue;
                }
                let at = resolve(tz, wall);
                if at <= t {
                    return Some(at);
                }
            }
        }
        date = date.pred_opt()?;
    }
    None
}

/// The crontab's times of day, ascending.
fn times(cron: &Crontab) -> impl DoubleEndedIterator<Item = NaiveTime> + '_ {
    cron.hour.values().flat_map(move |h| {
        cron.minute
            .values()
            .filter_map(move |m| NaiveTime::from_hms_opt(h, m, 0))
    })
}

fn truncate_to_minute(wall: NaiveDateTime) -> NaiveDateTime {
    let date: NaiveDate = wall.date();
    let time = NaiveTime::from_hms_opt(wall.hour(), wall.minute(), 0).unwrap_or(wall.time());
    date.and_time(time)
}
