//! [`Ticker`]: beat's loop body without I/O. It keeps each entry's last handled slot, says what
//! to publish at an instant ([`Ticker::due`]) and when to look again ([`Ticker::next_wake`]).
//! The caller publishes, and records a slot ([`Ticker::record`]) only once the broker confirmed
//! its message, so a failed publish is retried on the next look (at-least-once; the slot's task
//! id makes a duplicate the same task).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::config::{BeatConfig, Entry};
use crate::message::{Outgoing, Sender, beat_message};
use crate::missed::{Skipped, due};

/// The longest beat sleeps between looks, even when the next slot is far away (so a clock
/// jump or a suspended host is noticed within a minute).
pub const MAX_SLEEP: Duration = Duration::seconds(60);

/// What one entry needs now.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryDue {
    /// The entry's name.
    pub entry: String,
    /// Messages to publish, oldest slot first.
    pub outgoing: Vec<Outgoing>,
    /// Slots passed over by the missed-slot policy.
    pub skipped: Skipped,
    /// Record this once every message in `outgoing` is confirmed.
    pub through: DateTime<Utc>,
}

/// The schedule's state: entries and their last handled slots.
#[derive(Debug, Clone)]
pub struct Ticker {
    entries: Vec<Entry>,
    last: BTreeMap<String, DateTime<Utc>>,
    sender: Sender,
}

impl Ticker {
    /// A ticker for `config`'s entries, none of which has run.
    pub fn new(config: &BeatConfig, sender: Sender) -> Ticker {
        Ticker {
            entries: config.entries.clone(),
            last: BTreeMap::new(),
            sender,
        }
    }

    /// The entries.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The last handled slot of `entry`.
    pub fn last(&self, entry: &str) -> Option<DateTime<Utc>> {
        self.last.get(entry).copied()
    }

    /// Records `through` as `entry`'s last handled slot (never moves it backwards).
    pub fn record(&mut self, entry: &str, through: DateTime<Utc>) {
        let slot = self.last.entry(entry.to_owned()).or_insert(through);
        if through > *slot {
            *slot = through;
        }
    }

    /// What to publish at `now`: one [`EntryDue`] per entry with something new.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<EntryDue> {
        self.entries
            .iter()
            .filter_map(|entry| {
                let last = self.last(&entry.name);
                let decision = due(&entry.schedule, entry.timezone, entry.missed, last, now);
                let through = decision.through?;
                Some(EntryDue {
                    entry: entry.name.clone(),
                    outgoing: decision
                        .fire
                        .iter()
                        .map(|slot| beat_message(entry, *slot, now, &self.sender))
                        .collect(),
                    skipped: decision.skipped,
                    through,
                })
            })
            .collect()
    }

    /// When to look again after `now`: the earliest next slot, but within [`MAX_SLEEP`].
    pub fn next_wake(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.entries
            .iter()
            .filter_map(|e| e.schedule.next_after(e.timezone, now))
            .min()
            .map_or(now + MAX_SLEEP, |next| next.min(now + MAX_SLEEP))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::slot::Slot;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn paris_ticker() -> Ticker {
        let config = BeatConfig::from_toml(
            "[beat]\ntimezone = \"Europe/Paris\"\n\
             [beat.schedule.configuration-backup-daily]\n\
             task = \"apps.backups.tasks.configuration_backup\"\nschedule = \"30 2 * * *\"\n\
             [beat.schedule.ping]\ntask = \"apps.ping\"\nschedule = { every = \"6h\" }\n",
        )
        .unwrap();
        Ticker::new(&config, Sender::for_process(1, "h"))
    }

    /// Runs the loop as beat does (wake at `next_wake`, a little late), publishing everything
    /// and recording it, from `from` to `to`; returns the published slots.
    fn run(ticker: &mut Ticker, clock: &ManualClock, to: DateTime<Utc>) -> Vec<Slot> {
        let mut published = Vec::new();
        while clock.now() <= to {
            for due in ticker.due(clock.now()) {
                for out in &due.outgoing {
                    assert_eq!(out.message.headers.id, out.slot.task_id());
                    published.push(out.slot.clone());
                }
                ticker.record(&due.entry, due.through);
            }
            let wake = ticker.next_wake(clock.now());
            assert!(wake > clock.now() && wake - clock.now() <= MAX_SLEEP);
            clock.set(wake + Duration::milliseconds(250));
        }
        published
    }

    #[test]
    fn publishes_each_slot_once_across_the_spring_change() {
        let mut ticker = paris_ticker();
        let clock = ManualClock::new(at("2026-03-28T00:00:00Z"));
        let published = run(&mut ticker, &clock, at("2026-03-30T03:00:00Z"));
        let backups: Vec<_> = published
            .iter()
            .filter(|s| s.entry == "configuration-backup-daily")
            .map(|s| s.at)
            .collect();
        assert_eq!(
            backups,
            [
                at("2026-03-28T01:30:00Z"),
                at("2026-03-29T01:00:00Z"),
                at("2026-03-30T00:30:00Z")
            ]
        );
        // every 6h from 00:00Z on the 28th (on time at the first look) to 00:00Z on the 30th.
        assert_eq!(published.iter().filter(|s| s.entry == "ping").count(), 9);
    }

    #[test]
    fn an_unrecorded_slot_is_offered_again() {
        let ticker = paris_ticker();
        let now = at("2026-03-28T01:30:00.5Z");
        let first = ticker.due(now);
        let again = ticker.due(now + Duration::seconds(5));
        assert_eq!(first[0].outgoing[0].slot, again[0].outgoing[0].slot);
    }

    #[test]
    fn after_downtime_the_grace_policy_catches_up_once() {
        let mut ticker = paris_ticker();
        ticker.record("configuration-backup-daily", at("2026-03-27T01:30:00Z"));
        ticker.record("ping", at("2026-03-28T00:00:00Z"));
        // Down from before the 28th's 02:30 until 02:50 Paris time: one catch-up run.
        let due = ticker.due(at("2026-03-28T01:50:00Z"));
        let backup = due
            .iter()
            .find(|d| d.entry == "configuration-backup-daily")
            .unwrap();
        assert_eq!(backup.outgoing.len(), 1);
        assert_eq!(backup.outgoing[0].slot.at, at("2026-03-28T01:30:00Z"));
        // Down until 04:00 Paris time: outside the 1h window, nothing runs, one skipped.
        let due = ticker.due(at("2026-03-28T03:00:00Z"));
        let backup = due
            .iter()
            .find(|d| d.entry == "configuration-backup-daily")
            .unwrap();
        assert!(backup.outgoing.is_empty());
        assert_eq!(backup.skipped, Skipped::Exactly(1));
    }
}
