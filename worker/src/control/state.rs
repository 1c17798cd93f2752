//! Owns [`WorkerState`]: what remote control reads and changes about the worker's work — the
//! requests it holds (reserved, scheduled for an ETA, active), the per-task totals, the Lamport
//! clock, and the revoked ids. The delivery path registers each request through a [`Tracking`]
//! guard (one short lock per step, removed on drop whatever path the delivery takes).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use celeriac_protocol::TaskMessage;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::revoked::RevokedSet;

/// Where a delivery came from, as `Request.info()['delivery_info']` shows it.
#[derive(Debug, Clone)]
pub(crate) struct DeliveryInfo {
    pub(crate) exchange: String,
    pub(crate) routing_key: String,
    pub(crate) redelivered: bool,
}

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Phase {
    /// Received, waiting for a concurrency slot.
    Reserved,
    /// Held until its ETA.
    Scheduled,
    /// Running since this Unix time.
    Active { time_start: f64 },
}

struct Tracked {
    msg: Arc<TaskMessage>,
    delivery: DeliveryInfo,
    acks_late: bool,
    phase: Phase,
    /// The running task's cancellation (fired by `revoke --terminate`).
    cancel: Option<CancellationToken>,
    terminated: bool,
}

#[derive(Default)]
struct Inner {
    next_key: u64,
    requests: HashMap<u64, Tracked>,
    /// Tasks started, by name (Celery's `total_count`); keys are registered names only.
    total: BTreeMap<String, u64>,
    revoked: RevokedSet,
}

/// The worker's live state, shared by the delivery path and remote control.
pub(crate) struct WorkerState {
    hostname: Arc<str>,
    started: Instant,
    clock: AtomicU64,
    inner: Mutex<Inner>,
}

/// The task was revoked: do not run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Revoked;

/// Now as Unix seconds.
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl WorkerState {
    pub(crate) fn new(hostname: Arc<str>) -> Self {
        Self {
            hostname,
            started: Instant::now(),
            clock: AtomicU64::new(0),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Seconds since the worker started.
    pub(crate) fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// The Lamport clock, advanced for a local event.
    pub(crate) fn clock_forward(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed).saturating_add(1)
    }

    /// The Lamport clock after seeing `other`: `max(ours, other) + 1`.
    pub(crate) fn clock_adjust(&self, other: u64) -> u64 {
        let mut cur = self.clock.load(Ordering::Relaxed);
        loop {
            let next = cur.max(other).saturating_add(1);
            match self
                .clock
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => cur = seen,
            }
        }
    }

    /// The clock's current value.
    pub(crate) fn clock(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }

    /// Registers a received request, unless its id is revoked.
    pub(crate) fn receive(
        &self,
        msg: Arc<TaskMessage>,
        delivery: DeliveryInfo,
        acks_late: bool,
    ) -> Result<Tracking<'_>, Revoked> {
        let mut inner = self.lock();
        if !inner.revoked.is_empty() && inner.revoked.contains(msg.headers.id.as_str(), unix_now())
        {
            return Err(Revoked);
        }
        let key = inner.next_key;
        inner.next_key = key.wrapping_add(1);
        inner.requests.insert(
            key,
            Tracked {
                msg,
                delivery,
                acks_late,
                phase: Phase::Reserved,
                cancel: None,
                terminated: false,
            },
        );
        Ok(Tracking { state: self, key })
    }

    /// Revokes `ids`; with `terminate`, fires the cancellation of those running and returns
    /// their ids.
    pub(crate) fn revoke(&self, ids: &[String], terminate: bool) -> Vec<String> {
        let now = unix_now();
        let mut inner = self.lock();
        for id in ids {
            inner.revoked.insert(id, now);
        }
        let mut terminated = Vec::new();
        if terminate {
            for t in inner.requests.values_mut() {
                let id = t.msg.headers.id.as_str();
                if matches!(t.phase, Phase::Active { .. }) && ids.iter().any(|i| i == id) {
                    t.terminated = true;
                    if let Some(cancel) = &t.cancel {
                        cancel.cancel();
                    }
                    if !terminated.iter().any(|x: &String| x == id) {
                        terminated.push(id.to_owned());
                    }
                }
            }
        }
        terminated
    }

    /// Adds ids revoked elsewhere (mingle's `hello`), keeping their revoke times.
    pub(crate) fn merge_revoked(&self, entries: &[(String, f64)]) {
        let now = unix_now();
        let mut inner = self.lock();
        for (id, at) in entries {
            // a time from the future (another host's clock) is taken as now
            inner.revoked.insert(id, at.min(now));
        }
    }

    /// The live revoked ids with their revoke times.
    pub(crate) fn revoked(&self) -> Vec<(String, f64)> {
        self.lock().revoked.entries(unix_now())
    }

    /// Requests running now, and tasks started since the worker started (the heartbeat's
    /// `active` and `processed`).
    pub(crate) fn active_and_processed(&self) -> (usize, u64) {
        let inner = self.lock();
        let active = inner
            .requests
            .values()
            .filter(|t| matches!(t.phase, Phase::Active { .. }))
            .count();
        (active, inner.total.values().sum())
    }

    /// Tasks started per name.
    pub(crate) fn totals(&self) -> BTreeMap<String, u64> {
        self.lock().total.clone()
    }

    /// `Request.info()` of every request in `phase` (by kind; times ignored), oldest first, with
    /// the ETA of scheduled ones.
    pub(crate) fn infos(
        &self,
        want: fn(Phase) -> bool,
        safe: bool,
    ) -> Vec<(Value, Option<String>)> {
        let inner = self.lock();
        let mut found: Vec<(&u64, &Tracked)> = inner
            .requests
            .iter()
            .filter(|(_, t)| want(t.phase))
            .collect();
        found.sort_by_key(|(k, _)| **k);
        found
            .into_iter()
            .map(|(_, t)| {
                let eta = t.msg.headers.eta.map(|e| e.to_rfc3339());
                (self.info(t, safe), eta)
            })
            .collect()
    }

    /// `{id: [state, info]}` for the reserved and active requests among `ids`.
    pub(crate) fn query(&self, ids: &[String]) -> serde_json::Map<String, Value> {
        let inner = self.lock();
        let mut out = serde_json::Map::new();
        for t in inner.requests.values() {
            let id = t.msg.headers.id.as_str();
            if !ids.iter().any(|i| i == id) {
                continue;
            }
            let state = match t.phase {
                Phase::Active { .. } => "active",
                Phase::Reserved => "reserved",
                Phase::Scheduled => continue,
            };
            out.insert(id.to_owned(), json!([state, self.info(t, false)]));
        }
        out
    }

    fn info(&self, t: &Tracked, safe: bool) -> Value {
        let h = &t.msg.headers;
        let (args, kwargs) = if safe {
            (
                json!(h.argsrepr.clone().unwrap_or_else(|| "()".to_owned())),
                json!(h.kwargsrepr.clone().unwrap_or_else(|| "{}".to_owned())),
            )
        } else {
            (
                Value::Array(t.msg.body.plain_args()),
                Value::Object(t.msg.body.plain_kwargs()),
            )
        };
        let (time_start, worker_pid) = match t.phase {
            Phase::Active { time_start } => (json!(time_start), json!(std::process::id())),
            _ => (Value::Null, Value::Null),
        };
        let acknowledged = matches!(t.phase, Phase::Active { .. }) && !t.acks_late;
        json!({
            "id": h.id.as_str(),
            "name": h.task.as_str(),
            "args": args,
            "kwargs": kwargs,
            "type": h.task.as_str(),
            "hostname": &*self.hostname,
            "time_start": time_start,
            "acknowledged": acknowledged,
            "delivery_info": {
                "exchange": t.delivery.exchange,
                "routing_key": t.delivery.routing_key,
                "priority": t.msg.properties.priority.unwrap_or(0),
                "redelivered": t.delivery.redelivered,
            },
            "worker_pid": worker_pid,
        })
    }
}

/// A request registered in [`WorkerState`]; dropping it forgets the request.
pub(crate) struct Tracking<'a> {
    state: &'a WorkerState,
    key: u64,
}

impl Tracking<'_> {
    fn with<R>(&self, f: impl FnOnce(&mut Inner, u64) -> R) -> R {
        let mut inner = self.state.lock();
        f(&mut inner, self.key)
    }

    /// The request is held until its ETA.
    pub(crate) fn scheduled(&self) {
        self.set_phase(Phase::Scheduled);
    }

    /// The request waits for a slot again (its ETA has come).
    pub(crate) fn reserved(&self) {
        self.set_phase(Phase::Reserved);
    }

    fn set_phase(&self, phase: Phase) {
        self.with(|inner, key| {
            if let Some(t) = inner.requests.get_mut(&key) {
                t.phase = phase;
            }
        });
    }

    /// The request starts running with `cancel` as its cancellation, unless it was revoked
    /// meanwhile; counts it in the totals.
    pub(crate) fn start(&self, cancel: &CancellationToken) -> Result<(), Revoked> {
        let now = unix_now();
        self.with(|inner, key| {
            let Some(t) = inner.requests.get_mut(&key) else {
                return Ok(());
            };
            t.phase = Phase::Active { time_start: now };
            t.cancel = Some(cancel.clone());
            let (id, name) = (&t.msg.headers.id, &t.msg.headers.task);
            if !inner.revoked.is_empty() && inner.revoked.contains(id.as_str(), now) {
                return Err(Revoked);
            }
            if let Some(count) = inner.total.get_mut(name.as_str()) {
                *count += 1;
            } else {
                inner.total.insert(name.as_str().to_owned(), 1);
            }
            Ok(())
        })
    }

    /// Whether `revoke --terminate` stopped this request.
    pub(crate) fn terminated(&self) -> bool {
        self.with(|inner, key| inner.requests.get(&key).is_some_and(|t| t.terminated))
    }
}

impl Drop for Tracking<'_> {
    fn drop(&mut self) {
        self.with(|inner, key| inner.requests.remove(&key));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use celeriac_protocol::WireMessage;

    fn message(id: &str) -> Arc<TaskMessage> {
        let wire = WireMessage {
            properties: celeriac_protocol::Properties {
                content_type: Some("application/json".into()),
                content_encoding: Some("utf-8".into()),
                correlation_id: Some(id.into()),
                ..Default::default()
            },
            headers: [
                ("id".to_owned(), celeriac_protocol::HeaderValue::Str(id.into())),
                (
                    "task".to_owned(),
                    celeriac_protocol::HeaderValue::Str("t.add".into()),
                ),
                (
                    "argsrepr".to_owned(),
                    celeriac_protocol::HeaderValue::Str("(1, 2)".into()),
                ),
            ]
            .into_iter()
            .collect(),
            body: br#"[[1, 2], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#
                .to_vec(),
        };
        Arc::new(TaskMessage::from_wire(&wire).unwrap())
    }

    fn delivery() -> DeliveryInfo {
        DeliveryInfo {
            exchange: String::new(),
            routing_key: "q".into(),
            redelivered: false,
        }
    }

    fn is_active(p: Phase) -> bool {
        matches!(p, Phase::Active { .. })
    }

    #[test]
    fn lifecycle_revoke_and_terminate() {
        let state = WorkerState::new("n@h".into());
        let a = state.receive(message("a"), delivery(), true).unwrap();
        assert_eq!(state.infos(|p| p == Phase::Reserved, false).len(), 1);
        a.scheduled();
        assert!(state.infos(|p| p == Phase::Reserved, false).is_empty());
        assert_eq!(state.infos(|p| p == Phase::Scheduled, false).len(), 1);
        a.reserved();
        let cancel = CancellationToken::new();
        a.start(&cancel).unwrap();
        let active = state.infos(is_active, false);
        assert_eq!(active[0].0["args"], json!([1, 2]));
        assert_eq!(state.infos(is_active, true)[0].0["args"], "(1, 2)");
        assert_eq!(active[0].0["hostname"], "n@h");
        assert_eq!(state.query(&["a".into()])["a"][0], "active");
        assert_eq!(state.totals()["t.add"], 1);
        assert_eq!(state.active_and_processed(), (1, 1));
        assert!(!a.terminated());
        assert_eq!(state.revoke(&["a".into()], true), ["a"]);
        assert!(cancel.is_cancelled() && a.terminated());
        drop(a);
        assert!(state.infos(|_| true, false).is_empty());
        // revoked before it arrives: refused at receipt
        assert!(state.receive(message("a"), delivery(), true).is_err());
        // revoked while waiting: refused at start
        let b = state.receive(message("b"), delivery(), true).unwrap();
        assert!(state.revoke(&["b".into()], true).is_empty(), "not running");
        assert_eq!(b.start(&CancellationToken::new()), Err(Revoked));
        assert_eq!(state.totals()["t.add"], 1);
        let ids: Vec<String> = state.revoked().into_iter().map(|(i, _)| i).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn lamport_clock() {
        let state = WorkerState::new("n@h".into());
        assert_eq!(state.clock_forward(), 1);
        assert_eq!(state.clock_adjust(10), 11);
        assert_eq!(state.clock_adjust(3), 12);
        assert_eq!(state.clock(), 12);
    }
}
