//! Owns the event publisher: the one task that takes events from the bounded buffer and
//! writes them to `celeryev` over a connection of its own ([`EventChannel`]). Nothing on the
//! task path ever waits for it: the delivery path only `try_send`s into the buffer.
//!
//! * Task events that are already waiting go out together as one `task.multi` message (at
//!   most [`MAX_BATCH`]), as a Python worker batches them; worker events go one by one.
//! * It connects when the first event arrives, and after a failure again with backoff; events
//!   that arrive while there is no connection are dropped (`disconnected`), as are those sent
//!   while the broker blocks the connection (`broker_blocked`). A publish that hangs on a
//!   stalled socket holds only this task: the buffer fills and the producers drop
//!   (`buffer_full`). Every drop is counted in `celeriac_events_dropped_total`.
//! * On stop it publishes what is still buffered within [`FLUSH_BUDGET`], then closes.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::event::{Event, Origin, TASK_MULTI};
use super::heartbeat::utc_offset_hours;
use crate::backoff::{random_pick, reconnect_delay};
use crate::consumer::error_chain;
use crate::metrics::{EventCounters, EventDrop};
use celeriac_broker::{BrokerUrl, EventChannel};

/// Most task events in one `task.multi` message (Celery's `buffer_limit`).
pub(crate) const MAX_BATCH: usize = 24;
/// Longest wait for the event connection to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// First and longest wait before connecting again after a failure.
const RETRY_INITIAL: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// Time left to publish what is buffered when the worker stops.
pub(crate) const FLUSH_BUDGET: Duration = Duration::from_secs(3);

/// Where and as whom the publisher publishes.
pub(crate) struct Target {
    pub(crate) url: BrokerUrl,
    pub(crate) connection_name: String,
    pub(crate) origin: Origin,
    pub(crate) counters: EventCounters,
}

/// The connection, opened on demand, and the backoff after failures.
struct Link {
    target: Target,
    channel: Option<EventChannel>,
    failures: u32,
    retry_at: Option<Instant>,
}

impl Link {
    /// Whether there is an open channel, connecting if it is time to try.
    async fn connected(&mut self) -> bool {
        if self.channel.as_ref().is_some_and(|c| !c.is_open()) {
            self.lost("the event channel closed");
        }
        if self.channel.is_none() {
            if self.retry_at.is_some_and(|at| Instant::now() < at) {
                return false;
            }
            self.connect().await;
        }
        self.channel.is_some()
    }

    async fn connect(&mut self) {
        let t = &self.target;
        let opened = tokio::time::timeout(
            CONNECT_TIMEOUT,
            EventChannel::open(&t.url, &t.connection_name),
        )
        .await;
        match opened {
            Ok(Ok(channel)) => {
                tracing::info!(broker = %t.url, "events: publishing to the celeryev exchange");
                self.channel = Some(channel);
                (self.failures, self.retry_at) = (0, None);
            }
            Ok(Err(err)) => self.failed(&error_chain(&err)),
            Err(_) => self.failed("timed out connecting"),
        }
    }

    fn failed(&mut self, cause: &str) {
        let delay = reconnect_delay(RETRY_INITIAL, RETRY_MAX, self.failures, random_pick);
        if self.failures == 0 {
            tracing::warn!(%cause, retry_in_ms = delay.as_millis(), "events: cannot reach the broker; dropping events until it answers");
        } else {
            tracing::debug!(%cause, retry_in_ms = delay.as_millis(), "events: still cannot reach the broker");
        }
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(Instant::now() + delay);
    }

    fn lost(&mut self, cause: &str) {
        self.channel = None;
        self.failed(cause);
    }

    /// Publishes `events` (one message, or one `task.multi` for several), or drops them.
    async fn send(&mut self, events: &[Event]) {
        let n = events.len() as u64;
        if events.iter().any(|e| !e.kind.is_task()) {
            self.target.origin.utcoffset = utc_offset_hours();
        }
        let counters = self.target.counters.clone();
        if !self.connected().await {
            return counters.dropped(EventDrop::Disconnected, n);
        }
        let Some(channel) = self.channel.as_ref() else {
            return counters.dropped(EventDrop::Disconnected, n);
        };
        if channel.is_blocked() {
            return counters.dropped(EventDrop::BrokerBlocked, n);
        }
        let origin = &self.target.origin;
        let (key, message) = match events {
            [one] => origin.message(one),
            many => (TASK_MULTI, origin.batch(many)),
        };
        match channel.publish(key, &message).await {
            Ok(()) => counters.sent.increment(n),
            Err(err) => {
                counters.dropped(EventDrop::PublishFailed, n);
                self.lost(&error_chain(&err));
            }
        }
    }

    async fn close(self) {
        if let Some(channel) = self.channel {
            channel.close().await;
        }
    }
}

/// Takes the next batch: `first`, and if it is a task event, the task events already waiting
/// behind it (up to [`MAX_BATCH`]); a worker event met on the way is kept in `carry`.
fn batch(first: Event, rx: &mut mpsc::Receiver<Event>, carry: &mut Option<Event>) -> Vec<Event> {
    let mut events = vec![first];
    if !events[0].kind.is_task() {
        return events;
    }
    while events.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(e) if e.kind.is_task() => events.push(e),
            Ok(e) => {
                *carry = Some(e);
                break;
            }
            Err(_) => break,
        }
    }
    events
}

/// Publishes events from `rx` until `stop` fires, then, within [`FLUSH_BUDGET`], what is still
/// buffered (a publish under way when `stop` fires gets the same budget), and closes.
pub(crate) async fn run(target: Target, rx: mpsc::Receiver<Event>, stop: CancellationToken) {
    let link = Link {
        target,
        channel: None,
        failures: 0,
        retry_at: None,
    };
    let deadline = async {
        stop.cancelled().await;
        tokio::time::sleep(FLUSH_BUDGET).await;
    };
    tokio::select! {
        () = publish_all(link, rx, &stop) => {}
        () = deadline => {
            tracing::warn!("events: the broker did not take the last events in time; dropped");
        }
    }
}

async fn publish_all(mut link: Link, mut rx: mpsc::Receiver<Event>, stop: &CancellationToken) {
    let mut carry = None;
    loop {
        let first = if let Some(e) = carry.take() {
            e
        } else {
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                next = rx.recv() => match next {
                    Some(e) => e,
                    None => break,
                },
            }
        };
        let events = batch(first, &mut rx, &mut carry);
        link.send(&events).await;
    }
    // stopping: what is already buffered still goes out
    loop {
        let first = match carry.take() {
            Some(e) => e,
            None => match rx.try_recv() {
                Ok(e) => e,
                Err(_) => break,
            },
        };
        let events = batch(first, &mut rx, &mut carry);
        link.send(&events).await;
    }
    link.close().await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::events::event::{EventKind, Revocation, WorkerInfo};

    fn task(uuid: &str) -> Event {
        Event {
            kind: EventKind::TaskStarted { uuid: uuid.into() },
            clock: 1,
            timestamp: 1.0,
        }
    }

    fn beat() -> Event {
        Event {
            kind: EventKind::WorkerHeartbeat(WorkerInfo {
                freq: 2.0,
                active: 0,
                processed: 0,
                loadavg: [0.0; 3],
                sw_ident: "celeriac",
                sw_ver: "0",
                sw_sys: "Linux",
            }),
            clock: 2,
            timestamp: 2.0,
        }
    }

    #[tokio::test]
    async fn batches_task_events_and_keeps_worker_events_apart() {
        let (tx, mut rx) = mpsc::channel(64);
        for i in 0..30 {
            tx.send(task(&i.to_string())).await.unwrap();
        }
        tx.send(beat()).await.unwrap();
        tx.send(Event {
            kind: EventKind::revoked("r".into(), Revocation::Revoked),
            clock: 3,
            timestamp: 3.0,
        })
        .await
        .unwrap();
        let mut carry = None;
        let first = rx.recv().await.unwrap();
        assert_eq!(batch(first, &mut rx, &mut carry).len(), MAX_BATCH);
        let first = rx.recv().await.unwrap();
        assert_eq!(batch(first, &mut rx, &mut carry).len(), 30 - MAX_BATCH);
        let held = carry.take().unwrap();
        assert!(!held.kind.is_task());
        assert_eq!(
            batch(held, &mut rx, &mut carry).len(),
            1,
            "worker events go alone"
        );
        let first = rx.recv().await.unwrap();
        assert_eq!(batch(first, &mut rx, &mut carry).len(), 1);
        assert!(carry.is_none());
    }
}
