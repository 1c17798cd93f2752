//! `celeriac_beat_entry`: beat's state, the last slot each schedule entry handled (published,
//! or skipped by its missed-slot policy), its task id and the policy's skip counts. The beat
//! leader reads it when it takes over and records each slot once the broker confirmed its
//! message; a record only ever moves an entry forward, atomically, so a late write from a
//! leader that just lost its lock cannot move it back.

use chrono::{DateTime, Utc};

use crate::catalog::{Catalog, dispatch};
use crate::codec::Fields;
use crate::error::CatalogError;

const TABLE: &str = "celeriac_beat_entry";

macro_rules! beat_columns {
    () => {
        "name, last_slot, last_task_id, last_skipped, skipped_total, updated_at"
    };
}

/// One entry's state as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeatEntry {
    /// The entry's name (`[beat.schedule.NAME]`).
    pub name: String,
    /// The latest slot handled, published or skipped.
    pub last_slot: DateTime<Utc>,
    /// The task id of `last_slot` when it was published (`None`: the policy skipped it).
    pub last_task_id: Option<String>,
    /// How many slots the missed-slot policy skipped in the decision that led to `last_slot`.
    pub last_skipped: u64,
    /// How many slots the policy skipped over every recorded decision.
    pub skipped_total: u64,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

impl BeatEntry {
    fn from_fields<R: Fields>(row: &R) -> Result<BeatEntry, CatalogError> {
        Ok(BeatEntry {
            name: row.text(TABLE, "name")?,
            last_slot: row.time(TABLE, "last_slot")?,
            last_task_id: row.opt_text(TABLE, "last_task_id")?,
            last_skipped: row.unsigned(TABLE, "last_skipped")?,
            skipped_total: row.unsigned(TABLE, "skipped_total")?,
            updated_at: row.time(TABLE, "updated_at")?,
        })
    }
}

/// A handled slot to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRecord {
    /// The entry's name.
    pub entry: String,
    /// The slot now handled (the decision's `through`).
    pub slot: DateTime<Utc>,
    /// Its task id when it was published.
    pub task_id: Option<String>,
    /// Slots the missed-slot policy skipped in this decision.
    pub skipped: u64,
    /// Now.
    pub at: DateTime<Utc>,
}

/// What [`Catalog::record_beat_slot`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The entry's state after the call.
    pub entry: BeatEntry,
    /// Whether this call moved it (false: it already was at this slot or later).
    pub advanced: bool,
}

impl Catalog {
    /// The stored state of entry `name`; `None` when no slot of it was ever recorded.
    ///
    /// # Errors
    /// [`CatalogError`] (a missing table is a query error: run `celeriac migrate`).
    pub async fn beat_entry(&self, name: &str) -> Result<Option<BeatEntry>, CatalogError> {
        dispatch!(self, |pool, C| {
            sqlx::query(concat!(
                "SELECT ",
                beat_columns!(),
                " FROM celeriac_beat_entry WHERE name = $1"
            ))
            .bind(name)
            .fetch_optional(pool)
            .await
            .map_err(|e| CatalogError::query("read beat entry", e))?
            .map(|row| BeatEntry::from_fields(&row))
            .transpose()
        })
    }

    /// Records `record.slot` as the entry's last slot if it is later than the stored one (or
    /// none is stored), in one statement; an earlier or equal slot changes nothing. Returns the
    /// state after the call and whether this call moved it.
    ///
    /// # Errors
    /// [`CatalogError`].
    pub async fn record_beat_slot(&self, record: &SlotRecord) -> Result<Recorded, CatalogError> {
        let skipped = i64::try_from(record.skipped).unwrap_or(i64::MAX);
        let moved = dispatch!(self, |pool, C| {
            sqlx::query(concat!(
                "INSERT INTO celeriac_beat_entry (name, last_slot, last_task_id, last_skipped, \
                 skipped_total, updated_at) VALUES ($1, $2, $3, $4, $4, $5) \
                 ON CONFLICT (name) DO UPDATE SET last_slot = excluded.last_slot, \
                 last_task_id = excluded.last_task_id, last_skipped = excluded.last_skipped, \
                 skipped_total = CASE WHEN celeriac_beat_entry.skipped_total \
                 > 9223372036854775807 - excluded.last_skipped THEN 9223372036854775807 \
                 ELSE celeriac_beat_entry.skipped_total + excluded.last_skipped END, \
                 updated_at = excluded.updated_at \
                 WHERE celeriac_beat_entry.last_slot < excluded.last_slot RETURNING ",
                beat_columns!()
            ))
            .bind(&record.entry)
            .bind(C::time(record.slot))
            .bind(record.task_id.as_deref())
            .bind(skipped)
            .bind(C::time(record.at))
            .fetch_optional(pool)
            .await
            .map_err(|e| CatalogError::query("record beat slot", e))?
            .map(|row| BeatEntry::from_fields(&row))
            .transpose()?
        });
        if let Some(entry) = moved {
            return Ok(Recorded {
                entry,
                advanced: true,
            });
        }
        // Not moved: a later (or the same) slot is stored, and the row exists.
        let entry = self
            .beat_entry(&record.entry)
            .await?
            .ok_or_else(|| CatalogError::query("record beat slot", sqlx::Error::RowNotFound))?;
        Ok(Recorded {
            entry,
            advanced: false,
        })
    }
}
