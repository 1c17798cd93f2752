//! [`Slot`]: one run of one entry, and its deterministic task id.

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use celeriac_protocol::TaskId;

/// The UUIDv5 namespace of slot task ids: `uuid5(NAMESPACE_URL, "urn:celeriac:beat-slot")`.
pub fn slot_namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:celeriac:beat-slot")
}

/// One scheduled run: the entry's name and the slot's instant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slot {
    /// The entry's name (the key of `[beat.schedule.NAME]`).
    pub entry: String,
    /// When it is due.
    pub at: DateTime<Utc>,
}

impl Slot {
    /// A slot of `entry` at `at`.
    pub fn new(entry: impl Into<String>, at: DateTime<Utc>) -> Slot {
        Slot {
            entry: entry.into(),
            at,
        }
    }

    /// The task id every replica gives this slot's message: UUIDv5 in [`slot_namespace`] over
    /// `"<entry>\n<instant as RFC 3339 UTC, seconds precision>"`. A duplicate publish of the
    /// same slot carries the same id, so the task's idempotency makes it the same run.
    pub fn task_id(&self) -> TaskId {
        let name = format!(
            "{}\n{}",
            self.entry,
            self.at.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        TaskId::from_uuid(Uuid::new_v5(&slot_namespace(), name.as_bytes()))
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
    fn the_same_slot_has_the_same_id_and_others_differ() {
        let a = Slot::new("configuration-backup-daily", at("2026-12-04T04:00:00Z"));
        let b = Slot::new("configuration-backup-daily", at("2026-12-04T04:00:00Z"));
        assert_eq!(a.task_id(), b.task_id());
        let next_day = Slot::new("configuration-backup-daily", at("2026-12-05T04:00:00Z"));
        let other_entry = Slot::new("other", at("2026-12-04T04:00:00Z"));
        assert_ne!(a.task_id(), next_day.task_id());
        assert_ne!(a.task_id(), other_entry.task_id());
        assert_eq!(a.task_id().as_uuid().unwrap().get_version_num(), 5);
    }

    #[test]
    fn the_id_is_pinned() {
        // Python: uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, "urn:celeriac:beat-slot"),
        //                    "configuration-backup-daily\n2026-12-04T04:00:00Z")
        let slot = Slot::new("configuration-backup-daily", at("2026-12-04T04:00:00Z"));
        assert_eq!(slot.task_id().as_str(), PINNED_ID);
    }

    const PINNED_ID: &str = "eb3dfdd6-8ad2-53d3-bd4a-214ace4cb83c";
}
