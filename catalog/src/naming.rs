//! The `filename` of a configuration backup row, as the original system names it:
//! `backup_configuration_YYYYMMDD_HHMMSS.tar.gz.enc` (UTC, to the second). The stored objects
//! carry the same name (the backup crate's `ArtifactName` builds their keys; the job crate's
//! tests hold the two to each other).

use chrono::{DateTime, Utc};

const STEM: &str = "backup_configuration_";

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d_%H%M%S").to_string()
}

/// `backup_configuration_YYYYMMDD_HHMMSS.tar.gz.enc` for a run started at `at`.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let at = Utc.with_ymd_and_hms(2026, 12, 3, 2, 0, 7).unwrap();
/// assert_eq!(celeriac_catalog::backup_filename(at), "backup_configuration_20261203_020007.tar.gz.enc");
/// ```
pub fn backup_filename(at: DateTime<Utc>) -> String {
    format!("{STEM}{}.tar.gz.enc", stamp(at))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Timelike};

    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("a valid UTC time")
    }

    #[test]
    fn filename_is_the_originals_to_the_second() {
        assert_eq!(
            backup_filename(at(2026, 1, 2, 3, 4, 5)),
            "backup_configuration_20260102_030405.tar.gz.enc"
        );
        assert_eq!(
            backup_filename(at(1999, 12, 31, 23, 59, 59)),
            "backup_configuration_19991231_235959.tar.gz.enc"
        );
    }

    #[test]
    fn fractions_of_a_second_are_dropped_not_rounded() {
        let t = at(2026, 6, 30, 23, 59, 59)
            .with_nanosecond(999_999_999)
            .expect("valid nanoseconds");
        assert_eq!(
            backup_filename(t),
            "backup_configuration_20260630_235959.tar.gz.enc"
        );
    }

    #[test]
    fn filename_uses_utc_whatever_the_source_zone() {
        let offset = chrono::FixedOffset::east_opt(5 * 3600).expect("valid offset");
        let local = offset
            .with_ymd_and_hms(2026, 3, 1, 1, 30, 0)
            .single()
            .expect("valid local time");
        assert_eq!(
            backup_filename(local.with_timezone(&Utc)),
            "backup_configuration_20260228_203000.tar.gz.enc"
        );
    }
}
