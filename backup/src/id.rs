//! [`BackupId`]: the UUIDv7 that names one backup run, its artifacts and its catalog row.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::{NoContext, Timestamp, Uuid};

/// The id of one backup run. A UUIDv7, so ids sort by creation time; it is also the `archive_id`
/// bound into both artifacts' headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BackupId(Uuid);

impl BackupId {
    /// A fresh UUIDv7 whose timestamp is `at` (random bits from the OS).
    pub fn new_at(at: DateTime<Utc>) -> Self {
        let secs = u64::try_from(at.timestamp()).unwrap_or(0);
        let ts = Timestamp::from_unix(NoContext, secs, at.timestamp_subsec_nanos());
        Self(Uuid::new_v7(ts))
    }

    /// Wraps an existing id (for example a Celery task id reused as backup id).
    pub const fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// The UUID.
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for BackupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for BackupId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_time_and_sort_by_it() {
        let early = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let late = DateTime::from_timestamp(1_800_000_001, 0).unwrap();
        let (a, b) = (BackupId::new_at(early), BackupId::new_at(late));
        assert!(a < b);
        assert_eq!(a.as_uuid().get_version_num(), 7);
        let (secs, _) = a.as_uuid().get_timestamp().unwrap().to_unix();
        assert_eq!(secs, 1_800_000_000);
        assert_eq!(a.to_string().parse::<BackupId>().unwrap(), a);
    }
}
