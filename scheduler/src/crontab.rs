//! A Celery `crontab(...)`: five fields parsed exactly as Celery's `crontab_parser` does, and
//! the question "does this wall-clock minute match?". Finding the next run in a time zone is
//! [`crate::zoned`]'s job.
//!
//! Celery's rules, kept here (celery/schedules.py, `crontab` and `crontab_parser`):
//! * fields in the order `minute hour day_of_month month_of_year day_of_week`
//!   (`crontab.from_string`);
//! * items `*`, `n`, `a-b`, `*/n`, `a-b/n`, separated by commas; a range whose end is below its
//!   start wraps around (`fri-mon`, `22-2`), and its step applies to the wrapped list;
//! * ranges: minute 0-59, hour 0-23, day_of_month 1-31, month_of_year 1-12, day_of_week 0-6
//!   with **Sunday = 0** (7 is refused, as Celery refuses it);
//! * names in any field: the first three letters, any case, of a month (`jan` = 1) and, failing
//!   that, of a weekday (`sun` = 0, `mon` = 1): Celery tries month names first everywhere;
//! * a date matches when its day of month **and** its month **and** its weekday match (Celery
//!   ANDs day_of_month and day_of_week, unlike Vixie cron, which ORs them).
//!
//! Stricter than Celery: fields are separated by any whitespace (Celery splits on one space),
//! and trailing text after an item (`1-5/2/3`, which Celery's prefix regex reads as `1-5/2`)
//! is refused.

use std::fmt;

use chrono::{Datelike, NaiveDate, Timelike};

use crate::error::CrontabError;

/// One of the five crontab fields, named as Celery's `crontab(...)` arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// 0-59.
    Minute,
    /// 0-23.
    Hour,
    /// 1-31.
    DayOfMonth,
    /// 1-12.
    MonthOfYear,
    /// 0-6, Sunday = 0.
    DayOfWeek,
}

impl Field {
    const ALL: [Field; 5] = [
        Field::Minute,
        Field::Hour,
        Field::DayOfMonth,
        Field::MonthOfYear,
        Field::DayOfWeek,
    ];

    /// Celery's argument name.
    pub fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day_of_month",
            Field::MonthOfYear => "month_of_year",
            Field::DayOfWeek => "day_of_week",
        }
    }

    /// (min, max) inclusive.
    fn bounds(self) -> (u32, u32) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::MonthOfYear => (1, 12),
            Field::DayOfWeek => (0, 6),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of values one field allows, as a bit set (bit n = value n).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueSet(u64);

impl ValueSet {
    /// Whether `value` is in the set.
    pub fn contains(self, value: u32) -> bool {
        value < 64 && self.0 & (1 << value) != 0
    }

    /// The values in ascending order.
    pub fn values(self) -> impl DoubleEndedIterator<Item = u32> + Clone {
        (0..64u32).filter(move |v| self.contains(*v))
    }

    fn insert(&mut self, value: u32) {
        self.0 |= 1 << value;
    }
}

/// A parsed crontab expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crontab {
    spec: String,
    /// Minutes 0-59.
    pub minute: ValueSet,
    /// Hours 0-23.
    pub hour: ValueSet,
    /// Days of the month 1-31.
    pub day_of_month: ValueSet,
    /// Months 1-12.
    pub month_of_year: ValueSet,
    /// Weekdays 0-6, Sunday = 0.
    pub day_of_week: ValueSet,
}

impl Crontab {
    /// Parses `"minute hour day_of_month month_of_year day_of_week"`.
    ///
    /// # Errors
    /// [`CrontabError`] naming the field and the item at fault, or
    /// [`CrontabError::NeverFires`] when no date can match (`0 0 30 2 *`).
    pub fn parse(spec: &str) -> Result<Crontab, CrontabError> {
        let parts: Vec<&str> = spec.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(CrontabError::FieldCount { found: parts.len() });
        }
        let mut sets = [ValueSet(0); 5];
        for ((set, field), text) in sets.iter_mut().zip(Field::ALL).zip(&parts) {
            *set = parse_field(field, text)?;
        }
        let [minute, hour, day_of_month, month_of_year, day_of_week] = sets;
        let crontab = Crontab {
            spec: parts.join(" "),
            minute,
            hour,
            day_of_month,
            month_of_year,
            day_of_week,
        };
        if !crontab.has_a_date() {
            return Err(CrontabError::NeverFires { spec: crontab.spec });
        }
        Ok(crontab)
    }

    /// The expression, fields separated by single spaces.
    pub fn as_str(&self) -> &str {
        &self.spec
    }

    /// Whether the date matches (month AND day of month AND weekday).
    pub fn matches_date(&self, date: NaiveDate) -> bool {
        self.month_of_year.contains(date.month())
            && self.day_of_month.contains(date.day())
            && self
                .day_of_week
                .contains(date.weekday().num_days_from_sunday())
    }

    /// Whether the wall-clock minute matches (seconds are ignored).
    pub fn matches(&self, wall: chrono::NaiveDateTime) -> bool {
        self.matches_date(wall.date())
            && self.hour.contains(wall.hour())
            && self.minute.contains(wall.minute())
    }

    /// Whether some date matches: every weekday occurs on every (month, day) within the 28-year
    /// cycle of the Gregorian calendar between 2001 and 2099, leap days included.
    fn has_a_date(&self) -> bool {
        let Some(start) = NaiveDate::from_ymd_opt(2001, 1, 1) else {
            return false;
        };
        start
            .iter_days()
            .take(366 * 29)
            .any(|d| self.matches_date(d))
    }
}

impl fmt::Display for Crontab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spec)
    }
}

impl std::str::FromStr for Crontab {
    type Err = CrontabError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Crontab::parse(s)
    }
}

fn parse_field(field: Field, spec: &str) -> Result<ValueSet, CrontabError> {
    let mut set = ValueSet(0);
    for part in spec.split(',') {
        if part.is_empty() {
            return Err(CrontabError::EmptyPart {
                field,
                spec: spec.to_owned(),
            });
        }
        for value in parse_part(field, part)? {
            set.insert(value);
        }
    }
    Ok(set)
}

/// One comma-separated item: `*`, `*/n`, `a-b`, `a-b/n` or `a`, as a list in Celery's order
/// (a wrapped range runs from `a` up to the maximum, then from the minimum up to `b`).
fn parse_part(field: Field, part: &str) -> Result<Vec<u32>, CrontabError> {
    let (min, max) = field.bounds();
    let (base, step) = match part.split_once('/') {
        Some((base, step)) => {
            if step.is_empty() {
                return Err(CrontabError::EmptyPart {
                    field,
                    spec: part.to_owned(),
                });
            }
            let step: usize = step.parse().map_err(|_| CrontabError::Invalid {
                field,
                part: part.to_owned(),
            })?;
            if step == 0 {
                return Err(CrontabError::ZeroStep {
                    field,
                    part: part.to_owned(),
                });
            }
            (base, Some(step))
        }
        None => (part, None),
    };
    let values: Vec<u32> = if base == "*" {
        (min..=max).collect()
    } else if let Some((from, to)) = base.split_once('-').filter(|(a, _)| !a.is_empty()) {
        let from = number(field, from, part)?;
        let to = number(field, to, part)?;
        if to < from {
            (from..=max).chain(min..=to).collect()
        } else {
            (from..=to).collect()
        }
    } else if step.is_some() {
        // Celery has no `a/n` form: `5/15` is not a number, a range or a star.
        return Err(CrontabError::Invalid {
            field,
            part: part.to_owned(),
        });
    } else {
        vec![number(field, base, part)?]
    };
    Ok(match step {
        Some(step) => values.into_iter().step_by(step).collect(),
        None => values,
    })
}

/// A number or a name (month names first, then weekday names, in every field, as Celery).
fn number(field: Field, text: &str, part: &str) -> Result<u32, CrontabError> {
    let invalid = || CrontabError::Invalid {
        field,
        part: part.to_owned(),
    };
    if text.is_empty() || text.starts_with('-') {
        return Err(invalid());
    }
    let value = if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u32>().map_err(|_| invalid())?
    } else if text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        name_value(text).ok_or_else(invalid)?
    } else {
        return Err(invalid());
    };
    let (min, max) = field.bounds();
    if value < min || value > max {
        return Err(CrontabError::OutOfRange {
            field,
            value,
            min,
            max,
        });
    }
    Ok(value)
}

/// Celery's `yearmonth(name)`, then `weekday(name)`: the first three letters, lower-cased.
fn name_value(text: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let abbreviation: String = text.chars().take(3).collect::<String>().to_lowercase();
    let position = |names: &[&str]| {
        names
            .iter()
            .position(|n| *n == abbreviation)
            .and_then(|i| u32::try_from(i).ok())
    };
    position(&MONTHS)
        .map(|i| i + 1)
        .or_else(|| position(&WEEKDAYS))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn values(set: ValueSet) -> Vec<u32> {
        set.values().collect()
    }

    #[test]
    fn reads_stars_lists_ranges_and_steps() {
        let c = Crontab::parse("*/15 1,3-5 1-31/10 * *").unwrap();
        assert_eq!(values(c.minute), [0, 15, 30, 45]);
        assert_eq!(values(c.hour), [1, 3, 4, 5]);
        assert_eq!(values(c.day_of_month), [1, 11, 21, 31]);
        assert_eq!(values(c.month_of_year), (1..=12).collect::<Vec<_>>());
        assert_eq!(values(c.day_of_week), (0..=6).collect::<Vec<_>>());
    }

    #[test]
    fn wrapped_ranges_and_their_steps_follow_celery() {
        let c = Crontab::parse("50-10/5 22-2 * * fri-mon").unwrap();
        // Python: (list(range(50, 60)) + list(range(0, 11)))[::5]
        assert_eq!(values(c.minute), [0, 5, 10, 50, 55]);
        assert_eq!(values(c.hour), [0, 1, 2, 22, 23]);
        assert_eq!(values(c.day_of_week), [0, 1, 5, 6]);
    }

    #[test]
    fn names_are_three_letters_any_case_months_first() {
        let c = Crontab::parse("0 0 * JAN-Mar sunday,SAT").unwrap();
        assert_eq!(values(c.month_of_year), [1, 2, 3]);
        assert_eq!(values(c.day_of_week), [0, 6]);
        // Celery tries month names first in every field: "mon" is a weekday (1) but
        // "jan" in the day_of_week field is 1 too.
        let c = Crontab::parse("0 0 * * jan").unwrap();
        assert_eq!(values(c.day_of_week), [1]);
    }

    #[test]
    fn sunday_is_zero_and_seven_is_refused() {
        let c = Crontab::parse("0 0 * * 0").unwrap();
        assert_eq!(values(c.day_of_week), [0]);
        assert_eq!(
            Crontab::parse("0 0 * * 7"),
            Err(CrontabError::OutOfRange {
                field: Field::DayOfWeek,
                value: 7,
                min: 0,
                max: 6
            })
        );
    }

    #[test]
    fn refuses_what_celery_refuses() {
        let err = |s: &str| Crontab::parse(s).unwrap_err();
        assert_eq!(err("0 4 * *"), CrontabError::FieldCount { found: 4 });
        assert!(matches!(
            err("60 * * * *"),
            CrontabError::OutOfRange {
                field: Field::Minute,
                ..
            }
        ));
        assert!(matches!(
            err("0 24 * * *"),
            CrontabError::OutOfRange {
                field: Field::Hour,
                ..
            }
        ));
        assert!(matches!(
            err("0 0 0 * *"),
            CrontabError::OutOfRange {
                field: Field::DayOfMonth,
                ..
            }
        ));
        assert!(matches!(
            err("0 0 * 13 *"),
            CrontabError::OutOfRange {
                field: Field::MonthOfYear,
                ..
            }
        ));
        assert!(matches!(
            err("1,,2 * * * *"),
            CrontabError::EmptyPart { .. }
        ));
        assert!(matches!(err("*/ * * * *"), CrontabError::EmptyPart { .. }));
        assert!(matches!(err("*/0 * * * *"), CrontabError::ZeroStep { .. }));
        assert!(matches!(err("5/15 * * * *"), CrontabError::Invalid { .. }));
        assert!(matches!(err("-5 * * * *"), CrontabError::Invalid { .. }));
        assert!(matches!(err("0 0 * * xyz"), CrontabError::Invalid { .. }));
        assert!(matches!(err("0 0 30 2 *"), CrontabError::NeverFires { .. }));
    }

    #[test]
    fn leap_day_on_a_weekday_is_possible() {
        // 29 February that is a Monday: 2016, 2044 ...
        let c = Crontab::parse("0 0 29 2 mon").unwrap();
        assert!(c.matches_date(NaiveDate::from_ymd_opt(2044, 2, 29).unwrap()));
        assert!(!c.matches_date(NaiveDate::from_ymd_opt(2028, 2, 29).unwrap()));
    }

    #[test]
    fn day_of_month_and_day_of_week_are_anded() {
        let c = Crontab::parse("0 0 13 * fri").unwrap();
        assert!(c.matches_date(NaiveDate::from_ymd_opt(2026, 11, 13).unwrap())); // a Friday
        assert!(!c.matches_date(NaiveDate::from_ymd_opt(2026, 12, 13).unwrap())); // a Sunday
        assert!(!c.matches_date(NaiveDate::from_ymd_opt(2026, 12, 4).unwrap())); // Friday the 4th
    }
}
