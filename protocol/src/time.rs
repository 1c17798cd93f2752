//! ISO 8601 times as Celery reads and writes them: [`parse_iso8601`] accepts what
//! `dateutil.parser.isoparse` accepts (naive means UTC, as the Python worker assumes);
//! [`format_iso8601`] writes what Python's `datetime.isoformat()` writes for an aware UTC time.

use chrono::{
    DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
    Weekday,
};

use crate::error::TimeError;

/// Formats `t` like Python's `isoformat()` of an aware UTC datetime:
/// `2026-08-20T10:15:30.123456+00:00`, without the fraction when the microseconds are 0.
///
/// Sub-microsecond precision is truncated (Python datetimes have none).
pub fn format_iso8601(t: &DateTime<Utc>) -> String {
    let micros = t.nanosecond() % 1_000_000_000 / 1_000;
    if micros == 0 {
        t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        format!("{}.{micros:06}+00:00", t.format("%Y-%m-%dT%H:%M:%S"))
    }
}

/// Truncates `t` to whole microseconds, the precision of the wire format.
pub fn truncate_to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = t.nanosecond();
    let keep = nanos - nanos % 1_000;
    t.with_nanosecond(keep).unwrap_or(t)
}

/// Parses any form `dateutil.parser.isoparse` accepts and converts it to UTC.
///
/// Dates: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYYMMDD`, ISO weeks `YYYY-Www[-D]`/`YYYYWww[D]`.
/// Then optionally one separator character and a time: `HH`, `HH:MM`, `HHMM`, `HH:MM:SS`,
/// `HHMMSS`, with a `.` or `,` fraction of any length (truncated to microseconds), `24:00` meaning
/// the next midnight. Then optionally `Z`, `±HH`, `±HHMM` or `±HH:MM`. Without an offset the time
/// is UTC.
///
/// # Errors
/// [`TimeError::Malformed`] for text outside that grammar, [`TimeError::OutOfRange`] for fields
/// that name no real instant.
pub fn parse_iso8601(s: &str) -> Result<DateTime<Utc>, TimeError> {
    if !s.is_ascii() {
        return Err(malformed("non-ascii characters"));
    }
    let bytes = s.as_bytes();
    let (date, used) = parse_date(bytes)?;
    let rest = &bytes[used..];
    if rest.is_empty() {
        return Ok(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)));
    }
    if rest[0].is_ascii_digit() {
        return Err(malformed("missing date/time separator"));
    }
    let (naive, offset) = parse_time(&rest[1..], date)?;
    let local = offset
        .from_local_datetime(&naive)
        .single()
        .ok_or(TimeError::OutOfRange)?;
    Ok(local.with_timezone(&Utc))
}

fn malformed(reason: &'static str) -> TimeError {
    TimeError::Malformed { reason }
}

/// Reads exactly `n` ASCII digits at `at`.
fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let chunk = b.get(at..at + n)?;
    chunk.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn parse_date(b: &[u8]) -> Result<(NaiveDate, usize), TimeError> {
    let year = digits(b, 0, 4).ok_or(malformed("year must be 4 digits"))?;
    let year = i32::try_from(year).map_err(|_| TimeError::OutOfRange)?;
    let ymd = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d).ok_or(TimeError::OutOfRange);
    match b.get(4) {
        Some(b'-') => {
            if b.get(5) == Some(&b'W') {
                return parse_week(b, year, 6, true);
            }
            let month = digits(b, 5, 2).ok_or(malformed("month must be 2 digits"))?;
            if b.get(7) != Some(&b'-') {
                return Ok((ymd(month, 1)?, 7));
            }
            let day = digits(b, 8, 2).ok_or(malformed("day must be 2 digits"))?;
            Ok((ymd(month, day)?, 10))
        }
        Some(b'W') => parse_week(b, year, 5, false),
        Some(c) if c.is_ascii_digit() => {
            let month = digits(b, 4, 2).ok_or(malformed("month must be 2 digits"))?;
            let day = digits(b, 6, 2).ok_or(malformed("day must be 2 digits"))?;
            Ok((ymd(month, day)?, 8))
        }
        None | Some(_) => Ok((ymd(1, 1)?, 4)),
    }
}

fn parse_week(
    b: &[u8],
    year: i32,
    at: usize,
    extended: bool,
) -> Result<(NaiveDate, usize), TimeError> {
    let week = digits(b, at, 2).ok_or(malformed("week must be 2 digits"))?;
    let mut used = at + 2;
    let mut day = 1;
    let day_at = if extended && b.get(used) == Some(&b'-') {
        used + 1
    } else {
        used
    };
    if let Some(d) = digits(b, day_at, 1) {
        day = d;
        used = day_at + 1;
    }
    let weekday = match day {
        1 => Weekday::Mon,
        2 => Weekday::Tue,
        3 => Weekday::Wed,
        4 => Weekday::Thu,
        5 => Weekday::Fri,
        6 => Weekday::Sat,
        7 => Weekday::Sun,
        _ => return Err(TimeError::OutOfRange),
    };
    let date = NaiveDate::from_isoywd_opt(year, week, weekday).ok_or(TimeError::OutOfRange)?;
    Ok((date, used))
}

fn parse_time(b: &[u8], date: NaiveDate) -> Result<(NaiveDateTime, FixedOffset), TimeError> {
    let tz_at = b
        .iter()
        .position(|c| matches!(c, b'Z' | b'z' | b'+' | b'-'))
        .unwrap_or(b.len());
    let offset = parse_offset(&b[tz_at..])?;
    let t = &b[..tz_at];
    let hour = digits(t, 0, 2).ok_or(malformed("hour must be 2 digits"))?;
    let (mut minute, mut second, mut nanos) = (0, 0, 0);
    let mut at = 2;
    let colon = t.get(at) == Some(&b':');
    for field in [&mut minute, &mut second] {
        if at == t.len() || matches!(t.get(at), Some(b'.' | b',')) {
            break;
        }
        if colon {
            if t.get(at) != Some(&b':') {
                return Err(malformed("inconsistent time separators"));
            }
            at += 1;
        }
        *field = digits(t, at, 2).ok_or(malformed("time fields must be 2 digits"))?;
        at += 2;
    }
    if matches!(t.get(at), Some(b'.' | b',')) {
        if at != 8 && at != 6 {
            return Err(malformed("fraction only allowed on seconds"));
        }
        let frac = &t[at + 1..];
        if frac.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
            return Err(malformed("fraction must be digits"));
        }
        nanos = frac
            .iter()
            .take(6)
            .chain(std::iter::repeat(&b'0'))
            .take(6)
            .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0'))
            * 1_000;
        at = t.len();
    }
    if at != t.len() {
        return Err(malformed("unused characters in time"));
    }
    Ok((build_time(date, hour, minute, second, nanos)?, offset))
}

fn build_time(
    date: NaiveDate,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
) -> Result<NaiveDateTime, TimeError> {
    if hour == 24 {
        if minute != 0 || second != 0 || nanos != 0 {
            return Err(TimeError::OutOfRange);
        }
        let next = date.and_time(NaiveTime::MIN) + Duration::days(1);
        return Ok(next);
    }
    let time =
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos).ok_or(TimeError::OutOfRange)?;
    if second > 59 {
        return Err(TimeError::OutOfRange);
    }
    Ok(date.and_time(time))
}

fn parse_offset(b: &[u8]) -> Result<FixedOffset, TimeError> {
    let utc = FixedOffset::east_opt(0).ok_or(TimeError::OutOfRange)?;
    let sign = match b.first() {
        None => return Ok(utc),
        Some(b'Z' | b'z') if b.len() == 1 => return Ok(utc),
        Some(b'+') => 1,
        Some(b'-') => -1,
        Some(_) => return Err(malformed("bad time zone offset")),
    };
    let (hours, minutes) = match b.len() {
        3 => (digits(b, 1, 2), Some(0)),
        5 => (digits(b, 1, 2), digits(b, 3, 2)),
        6 if b[3] == b':' => (digits(b, 1, 2), digits(b, 4, 2)),
        _ => return Err(malformed("bad time zone offset")),
    };
    let (Some(hours), Some(minutes)) = (hours, minutes) else {
        return Err(malformed("bad time zone offset"));
    };
    if hours > 23 || minutes > 59 {
        return Err(TimeError::OutOfRange);
    }
    let seconds = i32::try_from(hours * 3600 + minutes * 60).map_err(|_| TimeError::OutOfRange)?;
    FixedOffset::east_opt(sign * seconds).ok_or(TimeError::OutOfRange)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn formats_like_python_isoformat() {
        assert_eq!(
            format_iso8601(&utc("2026-08-20T10:15:30.123456Z")),
            "2026-08-20T10:15:30.123456+00:00"
        );
        assert_eq!(
            format_iso8601(&utc("2026-08-20T10:15:30Z")),
            "2026-08-20T10:15:30+00:00"
        );
        assert_eq!(
            format_iso8601(&utc("2026-08-20T10:15:30.000001999Z")),
            "2026-08-20T10:15:30.000001+00:00"
        );
    }

    #[test]
    fn parses_offsets_fractions_and_naive_as_utc() {
        let want = utc("2026-08-20T10:15:30.5Z");
        for s in [
            "2026-08-20T10:15:30.5",
            "2026-08-20T10:15:30,500000Z",
            "2026-08-20T12:15:30.5+02:00",
            "2026-08-20T12:15:30.5+02",
            "2026-08-20T08:15:30.5-0200",
            "20260820T101530.5z",
            "2026-08-20 10:15:30.5000001",
        ] {
            assert_eq!(parse_iso8601(s).unwrap(), want, "{s}");
        }
        assert_eq!(
            parse_iso8601("2026-08-20T24:00").unwrap(),
            utc("2026-08-21T00:00:00Z")
        );
        assert_eq!(
            parse_iso8601("2026-W34").unwrap(),
            utc("2026-08-17T00:00:00Z")
        );
    }

    #[test]
    fn rejects_what_isoparse_rejects() {
        for s in [
            "",
            "2026-08-20T10:15:30 +00:00",
            "2026-08-20T10:15:30UTC",
            "2026-08-20T10:15:30+24:00",
            "2026-08-20T10:15:60",
            "2026-08-20T10.5",
            "2026-13-01",
            "2026-02-30",
            "nonsense",
        ] {
            assert!(parse_iso8601(s).is_err(), "{s}");
        }
    }
}
