//! Coalesced acknowledgements for one consuming channel. A handler whose outcome is recorded
//! marks its delivery ready; a flusher acks the longest run of ready deliveries with a single
//! `basic.ack(multiple = true)`. Acks cost the broker and the client more than anything else per
//! task, so this is where most of the throughput comes from.
//!
//! Invariant (acks_late): a `multiple` ack for tag T is only sent when every delivery this
//! channel handed out with a tag ≤ T is either already settled or marked ready, i.e. its outcome
//! was recorded. Deliveries are registered by the consume loop before their handler runs and
//! removed only once settled. The broker numbers a channel's deliveries 1, 2, 3...; with several
//! queues the loop merges their consumers' streams and may see a later tag before an earlier
//! one, so the ledger also keeps which tags have arrived ([`Arrivals`]): a `multiple` ack never
//! reaches past a tag that has not, and "every tag ≤ T arrived and is ready" is exactly the rule.
//! Ready deliveries stuck behind a long-running one are acked individually after a short delay.
//!
//! The ledger also knows how many deliveries are unsettled and how many of them are settling
//! (outcome decided, awaiting a reply confirm or the ack); it tells the prefetch [`Window`] after
//! every change.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lapin::Channel;
use lapin::options::BasicAckOptions;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::window::{Load, Window};

/// How long ready deliveries may wait behind an unfinished one before being acked one by one.
const STRAGGLER_DELAY: Duration = Duration::from_millis(20);

/// The ack ledger of one consuming channel.
pub(crate) struct Acks {
    channel: Channel,
    ledger: Mutex<Ledger>,
    wake: Notify,
    window: Arc<Window>,
}

/// Where an unsettled delivery is, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Waiting, or its task running.
    Reserved,
    /// Its outcome is decided; its reply (or retry) awaits the broker's confirm.
    Settling,
    /// Its outcome is recorded: ack wanted.
    Ready,
}

/// Which delivery tags the consume loop has registered: every tag up to `through`, plus the
/// ones in `early` that came before an earlier tag did.
#[derive(Debug, Default)]
struct Arrivals {
    through: u64,
    early: BTreeSet<u64>,
}

impl Arrivals {
    fn arrived(&mut self, tag: u64) {
        if tag == self.through + 1 {
            self.through = tag;
            while self.early.remove(&(self.through + 1)) {
                self.through += 1;
            }
        } else if tag > self.through {
            self.early.insert(tag);
        }
    }

    /// The first tag not registered yet while a later one is: no `multiple` ack may cover it.
    fn gap(&self) -> Option<u64> {
        (!self.early.is_empty()).then_some(self.through + 1)
    }
}

#[derive(Default)]
struct Ledger {
    /// Unsettled deliveries by tag.
    open: BTreeMap<u64, Phase>,
    /// The tags registered so far.
    arrivals: Arrivals,
    /// How many of `open` are `Settling` or `Ready`.
    settling: u32,
    /// The unfinished delivery at the head of `open`, and since when it has been there.
    head: Option<(u64, Instant)>,
}

/// What one flush sends.
#[derive(Debug, Default, PartialEq, Eq)]
struct Batch {
    /// Ack everything up to this tag at once.
    up_to: Option<u64>,
    /// Ack these one by one (ready, but behind an unfinished delivery for too long).
    singles: Vec<u64>,
}

impl Ledger {
    fn load(&self) -> Load {
        Load {
            unsettled: u32::try_from(self.open.len()).unwrap_or(u32::MAX),
            settling: self.settling,
        }
    }

    /// Moves `tag` forward to `phase` (if still open; a phase never goes back).
    fn set(&mut self, tag: u64, phase: Phase) {
        if let Some(p) = self.open.get_mut(&tag)
            && *p < phase
        {
            if *p == Phase::Reserved {
                self.settling += 1;
            }
            *p = phase;
        }
    }

    fn remove(&mut self, tag: u64) {
        if let Some(p) = self.open.remove(&tag)
            && p != Phase::Reserved
        {
            self.settling = self.settling.saturating_sub(1);
        }
    }

    fn register(&mut self, tag: u64) {
        self.arrivals.arrived(tag);
        self.open.insert(tag, Phase::Reserved);
    }

    fn take_batch(&mut self, now: Instant) -> Batch {
        let unfinished = self
            .open
            .iter()
            .find(|(_, phase)| **phase != Phase::Ready)
            .map(|(tag, _)| *tag);
        // The barrier: the first delivery not finished, or the first not even registered.
        let head = match (unfinished, self.arrivals.gap()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut batch = Batch::default();
        let prefix_end = head.unwrap_or(u64::MAX);
        let prefix: Vec<u64> = self.open.range(..prefix_end).map(|(t, _)| *t).collect();
        if let Some(&last) = prefix.last() {
            batch.up_to = Some(last);
            for tag in prefix {
                self.remove(tag);
            }
        }
        match (head, self.head) {
            (Some(tag), Some((known, since))) if tag == known => {
                if now.duration_since(since) >= STRAGGLER_DELAY {
                    batch.singles = self
                        .open
                        .iter()
                        .filter(|(_, p)| **p == Phase::Ready)
                        .map(|(t, _)| *t)
                        .collect();
                    for &tag in &batch.singles {
                        self.remove(tag);
                    }
                }
            }
            (Some(tag), _) => self.head = Some((tag, now)),
            (None, _) => self.head = None,
        }
        batch
    }

    fn has_stragglers(&self) -> bool {
        self.open.values().any(|p| *p == Phase::Ready)
    }
}

impl Acks {
    pub(crate) fn new(channel: Channel, window: Arc<Window>) -> Arc<Self> {
        Arc::new(Self {
            channel,
            ledger: Mutex::new(Ledger::default()),
            wake: Notify::new(),
            window,
        })
    }

    /// Changes the ledger and tells the window, under the ledger's lock.
    fn change<T>(&self, f: impl FnOnce(&mut Ledger) -> T) -> T {
        let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        let out = f(&mut ledger);
        self.window.ledger_changed(ledger.load());
        out
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A delivery arrived (called by the consume loop, before its handler starts).
    pub(crate) fn register(&self, tag: u64) {
        self.change(|l| l.register(tag));
    }

    /// Its outcome is decided; the reply (or retry) is on its way to the broker. It no longer
    /// counts as reserved for the prefetch window.
    pub(crate) fn settling(&self, tag: u64) {
        self.change(|l| l.set(tag, Phase::Settling));
    }

    /// Its outcome is recorded: ack it with the next batch.
    pub(crate) fn ready(&self, tag: u64) {
        self.change(|l| l.set(tag, Phase::Ready));
        self.wake.notify_one();
    }

    /// It was settled individually (rejected or requeued) or abandoned with its channel.
    pub(crate) fn forget(&self, tag: u64) {
        self.change(|l| l.remove(tag));
        self.wake.notify_one();
    }

    /// Acks what can be acked now.
    pub(crate) async fn flush(&self) {
        let batch = self.change(|l| l.take_batch(Instant::now()));
        if let Some(tag) = batch.up_to {
            self.send(tag, true).await;
        }
        for tag in batch.singles {
            self.send(tag, false).await;
        }
    }

    async fn send(&self, tag: u64, multiple: bool) {
        if let Err(err) = self
            .channel
            .basic_ack(tag, BasicAckOptions { multiple })
            .await
        {
            tracing::debug!(delivery_tag = tag, cause = %err, "ack failed; the broker redelivers");
        }
    }

    /// The flusher: runs until `stop`, then flushes once more.
    pub(crate) async fn run(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let wait = if self.ledger().has_stragglers() {
                STRAGGLER_DELAY
            } else {
                Duration::from_hours(1)
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
            // Let the other ready handlers finish first: bigger batches.
            tokio::task::yield_now().await;
            self.flush().await;
        }
        self.flush().await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn ledger(entries: &[(u64, bool)]) -> Ledger {
        let mut l = Ledger::default();
        for &(tag, ready) in entries {
            l.open.insert(tag, Phase::Reserved);
            if ready {
                l.set(tag, Phase::Ready);
            }
        }
        l
    }

    #[test]
    fn acks_the_ready_prefix_with_one_multiple_ack() {
        let now = Instant::now();
        let mut l = ledger(&[(1, true), (2, true), (3, false), (4, true)]);
        assert_eq!(
            l.take_batch(now),
            Batch {
                up_to: Some(2),
                singles: vec![]
            }
        );
        assert_eq!(l.open.keys().copied().collect::<Vec<_>>(), [3, 4]);
        // nothing new: the unfinished head blocks, stragglers wait
        assert_eq!(l.take_batch(now), Batch::default());
        l.set(3, Phase::Ready);
        assert_eq!(
            l.take_batch(now),
            Batch {
                up_to: Some(4),
                singles: vec![]
            }
        );
        assert!(l.open.is_empty());
    }

    #[test]
    fn counts_settling_deliveries_until_they_are_settled() {
        let now = Instant::now();
        let mut l = ledger(&[(1, false), (2, false), (3, false), (4, false)]);
        l.set(1, Phase::Settling);
        l.set(2, Phase::Ready);
        let load = |unsettled, settling| Load {
            unsettled,
            settling,
        };
        assert_eq!(l.load(), load(4, 2));
        // settling then ready counts once, and ready never goes back
        l.set(1, Phase::Ready);
        l.set(2, Phase::Settling);
        assert_eq!(l.load(), load(4, 2));
        assert_eq!(l.open.get(&2), Some(&Phase::Ready));
        // acked: gone from both counts
        assert_eq!(l.take_batch(now).up_to, Some(2));
        assert_eq!(l.load(), load(2, 0));
        // rejected while settling, or requeued while reserved
        l.set(3, Phase::Settling);
        l.remove(3);
        l.remove(4);
        assert_eq!(l.load(), load(0, 0));
    }

    #[test]
    fn never_covers_a_tag_that_has_not_arrived() {
        // two queues: the loop sees tag 2 (queue b) before tag 1 (queue a)
        let now = Instant::now();
        let mut l = Ledger::default();
        l.register(2);
        l.set(2, Phase::Ready);
        l.register(3);
        l.set(3, Phase::Ready);
        assert_eq!(l.take_batch(now), Batch::default(), "tag 1 not seen yet");
        // a gap that lasts is treated like an unfinished head: singles after the delay
        l.register(4);
        l.set(4, Phase::Ready);
        let b = l.take_batch(now + STRAGGLER_DELAY);
        assert_eq!(b.up_to, None);
        assert_eq!(b.singles, [2, 3, 4]);
        l.register(1);
        assert_eq!(l.arrivals.through, 4);
        assert!(l.arrivals.gap().is_none());
        assert_eq!(l.take_batch(now), Batch::default(), "tag 1 is not finished");
        l.register(5);
        l.set(1, Phase::Ready);
        l.set(5, Phase::Ready);
        assert_eq!(l.take_batch(now).up_to, Some(5));
        assert!(l.open.is_empty());
    }

    #[test]
    fn never_covers_an_unfinished_delivery() {
        let now = Instant::now();
        let mut l = ledger(&[(5, false), (6, true), (7, true)]);
        let b = l.take_batch(now);
        assert_eq!(b.up_to, None);
        // after the delay, ready ones behind the head go one by one; the head stays
        let b = l.take_batch(now + STRAGGLER_DELAY);
        assert_eq!(
            b,
            Batch {
                up_to: None,
                singles: vec![6, 7]
            }
        );
        assert_eq!(l.open.keys().copied().collect::<Vec<_>>(), [5]);
    }

    #[test]
    fn a_new_head_restarts_the_delay() {
        let now = Instant::now();
        let mut l = ledger(&[(1, false), (2, false), (3, true)]);
        l.take_batch(now);
        l.set(1, Phase::Ready);
        // head moved to 2 after acking 1: the delay starts over
        assert_eq!(
            l.take_batch(now + STRAGGLER_DELAY),
            Batch {
                up_to: Some(1),
                singles: vec![]
            }
        );
        assert_eq!(l.take_batch(now + STRAGGLER_DELAY), Batch::default());
        assert_eq!(
            l.take_batch(now + STRAGGLER_DELAY * 2),
            Batch {
                up_to: None,
                singles: vec![3]
            }
        );
    }
}
