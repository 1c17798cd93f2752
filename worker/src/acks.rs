//! Coalesced acknowledgements for one consuming channel. A handler whose outcome is recorded
//! marks its delivery ready; a flusher acks the longest run of ready deliveries with a single
//! `basic.ack(multiple = true)`. Acks cost the broker and the client more than anything else per
//! task, so this is where most of the throughput comes from.
//!
//! Invariant (acks_late): a `multiple` ack for tag T is only sent when every delivery this
//! channel handed out with a tag ≤ T is either already settled or marked ready, i.e. its outcome
//! was recorded. Deliveries are registered in tag order by the consume loop before their handler
//! runs, and removed only once settled, so "every registered tag ≤ T is ready" is exactly that.
//! Ready deliveries stuck behind a long-running one are acked individually after a short delay.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lapin::Channel;
use lapin::options::BasicAckOptions;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long ready deliveries may wait behind an unfinished one before being acked one by one.
const STRAGGLER_DELAY: Duration = Duration::from_millis(20);

/// The ack ledger of one consuming channel.
pub(crate) struct Acks {
    channel: Channel,
    ledger: Mutex<Ledger>,
    wake: Notify,
}

#[derive(Default)]
struct Ledger {
    /// Unsettled deliveries by tag: `true` once their outcome is recorded (ack wanted).
    open: BTreeMap<u64, bool>,
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
    fn take_batch(&mut self, now: Instant) -> Batch {
        let head = self
            .open
            .iter()
            .find(|(_, ready)| !**ready)
            .map(|(tag, _)| *tag);
        let mut batch = Batch::default();
        let prefix_end = head.unwrap_or(u64::MAX);
        let prefix: Vec<u64> = self.open.range(..prefix_end).map(|(t, _)| *t).collect();
        if let Some(&last) = prefix.last() {
            batch.up_to = Some(last);
            for tag in prefix {
                self.open.remove(&tag);
            }
        }
        match (head, self.head) {
            (Some(tag), Some((known, since))) if tag == known => {
                if now.duration_since(since) >= STRAGGLER_DELAY {
                    batch.singles = self
                        .open
                        .iter()
                        .filter(|(_, r)| **r)
                        .map(|(t, _)| *t)
                        .collect();
                    for tag in &batch.singles {
                        self.open.remove(tag);
                    }
                }
            }
            (Some(tag), _) => self.head = Some((tag, now)),
            (None, _) => self.head = None,
        }
        batch
    }

    fn has_stragglers(&self) -> bool {
        self.open.values().any(|ready| *ready)
    }
}

impl Acks {
    pub(crate) fn new(channel: Channel) -> Arc<Self> {
        Arc::new(Self {
            channel,
            ledger: Mutex::new(Ledger::default()),
            wake: Notify::new(),
        })
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A delivery arrived (called by the consume loop, in tag order).
    pub(crate) fn register(&self, tag: u64) {
        self.ledger().open.insert(tag, false);
    }

    /// Its outcome is recorded: ack it with the next batch.
    pub(crate) fn ready(&self, tag: u64) {
        if let Some(ready) = self.ledger().open.get_mut(&tag) {
            *ready = true;
        }
        self.wake.notify_one();
    }

    /// It was settled individually (rejected or requeued) or abandoned with its channel.
    pub(crate) fn forget(&self, tag: u64) {
        self.ledger().open.remove(&tag);
        self.wake.notify_one();
    }

    /// Acks what can be acked now.
    pub(crate) async fn flush(&self) {
        let batch = self.ledger().take_batch(Instant::now());
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
        Ledger {
            open: entries.iter().copied().collect(),
            head: None,
        }
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
        l.open.insert(3, true);
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
        l.open.insert(1, true);
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
