//! Durations as written in the config file: `30s`, `5m`, `1h30m`, `2d`, or a whole number of
//! seconds.

use std::fmt::Write as _;

use chrono::Duration;

use crate::error::DurationError;

/// The longest duration accepted (100 years), so every sum stays far from overflow.
const MAX_SECONDS: i64 = 100 * 366 * 86_400;

/// Parses `<number><unit>` groups (units `s`, `m`, `h`, `d`), e.g. `90s`, `1h30m`, or a bare
/// number of seconds.
///
/// # Errors
/// [`DurationError`] when the text is not of that shape, is zero, or is over 100 years.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError::Invalid(text.to_owned());
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(invalid());
    }
    let mut total: i64 = 0;
    let mut number: Option<i64> = None;
    for c in trimmed.chars() {
        if let Some(digit) = c.to_digit(10) {
            let n = number.unwrap_or(0);
            let n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(i64::from(digit)))
                .filter(|n| *n <= MAX_SECONDS)
                .ok_or_else(|| DurationError::TooLong(text.to_owned()))?;
            number = Some(n);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(invalid()),
        };
        let n = number.take().ok_or_else(invalid)?;
        total = n
            .checked_mul(unit)
            .and_then(|v| v.checked_add(total))
            .filter(|v| *v <= MAX_SECONDS)
            .ok_or_else(|| DurationError::TooLong(text.to_owned()))?;
    }
    if let Some(n) = number {
        // A bare number is seconds; a trailing number after units ("1h30") is refused.
        if total != 0 {
            return Err(invalid());
        }
        total = n;
    }
    if total == 0 {
        return Err(DurationError::Zero(text.to_owned()));
    }
    Ok(Duration::seconds(total))
}

/// Writes a duration the way [`parse_duration`] reads it: `1h30m`, `45s`, `1d`.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.num_seconds();
    if secs <= 0 {
        return format!("{secs}s");
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            let _ = write!(out, "{}{unit}", secs / size);
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn reads_units_sums_and_bare_seconds() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::seconds(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::minutes(5));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::minutes(90));
        assert_eq!(parse_duration("2d").unwrap(), Duration::days(2));
        assert_eq!(parse_duration("90").unwrap(), Duration::seconds(90));
    }

    #[test]
    fn refuses_garbage_zero_and_huge() {
        assert!(matches!(parse_duration(""), Err(DurationError::Invalid(_))));
        assert!(matches!(
            parse_duration("h"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            parse_duration("1h30"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            parse_duration("5x"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            parse_duration("-5s"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(parse_duration("0s"), Err(DurationError::Zero(_))));
        assert!(matches!(
            parse_duration("99999999999d"),
            Err(DurationError::TooLong(_))
        ));
    }

    #[test]
    fn formats_back() {
        assert_eq!(format_duration(Duration::minutes(90)), "1h30m");
        assert_eq!(format_duration(Duration::seconds(30)), "30s");
        assert_eq!(format_duration(Duration::days(1)), "1d");
    }
}
