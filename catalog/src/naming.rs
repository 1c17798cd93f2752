//! The names the original system gives a configuration backup, kept so the platform's code and
//! its operators find files where they always have: `backup_configuration_YYYYMMDD_HHMMSS`
//! (UTC, to the second) plus `.tar.gz.enc`, the secrets bundle beside it as
//! `.secrets.tar.gz.enc`, each under a per-backup folder
//! `<prefix>/configuration/YYYY/MM/DD/<backup id>/` so object keys stay unique and create-only.

use chrono::{DateTime, Utc};
use uuid::Uuid;

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

/// `backup_configuration_YYYYMMDD_HHMMSS.secrets.tar.gz.enc`: the secrets bundle of the run
/// named by [`backup_filename`] for the same `at`.
pub fn secrets_filename(at: DateTime<Utc>) -> String {
    format!("{STEM}{}.secrets.tar.gz.enc", stamp(at))
}

/// The folder every copy of one backup is stored under, with a trailing `/`:
/// `<prefix>/configuration/YYYY/MM/DD/<backup id>/` (no leading prefix part when `prefix` is
/// empty; slashes around `prefix` are trimmed).
pub fn backup_folder(prefix: &str, at: DateTime<Utc>, id: Uuid) -> String {
    let prefix = prefix.trim_matches('/');
    let date = at.format("%Y/%m/%d");
    if prefix.is_empty() {
        format!("configuration/{date}/{id}/")
    } else {
        format!("{prefix}/configuration/{date}/{id}/")
    }
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

    #[test]
    fn secrets_bundle_sits_beside_the_main_archive() {
        let t = at(2026, 12, 3, 2, 0, 0);
        assert_eq!(
            secrets_filename(t),
            "backup_configuration_20261203_020000.secrets.tar.gz.enc"
        );
        let main = backup_filename(t);
        let stem = main.strip_suffix(".tar.gz.enc").expect("suffix");
        assert!(secrets_filename(t).starts_with(stem));
    }

    #[test]
    fn folder_is_per_day_and_per_backup() {
        let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let t = at(2026, 2, 9, 0, 0, 0);
        assert_eq!(
            backup_folder("celeriac", t, id),
            "celeriac/configuration/2026/02/09/01234567-89ab-cdef-0123-456789abcdef/"
        );
        assert_eq!(
            backup_folder("/dr/", t, id),
            "dr/configuration/2026/02/09/01234567-89ab-cdef-0123-456789abcdef/"
        );
        assert_eq!(
            backup_folder("", t, id),
            "configuration/2026/02/09/01234567-89ab-cdef-0123-456789abcdef/"
        );
    }
}
