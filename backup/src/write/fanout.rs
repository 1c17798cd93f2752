//! [`Fanout`]: one encrypted stream written to every store at once.
//!
//! ```text
//!                           ┌─ mpsc(Q) ─► task: begin ─► put … put ─► finish(sha256) ─► store A
//!  input mpsc(Q) ─► distributor ─ mpsc(Q) ─► task: begin ─► put … put ─► finish(sha256) ─► store B
//!                           └─ mpsc(Q) ─► task: …                                     ─► store C
//! ```
//!
//! The distributor hands each chunk (a cheap `Bytes` clone, one allocation shared by all) to
//! every live store's bounded channel in turn, awaiting each send: the slowest store sets the
//! pace and nothing piles up. A store whose upload fails drops its channel and aborts its upload;
//! the distributor notices at its next send and carries on with the others. When the input
//! ends, the final SHA-256 (from the producer) goes to every live store as the last message and
//! each publishes create-only; if the producer failed instead, every upload is aborted.
//!
//! # Peak memory
//!
//! With chunk size `c`, queue capacity `Q` (input and per consumer alike) and `N` consumers
//! (stores plus taps, such as the pipeline's deep check), at most `Q` chunks wait in the input
//! channel, one is in the distributor's hands, and each consumer holds at most `Q` queued chunks
//! plus the one it is working on:
//!
//! ```text
//!     chunks alive ≤ Q + 1 + N × (Q + 1)        bytes ≤ c × (Q + 1) × (N + 1)
//! ```
//!
//! (the architecture's `(cap + 1) × chunk × (1 + N)`). Queued chunks are shared between stores,
//! so the usual figure is lower. Stores buffer on their own on top of this: a local store keeps
//! up to 3 chunks for its writer thread, an S3 store up to `max(T, (K + 1) × P) + 2c` (see
//! `celeriac_store`). With the defaults (`c` = 1 MiB, `Q` = 2, three stores and the deep-check
//! tap) the pipeline's own share is at most 15 MiB. `tests/it/fanout.rs` checks the queue bound
//! with a stalled store.

use std::sync::Arc;

use bytes::Bytes;
use celeriac_store::{ObjectKey, Operation, Sha256Digest, Store, StoreError, StoredObject, Upload};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::manifest::Bundle;
use crate::progress::{Progress, ProgressEvent};

/// What a store's upload task receives.
#[derive(Debug)]
enum Piece {
    /// The next bytes.
    Chunk(Bytes),
    /// The stream is complete: publish with this digest.
    End(Sha256Digest),
}

/// How one store's streamed upload ended.
#[derive(Debug)]
pub struct StreamOutcome {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The key written.
    pub key: ObjectKey,
    /// The published object; `Ok(None)` when the stream was abandoned (the producer failed or
    /// the run was cancelled) and the upload aborted.
    pub result: Result<Option<StoredObject>, StoreError>,
}

/// The end of a fan-out.
#[derive(Debug)]
pub struct FanoutResult {
    /// One outcome per target, in target order.
    pub outcomes: Vec<StreamOutcome>,
    /// The digest the uploads were finished with; `None` when the stream was abandoned.
    pub digest: Option<Sha256Digest>,
}

/// Writes one stream to several stores; see the module docs.
#[derive(Debug)]
pub struct Fanout {
    targets: Vec<(Arc<dyn Store>, ObjectKey)>,
    taps: Vec<mpsc::Sender<Bytes>>,
    queue: usize,
    cancel: CancellationToken,
    progress: Progress,
    bundle: Bundle,
}

impl Fanout {
    /// A fan-out whose per-store channels hold `queue` chunks (at least 1).
    pub fn new(queue: usize) -> Self {
        Self {
            targets: Vec::new(),
            taps: Vec::new(),
            queue: queue.max(1),
            cancel: CancellationToken::new(),
            progress: Progress::default(),
            bundle: Bundle::Main,
        }
    }

    /// Adds a store and the key to write there.
    #[must_use]
    pub fn target(mut self, store: Arc<dyn Store>, key: ObjectKey) -> Self {
        self.targets.push((store, key));
        self
    }

    /// Also hands every chunk to `tap` (a bounded channel read by some other consumer, e.g. the
    /// pipeline's deep check of the stream). A tap paces the stream like a store; one that goes
    /// away is dropped. The channel closes when the input ends.
    #[must_use]
    pub fn tap(mut self, tap: mpsc::Sender<Bytes>) -> Self {
        self.taps.push(tap);
        self
    }

    /// Stops reading input and aborts every upload when `cancel` fires.
    #[must_use]
    pub fn cancel_token(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Reports `CopyStored` / `CopyFailed` events for `bundle`.
    #[must_use]
    pub(crate) fn progress(mut self, progress: Progress, bundle: Bundle) -> Self {
        self.progress = progress;
        self.bundle = bundle;
        self
    }

    /// Streams `input` to every target. When `input` closes, awaits `digest`: `Ok` publishes
    /// every live upload with it, an error (sender dropped: the producer failed) aborts them.
    pub async fn run(
        self,
        mut input: mpsc::Receiver<Bytes>,
        digest: oneshot::Receiver<Sha256Digest>,
    ) -> FanoutResult {
        let mut taps: Vec<Option<mpsc::Sender<Bytes>>> = self.taps.into_iter().map(Some).collect();
        let mut senders = Vec::with_capacity(self.targets.len());
        let mut tasks = Vec::with_capacity(self.targets.len());
        for (store, key) in &self.targets {
            let (tx, rx) = mpsc::channel(self.queue);
            senders.push(Some(tx));
            tasks.push(tokio::spawn(upload(Arc::clone(store), key.clone(), rx)));
        }
        loop {
            let chunk = tokio::select! {
                biased;
                () = self.cancel.cancelled() => None,
                chunk = input.recv() => chunk,
            };
            let Some(chunk) = chunk else { break };
            for slot in &mut senders {
                let live = match slot {
                    Some(tx) => tx.send(Piece::Chunk(chunk.clone())).await.is_ok(),
                    None => continue,
                };
                if !live {
                    *slot = None;
                }
            }
            for slot in &mut taps {
                if let Some(tx) = slot
                    && tx.send(chunk.clone()).await.is_err()
                {
                    *slot = None;
                }
            }
            // With every store gone the chunks are still drained, so that the producer finishes
            // and the report has the artifact's facts.
        }
        drop(input);
        drop(taps);
        let digest = if self.cancel.is_cancelled() {
            None
        } else {
            digest.await.ok()
        };
        if let Some(digest) = digest {
            for tx in senders.iter().flatten() {
                // A store that failed just now is reported by its task.
                let _ = tx.send(Piece::End(digest)).await;
            }
        }
        drop(senders);
        let mut outcomes = Vec::with_capacity(tasks.len());
        for ((store, key), task) in self.targets.into_iter().zip(tasks) {
            let result = match task.await {
                Ok(result) => result,
                Err(e) => Err(StoreError::Task {
                    store: store.id().clone(),
                    op: Operation::Write,
                    source: e,
                }),
            };
            match &result {
                Ok(Some(_)) => self.progress.emit(ProgressEvent::CopyStored {
                    bundle: self.bundle,
                    store: store.id().clone(),
                }),
                Err(e) => self.progress.emit(ProgressEvent::CopyFailed {
                    bundle: self.bundle,
                    store: store.id().clone(),
                    transient: e.is_transient(),
                }),
                Ok(None) => {}
            }
            outcomes.push(StreamOutcome { store, key, result });
        }
        FanoutResult { outcomes, digest }
    }
}

/// One store's task: begin, put every chunk, finish with the digest or abort.
async fn upload(
    store: Arc<dyn Store>,
    key: ObjectKey,
    mut rx: mpsc::Receiver<Piece>,
) -> Result<Option<StoredObject>, StoreError> {
    let mut upload = store.begin(&key).await?;
    while let Some(piece) = rx.recv().await {
        match piece {
            Piece::Chunk(chunk) => {
                if let Err(e) = upload.put(chunk).await {
                    // Close the channel first so the distributor stops waiting on this store.
                    drop(rx);
                    abort(upload).await;
                    return Err(e);
                }
            }
            Piece::End(digest) => {
                drop(rx);
                return upload.finish(digest).await.map(Some);
            }
        }
    }
    abort(upload).await;
    Ok(None)
}

async fn abort(upload: Upload) {
    let (store, key) = (upload.store().clone(), upload.key().clone());
    if let Err(e) = upload.abort().await {
        tracing::warn!(%store, %key, error = %celeriac_error_chain::error_chain(&e), "aborting an upload failed");
    }
}
