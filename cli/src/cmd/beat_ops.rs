//! beat's side of the operations endpoint (`celeriac-ops` serves it on `--metrics-listen` or
//! `[beat] metrics-listen`): [`BeatStatus`], the facts the loop updates as it goes, read by
//! `/healthz` and `/metrics`.
//!
//! `/healthz` is 200 while beat does its part: a follower while it can reach the catalog to
//! wait for the leader lock; a leader (or a beat without catalog) while its catalog and broker
//! work. A beat that has not yet reached the catalog, or a leader whose broker is down, is 503.
//! The body says which role, what failed, the last publish and the next slot.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};

use celeriac_ops::{Health, Probe};
use celeriac_scheduler::{Clock, Entry};
use chrono::{DateTime, Utc};

/// What this beat is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Role {
    /// Started, not yet at the catalog.
    Starting = 0,
    /// Waiting for the leader lock; another beat leads.
    Following = 1,
    /// Holding the leader lock: publishing.
    Leading = 2,
    /// No catalog: the only scheduler, publishing.
    Alone = 3,
}

impl Role {
    fn from_u8(v: u8) -> Role {
        match v {
            1 => Role::Following,
            2 => Role::Leading,
            3 => Role::Alone,
            _ => Role::Starting,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Role::Starting => "starting",
            Role::Following => "follower",
            Role::Leading => "leader",
            Role::Alone => "alone",
        }
    }

    fn publishes(self) -> bool {
        matches!(self, Role::Leading | Role::Alone)
    }
}

/// Whether the dead man's switch last found backups missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Freshness {
    /// Not checked (a follower, or no catalog).
    Unknown = 0,
    /// A `VERIFIED` backup within the window.
    Fresh = 1,
    /// None: `BACKUP_MISSING` is open.
    Missing = 2,
}

/// The facts `/healthz` and `/metrics` report; every field is updated without waiting.
pub(crate) struct BeatStatus {
    clock: &'static dyn Clock,
    entries: Vec<Entry>,
    has_catalog: bool,
    role: AtomicU8,
    broker_ok: AtomicBool,
    catalog_ok: AtomicBool,
    published: AtomicU64,
    publish_failures: AtomicU64,
    /// Unix seconds of the last confirmed publish; `i64::MIN` = none yet.
    last_publish: AtomicI64,
    freshness: AtomicU8,
    /// Each entry's last handled slot.
    last_slots: Mutex<BTreeMap<String, DateTime<Utc>>>,
}

impl BeatStatus {
    pub(crate) fn new(clock: &'static dyn Clock, entries: &[Entry], has_catalog: bool) -> Self {
        BeatStatus {
            clock,
            entries: entries.to_vec(),
            has_catalog,
            role: AtomicU8::new(Role::Starting as u8),
            broker_ok: AtomicBool::new(false),
            catalog_ok: AtomicBool::new(!has_catalog),
            published: AtomicU64::new(0),
            publish_failures: AtomicU64::new(0),
            last_publish: AtomicI64::new(i64::MIN),
            freshness: AtomicU8::new(Freshness::Unknown as u8),
            last_slots: Mutex::new(BTreeMap::new()),
        }
    }

    pub(crate) fn set_role(&self, role: Role) {
        self.role.store(role as u8, Ordering::Relaxed);
        if role == Role::Following {
            self.freshness
                .store(Freshness::Unknown as u8, Ordering::Relaxed);
        }
    }

    pub(crate) fn set_broker_ok(&self, ok: bool) {
        self.broker_ok.store(ok, Ordering::Relaxed);
    }

    pub(crate) fn broker_ok(&self) -> bool {
        self.broker_ok.load(Ordering::Relaxed)
    }

    pub(crate) fn set_catalog_ok(&self, ok: bool) {
        if self.has_catalog {
            self.catalog_ok.store(ok, Ordering::Relaxed);
        }
    }

    pub(crate) fn set_freshness(&self, freshness: Freshness) {
        self.freshness.store(freshness as u8, Ordering::Relaxed);
    }

    /// A message confirmed by the broker.
    pub(crate) fn published(&self, at: DateTime<Utc>) {
        self.published.fetch_add(1, Ordering::Relaxed);
        self.last_publish.store(at.timestamp(), Ordering::Relaxed);
        self.set_broker_ok(true);
    }

    /// A publish (or the connection for it) failed.
    pub(crate) fn publish_failed(&self) {
        self.publish_failures.fetch_add(1, Ordering::Relaxed);
        self.set_broker_ok(false);
    }

    /// `entry`'s last handled slot.
    pub(crate) fn record_slot(&self, entry: &str, through: DateTime<Utc>) {
        if let Ok(mut slots) = self.last_slots.lock() {
            let slot = slots.entry(entry.to_owned()).or_insert(through);
            *slot = (*slot).max(through);
        }
    }

    fn role(&self) -> Role {
        Role::from_u8(self.role.load(Ordering::Relaxed))
    }

    fn last_publish(&self) -> Option<DateTime<Utc>> {
        match self.last_publish.load(Ordering::Relaxed) {
            i64::MIN => None,
            secs => DateTime::from_timestamp(secs, 0),
        }
    }

    /// Each entry's next slot after now.
    fn next_slots(&self) -> Vec<(&str, Option<DateTime<Utc>>)> {
        let now = self.clock.now();
        self.entries
            .iter()
            .map(|e| (e.name.as_str(), e.schedule.next_after(e.timezone, now)))
            .collect()
    }

    fn is_healthy(&self) -> bool {
        let role = self.role();
        let catalog = self.catalog_ok.load(Ordering::Relaxed);
        match role {
            Role::Starting => false,
            Role::Following => catalog,
            Role::Leading | Role::Alone => catalog && self.broker_ok.load(Ordering::Relaxed),
        }
    }
}

fn rfc3339(t: Option<DateTime<Utc>>) -> serde_json::Value {
    t.map_or(serde_json::Value::Null, |t| {
        serde_json::Value::String(t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    })
}

impl Probe for BeatStatus {
    fn health(&self) -> Health {
        let role = self.role();
        let next = self.next_slots().into_iter().filter_map(|(_, t)| t).min();
        let body = serde_json::json!({
            "role": role.as_str(),
            "catalog": if self.has_catalog {
                serde_json::Value::Bool(self.catalog_ok.load(Ordering::Relaxed))
            } else {
                serde_json::Value::Null
            },
            "broker": if role.publishes() {
                serde_json::Value::Bool(self.broker_ok.load(Ordering::Relaxed))
            } else {
                serde_json::Value::Null
            },
            "last_publish": rfc3339(self.last_publish()),
            "next_slot": rfc3339(next),
        });
        Health {
            healthy: self.is_healthy(),
            body: format!("{body}\n"),
        }
    }

    fn metrics(&self) -> String {
        let role = self.role();
        let mut out = String::with_capacity(1024);
        gauge(
            &mut out,
            "celeriac_beat_leader",
            "1 while this beat publishes the schedule (leader, or alone without a catalog)",
            u8::from(role.publishes()).into(),
        );
        gauge(
            &mut out,
            "celeriac_beat_broker_ok",
            "1 while the last connect or publish to the broker worked",
            u8::from(self.broker_ok.load(Ordering::Relaxed)).into(),
        );
        gauge(
            &mut out,
            "celeriac_beat_catalog_ok",
            "1 while the catalog answers (always 1 without a catalog)",
            u8::from(self.catalog_ok.load(Ordering::Relaxed)).into(),
        );
        counter(
            &mut out,
            "celeriac_beat_published_total",
            "Messages published and confirmed by the broker",
            self.published.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "celeriac_beat_publish_failures_total",
            "Publishes (or connections for them) that failed and will be retried",
            self.publish_failures.load(Ordering::Relaxed),
        );
        if let Some(at) = self.last_publish() {
            gauge(
                &mut out,
                "celeriac_beat_last_publish_timestamp_seconds",
                "When the last confirmed publish happened (Unix time)",
                at.timestamp(),
            );
        }
        let missing = self.freshness.load(Ordering::Relaxed);
        if missing != Freshness::Unknown as u8 {
            gauge(
                &mut out,
                "celeriac_beat_backup_missing",
                "1 while no VERIFIED backup is within the dead man's switch window",
                i64::from(missing == Freshness::Missing as u8),
            );
        }
        self.entry_metrics(&mut out);
        out
    }
}

impl BeatStatus {
    fn entry_metrics(&self, out: &mut String) {
        out.push_str(
            "# HELP celeriac_beat_next_slot_timestamp_seconds Each entry's next slot (Unix time)\n\
             # TYPE celeriac_beat_next_slot_timestamp_seconds gauge\n",
        );
        for (entry, next) in self.next_slots() {
            if let Some(next) = next {
                let _ = writeln!(
                    out,
                    "celeriac_beat_next_slot_timestamp_seconds{{entry=\"{}\"}} {}",
                    escape(entry),
                    next.timestamp()
                );
            }
        }
        let Ok(slots) = self.last_slots.lock() else {
            return;
        };
        out.push_str(
            "# HELP celeriac_beat_last_slot_timestamp_seconds Each entry's last handled slot (Unix time)\n\
             # TYPE celeriac_beat_last_slot_timestamp_seconds gauge\n",
        );
        for (entry, slot) in slots.iter() {
            let _ = writeln!(
                out,
                "celeriac_beat_last_slot_timestamp_seconds{{entry=\"{}\"}} {}",
                escape(entry),
                slot.timestamp()
            );
        }
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: i64) {
    let _ = write!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
    );
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = write!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
    );
}

/// A Prometheus label value: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use celeriac_scheduler::{BeatConfig, ManualClock};

    use super::*;

    fn status(has_catalog: bool) -> BeatStatus {
        let clock: &'static ManualClock = Box::leak(Box::new(ManualClock::new(
            "2026-03-28T12:00:00Z".parse().unwrap(),
        )));
        BeatStatus::new(clock, &BeatConfig::default().entries, has_catalog)
    }

    #[test]
    fn follower_is_healthy_while_the_catalog_answers() {
        let s = status(true);
        assert!(!s.health().healthy, "starting");
        s.set_catalog_ok(true);
        s.set_role(Role::Following);
        let h = s.health();
        assert!(h.healthy);
        assert_eq!(
            h.body,
            "{\"role\":\"follower\",\"catalog\":true,\"broker\":null,\"last_publish\":null,\"next_slot\":\"2026-03-29T04:00:00Z\"}\n"
        );
        s.set_catalog_ok(false);
        assert!(!s.health().healthy);
    }

    #[test]
    fn leader_needs_its_broker() {
        let s = status(true);
        s.set_catalog_ok(true);
        s.set_role(Role::Leading);
        assert!(!s.health().healthy, "not connected yet");
        s.set_broker_ok(true);
        assert!(s.health().healthy);
        s.publish_failed();
        assert!(!s.health().healthy);
        s.published("2026-03-28T04:00:01Z".parse().unwrap());
        let h = s.health();
        assert!(h.healthy && h.body.contains("\"last_publish\":\"2026-03-28T04:00:01Z\""));
    }

    #[test]
    fn metrics_name_each_entry() {
        let s = status(false);
        s.set_role(Role::Alone);
        s.set_broker_ok(true);
        s.published("2026-03-28T04:00:01Z".parse().unwrap());
        s.record_slot(
            "configuration-backup-daily",
            "2026-03-28T04:00:00Z".parse().unwrap(),
        );
        let m = s.metrics();
        for line in [
            "celeriac_beat_leader 1",
            "celeriac_beat_catalog_ok 1",
            "celeriac_beat_published_total 1",
            "celeriac_beat_publish_failures_total 0",
            "celeriac_beat_last_publish_timestamp_seconds 1774670401",
            "celeriac_beat_next_slot_timestamp_seconds{entry=\"configuration-backup-daily\"} 1774756800",
            "celeriac_beat_last_slot_timestamp_seconds{entry=\"configuration-backup-daily\"} 1774670400",
        ] {
            assert!(m.lines().any(|l| l == line), "{line} missing in\n{m}");
        }
        assert!(
            !m.contains("celeriac_beat_backup_missing"),
            "unknown without a catalog"
        );
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
