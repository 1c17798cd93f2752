//! Python Celery (the pinned version) is the judge of the crontab maths: for many expressions,
//! zones and start instants, celeriac's next runs must equal `crontab.remaining_estimate`'s.
//!
//! Celery's maths is known to be wrong around DST changes (it adds wall-clock deltas and then
//! patches the UTC offset), so a generated case whose start and answer straddle a change of
//! UTC offset is not compared; instead, hand-picked DST cases below pin both answers: where
//! Celery agrees, and where it differs and why celeriac's answer is the intended one.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::path::PathBuf;

use celeriac_scheduler::{Crontab, Schedule, Tz};
use celeriac_testkit::python::Python;
use chrono::{DateTime, Offset, TimeZone, Utc};
use serde_json::{Value, json};

const EXPRESSIONS: [&str; 14] = [
    "0 4 * * *",
    "*/15 * * * *",
    "30 2 * * *",
    "0 0 31 * *",
    "0 12 29 2 *",
    "0 9 13 * fri",
    "5 4 * * sun",
    "0 0-23/6 * * 1-5",
    "50-10/5 22-2 * * fri-mon",
    "0 0 1 jan,jul *",
    "15 3 1-7 * mon",
    "0 8 * 2 *",
    "59 23 28-31 * *",
    "0 0 * * 0,6",
];

const ZONES: [Tz; 5] = [
    Tz::UTC,
    Tz::Europe__Paris,
    Tz::America__New_York,
    Tz::Asia__Kolkata,
    Tz::Australia__Sydney,
];

const STARTS: [&str; 5] = [
    "2026-01-15T10:17:00Z",
    "2026-06-30T23:59:00Z",
    "2026-12-31T22:00:00Z",
    "2027-02-27T12:00:00Z",
    "2026-08-01T00:00:30Z",
];

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn offset(tz: Tz, t: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&t.naive_utc())
        .fix()
        .local_minus_utc()
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/celery_next_runs.py")
}

/// Celery's next run after each case's `after`.
async fn celery_next_runs(cases: &[Value]) -> Vec<DateTime<Utc>> {
    let python = Python::find();
    python.require("celery");
    let out = python
        .script(script())
        .arg(Value::Array(cases.to_vec()).to_string())
        .success()
        .await;
    let answers: Vec<String> = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("oracle output is not JSON ({e}): {}", out.stdout));
    answers.iter().map(|s| at(s)).collect()
}

fn case(spec: &str, tz: Tz, after: DateTime<Utc>) -> Value {
    json!({"spec": spec, "tz": tz.name(), "after": after.to_rfc3339()})
}

#[tokio::test]
async fn next_runs_equal_celerys_away_from_dst_changes() {
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    let mut straddling = 0;
    for spec in EXPRESSIONS {
        let schedule = Schedule::Crontab(Crontab::parse(spec).unwrap());
        for tz in ZONES {
            for start in STARTS {
                // Five runs in a row: each answer is the next question.
                let mut after = at(start);
                for next in schedule.slots_after(tz, after).take(5) {
                    if offset(tz, after) == offset(tz, next) {
                        cases.push(case(spec, tz, after));
                        ours.push(next);
                    } else {
                        straddling += 1;
                    }
                    after = next;
                }
            }
        }
    }
    assert!(
        cases.len() >= 1500,
        "too few comparable cases: {} ({straddling} straddle a DST change)",
        cases.len()
    );
    let celery = celery_next_runs(&cases).await;
    assert_eq!(celery.len(), cases.len());
    let mismatches: Vec<String> = cases
        .iter()
        .zip(ours.iter().zip(&celery))
        .filter(|(_, (a, b))| a != b)
        .map(|(c, (a, b))| format!("{c}: celeriac {a}, celery {b}"))
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from Celery:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}

/// (expression, zone, after, celeriac's answer, Celery's answer, why they differ).
const DST_CASES: [(&str, Tz, &str, &str, &str, &str); 6] = [
    (
        "30 1 * * *",
        Tz::America__New_York,
        "2026-10-31T12:00:00Z",
        "2026-11-01T05:30:00Z",
        "2026-11-01T05:30:00Z",
        "repeated hour: both run at the first 01:30 (EDT)",
    ),
    (
        "30 2 * * *",
        Tz::Europe__Paris,
        "2026-10-24T12:00:00Z",
        "2026-10-25T00:30:00Z",
        "2026-10-25T00:30:00Z",
        "repeated hour: both run at the first 02:30 (CEST)",
    ),
    (
        "0 2 * * *",
        Tz::America__New_York,
        "2026-03-07T12:00:00Z",
        "2026-03-08T07:00:00Z",
        "2026-03-08T07:00:00Z",
        "skipped 02:00: both run at 03:00 EDT",
    ),
    (
        "30 2 * * *",
        Tz::Europe__Paris,
        "2026-03-28T12:00:00Z",
        "2026-03-29T01:00:00Z",
        "2026-03-29T01:30:00Z",
        "skipped 02:30: celeriac runs right after the gap (03:00 CEST); Celery shifts it by the \
         gap to 03:30 CEST",
    ),
    (
        "0 4 * * *",
        Tz::Europe__Paris,
        "2026-03-28T12:00:00Z",
        "2026-03-29T02:00:00Z",
        "2026-03-29T01:00:00Z",
        "Celery's bug: computed from a CET start, its 04:00 becomes 03:00 CEST on the day the \
         clocks go forward; 04:00 CEST is 02:00Z",
    ),
    (
        "30 2 * * *",
        Tz::Europe__Paris,
        "2026-10-25T00:30:00Z",
        "2026-10-26T01:30:00Z",
        "2026-10-26T02:30:00Z",
        "Celery's bug: computed from a CEST start, its next 02:30 lands at 03:30 CET; the 02:30 \
         CET of 26 October is 01:30Z",
    ),
];

#[tokio::test]
async fn dst_cases_pin_where_celery_agrees_and_where_it_is_wrong() {
    let cases: Vec<Value> = DST_CASES
        .iter()
        .map(|(spec, tz, after, ..)| case(spec, *tz, at(after)))
        .collect();
    let celery = celery_next_runs(&cases).await;
    for ((spec, tz, after, ours, theirs, why), celery) in DST_CASES.iter().zip(celery) {
        let schedule = Schedule::Crontab(Crontab::parse(spec).unwrap());
        let next = schedule.next_after(*tz, at(after)).unwrap();
        assert_eq!(
            next,
            at(ours),
            "celeriac, {spec} {tz} after {after} ({why})"
        );
        assert_eq!(
            celery,
            at(theirs),
            "Celery, {spec} {tz} after {after} ({why})"
        );
    }
}
