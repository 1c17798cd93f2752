//! Schedule maths with an injected clock, never by waiting: next runs across months and leap
//! days, both DST transitions in Europe/Paris and America/New_York, day-of-month AND
//! day-of-week, intervals, and the missed-slot policies.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use celeriac_scheduler::{
    Crontab, Due, Every, ManualClock, MissedPolicy, Schedule, Skipped, Tz, due, due_now,
};
use chrono::{DateTime, Duration, Utc};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn cron(spec: &str) -> Schedule {
    Schedule::Crontab(Crontab::parse(spec).unwrap())
}

fn every(secs: i64) -> Schedule {
    Schedule::Every(Every::new(Duration::seconds(secs)).unwrap())
}

/// The first `n` slots after `from`, as RFC 3339 UTC strings.
fn runs(schedule: &Schedule, tz: Tz, from: &str, n: usize) -> Vec<String> {
    schedule
        .slots_after(tz, at(from))
        .take(n)
        .map(|t| t.to_rfc3339())
        .collect()
}

const PARIS: Tz = Tz::Europe__Paris;
const NEW_YORK: Tz = Tz::America__New_York;

#[test]
fn months_skip_those_without_the_day() {
    assert_eq!(
        runs(&cron("0 0 31 * *"), Tz::UTC, "2026-01-31T00:00:00Z", 3),
        [
            "2026-03-31T00:00:00+00:00",
            "2026-05-31T00:00:00+00:00",
            "2026-07-31T00:00:00+00:00"
        ]
    );
    // Month names and year wrap.
    assert_eq!(
        runs(
            &cron("15 6 1 jan,jul *"),
            Tz::UTC,
            "2026-07-01T06:15:00Z",
            2
        ),
        ["2027-01-01T06:15:00+00:00", "2027-07-01T06:15:00+00:00"]
    );
}

#[test]
fn leap_days() {
    assert_eq!(
        runs(&cron("0 12 29 2 *"), Tz::UTC, "2026-03-01T00:00:00Z", 2),
        ["2028-02-29T12:00:00+00:00", "2032-02-29T12:00:00+00:00"]
    );
    // 29 February that is also a Monday (AND): 2044 after 2016.
    assert_eq!(
        runs(&cron("0 0 29 2 mon"), Tz::UTC, "2017-01-01T00:00:00Z", 1),
        ["2044-02-29T00:00:00+00:00"]
    );
    // 28 February and 1 March around a leap day, in Paris (UTC+1 in winter).
    assert_eq!(
        runs(&cron("0 0 28,1 2,3 *"), PARIS, "2028-02-27T00:00:00Z", 2),
        ["2028-02-27T23:00:00+00:00", "2028-02-29T23:00:00+00:00"]
    );
}

#[test]
fn day_of_month_and_day_of_week_are_anded() {
    // Friday the 13th only, not every Friday nor every 13th (Vixie cron would OR them).
    assert_eq!(
        runs(&cron("0 9 13 * fri"), Tz::UTC, "2026-01-01T00:00:00Z", 3),
        [
            "2026-02-13T09:00:00+00:00",
            "2026-03-13T09:00:00+00:00",
            "2026-11-13T09:00:00+00:00"
        ]
    );
    // Weekdays only, Sunday = 0: mon-fri at 04:00 skips the weekend.
    assert_eq!(
        runs(&cron("0 4 * * 1-5"), Tz::UTC, "2026-12-04T05:00:00Z", 2),
        ["2026-12-07T04:00:00+00:00", "2026-12-08T04:00:00+00:00"]
    );
    assert_eq!(
        runs(&cron("0 4 * * 0"), Tz::UTC, "2026-12-04T05:00:00Z", 1),
        ["2026-12-06T04:00:00+00:00"]
    );
}

#[test]
fn paris_spring_forward_a_skipped_slot_runs_once_right_after_the_gap() {
    // 29 March 2026: 02:00 CET becomes 03:00 CEST (01:00Z); 02:30 does not exist.
    assert_eq!(
        runs(&cron("30 2 * * *"), PARIS, "2026-03-27T12:00:00Z", 3),
        [
            "2026-03-28T01:30:00+00:00", // 02:30 CET
            "2026-03-29T01:00:00+00:00", // 03:00 CEST, the end of the gap
            "2026-03-30T00:30:00+00:00"  // 02:30 CEST
        ]
    );
    // Four slots in the gap are one run, and a slot at 03:00 is the same run.
    assert_eq!(
        runs(&cron("*/15 2,3 * * *"), PARIS, "2026-03-29T00:50:00Z", 4),
        [
            "2026-03-29T01:00:00+00:00",
            "2026-03-29T01:15:00+00:00",
            "2026-03-29T01:30:00+00:00",
            "2026-03-29T01:45:00+00:00"
        ]
    );
    // The daily 04:00 backup: 23 hours apart across the change.
    assert_eq!(
        runs(&cron("0 4 * * *"), PARIS, "2026-03-27T12:00:00Z", 3),
        [
            "2026-03-28T03:00:00+00:00",
            "2026-03-29T02:00:00+00:00",
            "2026-03-30T02:00:00+00:00"
        ]
    );
}

#[test]
fn paris_fall_back_a_repeated_slot_runs_once_at_its_first_occurrence() {
    // 25 October 2026: 03:00 CEST becomes 02:00 CET (01:00Z); 02:30 happens twice.
    assert_eq!(
        runs(&cron("30 2 * * *"), PARIS, "2026-10-24T12:00:00Z", 2),
        [
            "2026-10-25T00:30:00+00:00", // 02:30 CEST, the first one
            "2026-10-26T01:30:00+00:00"  // 02:30 CET the next day; not 01:30Z on the 25th
        ]
    );
    // Every 30 minutes: the wall-clock slots of the repeated hour run once, not twice.
    assert_eq!(
        runs(&cron("*/30 1-3 * * *"), PARIS, "2026-10-24T23:00:00Z", 5),
        [
            "2026-10-24T23:30:00+00:00", // 01:30 CEST
            "2026-10-25T00:00:00+00:00", // 02:00 CEST
            "2026-10-25T00:30:00+00:00", // 02:30 CEST
            "2026-10-25T02:00:00+00:00", // 03:00 CET (02:00 and 02:30 CET were already run)
            "2026-10-25T02:30:00+00:00"  // 03:30 CET
        ]
    );
    // Looking back from inside the second 02:xx finds the first occurrence.
    assert_eq!(
        cron("30 2 * * *").latest_at_or_before(PARIS, at("2026-10-25T01:45:00Z")),
        Some(at("2026-10-25T00:30:00Z"))
    );
}

#[test]
fn new_york_both_transitions() {
    // 8 March 2026: 02:00 EST becomes 03:00 EDT (07:00Z).
    assert_eq!(
        runs(&cron("0 2 * * *"), NEW_YORK, "2026-03-07T12:00:00Z", 3),
        [
            "2026-03-08T07:00:00+00:00", // 03:00 EDT, right after the gap
            "2026-03-09T06:00:00+00:00", // 02:00 EDT
            "2026-03-10T06:00:00+00:00"
        ]
    );
    // 1 November 2026: 02:00 EDT becomes 01:00 EST (06:00Z); 01:30 happens twice.
    assert_eq!(
        runs(&cron("30 1 * * *"), NEW_YORK, "2026-10-31T12:00:00Z", 2),
        ["2026-11-01T05:30:00+00:00", "2026-11-02T06:30:00+00:00"]
    );
    assert_eq!(
        runs(&cron("0 4 * * *"), NEW_YORK, "2026-10-31T12:00:00Z", 2),
        ["2026-11-01T09:00:00+00:00", "2026-11-02T09:00:00+00:00"]
    );
}

#[test]
fn intervals_ignore_zones_and_dst() {
    assert_eq!(
        runs(&every(3600), PARIS, "2026-03-29T00:10:00Z", 3),
        [
            "2026-03-29T01:00:00+00:00",
            "2026-03-29T02:00:00+00:00",
            "2026-03-29T03:00:00+00:00"
        ]
    );
    assert_eq!(
        runs(&every(30), Tz::UTC, "2026-12-31T23:59:45Z", 2),
        ["2027-01-01T00:00:00+00:00", "2027-01-01T00:00:30+00:00"]
    );
}

const DAILY_4: &str = "0 4 * * *";

fn decide(policy: MissedPolicy, last: Option<&str>, now: &str) -> Due {
    due(&cron(DAILY_4), Tz::UTC, policy, last.map(at), at(now))
}

#[test]
fn grace_fires_the_latest_missed_slot_once_within_the_window() {
    let grace = MissedPolicy::Grace(Duration::hours(1));
    let d = decide(grace, Some("2026-12-03T04:00:00Z"), "2026-12-04T04:30:00Z");
    assert_eq!(d.fire, [at("2026-12-04T04:00:00Z")]);
    assert_eq!(d.skipped, Skipped::Exactly(0));
    assert_eq!(d.through, Some(at("2026-12-04T04:00:00Z")));
    // Down for three nights, back 10 minutes after the last slot: one catch-up run.
    let d = decide(grace, Some("2026-12-01T04:00:00Z"), "2026-12-04T04:10:00Z");
    assert_eq!(d.fire, [at("2026-12-04T04:00:00Z")]);
    assert_eq!(d.skipped, Skipped::Exactly(2));
    // Back outside the window: nothing runs, the slot is recorded as skipped.
    let d = decide(grace, Some("2026-12-03T04:00:00Z"), "2026-12-04T05:30:00Z");
    assert!(d.fire.is_empty());
    assert_eq!(d.skipped, Skipped::Exactly(1));
    assert_eq!(d.through, Some(at("2026-12-04T04:00:00Z")));
    // Nothing new since the last slot.
    let d = decide(grace, Some("2026-12-04T04:00:00Z"), "2026-12-04T05:00:00Z");
    assert!(d.fire.is_empty());
    assert_eq!(d.through, None);
}

#[test]
fn skip_fires_only_on_time_slots() {
    let on_time = decide(
        MissedPolicy::Skip,
        Some("2026-12-03T04:00:00Z"),
        "2026-12-04T04:00:05Z",
    );
    assert_eq!(on_time.fire, [at("2026-12-04T04:00:00Z")]);
    let late = decide(
        MissedPolicy::Skip,
        Some("2026-12-03T04:00:00Z"),
        "2026-12-04T04:10:00Z",
    );
    assert!(late.fire.is_empty());
    assert_eq!(late.skipped, Skipped::Exactly(1));
    assert_eq!(late.through, Some(at("2026-12-04T04:00:00Z")));
}

#[test]
fn all_fires_every_missed_slot_oldest_first() {
    let d = decide(
        MissedPolicy::All,
        Some("2026-12-01T04:00:00Z"),
        "2026-12-04T09:00:00Z",
    );
    assert_eq!(
        d.fire,
        [
            at("2026-12-02T04:00:00Z"),
            at("2026-12-03T04:00:00Z"),
            at("2026-12-04T04:00:00Z")
        ]
    );
    assert_eq!(d.through, Some(at("2026-12-04T04:00:00Z")));
}

#[test]
fn all_pages_through_a_long_outage_of_a_frequent_interval() {
    let schedule = every(1);
    let mut last = Some(at("2026-12-04T00:00:00Z"));
    let now = at("2026-12-04T00:05:00Z"); // 300 missed one-second slots
    let mut fired = 0;
    for _ in 0..10 {
        let d = due(&schedule, Tz::UTC, MissedPolicy::All, last, now);
        if d.fire.is_empty() {
            break;
        }
        assert!(d.fire.len() <= celeriac_scheduler::MAX_FIRE_PER_CALL);
        fired += d.fire.len();
        last = d.through;
    }
    assert_eq!(fired, 300);
    assert_eq!(last, Some(now));
}

#[test]
fn a_first_start_runs_nothing_it_was_not_up_for() {
    let grace = MissedPolicy::default();
    let d = decide(grace, None, "2026-12-04T04:30:00Z");
    assert!(d.fire.is_empty());
    assert_eq!(d.through, None);
    // An interval's slots of the last minute were never this beat's to run: none skipped.
    let d = due(
        &every(5),
        Tz::UTC,
        grace,
        None,
        at("2026-12-04T04:00:30.5Z"),
    );
    assert_eq!(d.fire, [at("2026-12-04T04:00:30Z")]);
    assert_eq!(d.skipped, Skipped::Exactly(0));
    // Even under "all": the last minute's earlier slots are not this beat's to catch up.
    let d = due(
        &every(5),
        Tz::UTC,
        MissedPolicy::All,
        None,
        at("2026-12-04T04:00:30.5Z"),
    );
    assert_eq!(d.fire, [at("2026-12-04T04:00:30Z")]);
    assert_eq!(d.through, Some(at("2026-12-04T04:00:30Z")));
    let d = decide(grace, None, "2026-12-04T04:00:10Z");
    assert_eq!(d.fire, [at("2026-12-04T04:00:00Z")]);
}

#[test]
fn huge_skips_are_counted_up_to_a_bound() {
    let d = due(
        &every(1),
        Tz::UTC,
        MissedPolicy::Skip,
        Some(at("2026-01-01T00:00:00Z")),
        at("2026-12-04T00:00:00.5Z"),
    );
    assert_eq!(d.fire, [at("2026-12-04T00:00:00Z")]);
    assert!(matches!(d.skipped, Skipped::AtLeast(_)));
}

/// Ticks a manual clock every `tick` from `from` to `to` and returns every slot fired, the way
/// beat's loop uses [`due_now`] (recording `through` as the entry's last slot).
fn simulate(
    schedule: &Schedule,
    tz: Tz,
    policy: MissedPolicy,
    from: &str,
    to: &str,
    tick: Duration,
) -> Vec<DateTime<Utc>> {
    let clock = ManualClock::new(at(from));
    let mut last = None;
    let mut fired = Vec::new();
    while celeriac_scheduler::Clock::now(&clock) <= at(to) {
        let d = due_now(schedule, tz, policy, last, &clock);
        fired.extend(&d.fire);
        if d.through.is_some() {
            last = d.through;
        }
        clock.advance(tick);
    }
    fired
}

#[test]
fn ticking_through_both_paris_transitions_fires_each_slot_exactly_once() {
    let tick = Duration::seconds(7);
    let spring = simulate(
        &cron("30 2 * * *"),
        PARIS,
        MissedPolicy::default(),
        "2026-03-28T00:00:00Z",
        "2026-03-30T12:00:00Z",
        tick,
    );
    assert_eq!(
        spring,
        [
            at("2026-03-28T01:30:00Z"),
            at("2026-03-29T01:00:00Z"),
            at("2026-03-30T00:30:00Z")
        ]
    );
    let autumn = simulate(
        &cron("30 2 * * *"),
        PARIS,
        MissedPolicy::default(),
        "2026-10-24T00:00:00Z",
        "2026-10-26T12:00:00Z",
        tick,
    );
    assert_eq!(
        autumn,
        [
            at("2026-10-24T00:30:00Z"),
            at("2026-10-25T00:30:00Z"),
            at("2026-10-26T01:30:00Z")
        ]
    );
}

#[test]
fn ticking_an_interval_fires_every_slot_once() {
    let fired = simulate(
        &every(30),
        NEW_YORK,
        MissedPolicy::default(),
        "2026-11-01T05:58:00Z",
        "2026-11-01T06:02:00Z",
        Duration::seconds(4),
    );
    // 05:58:00 (on time at the first tick) through 06:02:00, every 30 s: 9 slots.
    assert_eq!(fired.len(), 9);
    assert_eq!(fired[0], at("2026-11-01T05:58:00Z"));
    assert_eq!(fired[8], at("2026-11-01T06:02:00Z"));
    assert!(
        fired
            .windows(2)
            .all(|w| w[1] - w[0] == Duration::seconds(30))
    );
}
