//! The fan-out's memory bound, shown with a store whose writes are held at a gate (no clocks:
//! paused tokio time only lets every task run until it blocks). With queue capacity `Q`, a
//! stalled store lets the producer hand over exactly `Q` (input channel) + 1 (in the
//! distributor's hands) + `Q` (the store's channel) + 1 (inside the store's `put`) chunks, and
//! not one more however long it waits: the bound of `fanout.rs`, whatever the artifact's size.
//! Also: a failing store does not stop the others, and cancellation aborts every upload.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use async_trait::async_trait;
use bytes::Bytes;
use celeriac_backup::internals::Fanout;
use celeriac_store::conformance::read_all;
use celeriac_store::{
    ByteStream, MemoryStore, ObjectInfo, ObjectKey, ObjectPrefix, Sha256Digest, Store, StoreError,
    StoreId, StoreKind, StoredObject, Upload, UploadSink,
};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// A memory store whose uploads take one permit of `gate` per `put`, and fail on the put
/// number `fail_at` (counting from 1) if set.
#[derive(Debug)]
struct GatedStore {
    inner: MemoryStore,
    gate: Arc<Semaphore>,
    fail_at: Option<usize>,
}

impl GatedStore {
    fn new(id: &str, permits: usize) -> Result<Arc<Self>> {
        Ok(Arc::new(Self {
            inner: MemoryStore::new(StoreId::new(id)?),
            gate: Arc::new(Semaphore::new(permits)),
            fail_at: None,
        }))
    }
}

struct GatedSink {
    inner: Upload,
    gate: Arc<Semaphore>,
    puts: usize,
    fail_at: Option<usize>,
}

#[async_trait]
impl UploadSink for GatedSink {
    async fn put(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        self.puts += 1;
        if self.fail_at == Some(self.puts) {
            return Err(StoreError::Unavailable {
                store: self.inner.store().clone(),
                op: celeriac_store::Operation::Write,
                key: Some(self.inner.key().clone()),
                source: "injected connection reset".into(),
            });
        }
        let permit = self
            .gate
            .acquire()
            .await
            .map_err(|e| StoreError::Unavailable {
                store: self.inner.store().clone(),
                op: celeriac_store::Operation::Write,
                key: None,
                source: Box::new(e),
            })?;
        permit.forget();
        self.inner.put(chunk).await
    }

    async fn finish(
        self: Box<Self>,
        _size: u64,
        sha256: Sha256Digest,
    ) -> Result<StoredObject, StoreError> {
        self.inner.finish(sha256).await
    }

    async fn abort(self: Box<Self>) -> Result<(), StoreError> {
        self.inner.abort().await
    }
}

#[async_trait]
impl Store for GatedStore {
    fn id(&self) -> &StoreId {
        self.inner.id()
    }
    fn kind(&self) -> StoreKind {
        self.inner.kind()
    }
    async fn begin(&self, key: &ObjectKey) -> Result<Upload, StoreError> {
        let sink = GatedSink {
            inner: self.inner.begin(key).await?,
            gate: Arc::clone(&self.gate),
            puts: 0,
            fail_at: self.fail_at,
        };
        Ok(Upload::new(self.id().clone(), key.clone(), Box::new(sink)))
    }
    async fn put_small(&self, key: &ObjectKey, data: Bytes) -> Result<StoredObject, StoreError> {
        self.inner.put_small(key, data).await
    }
    async fn open(&self, key: &ObjectKey) -> Result<ByteStream, StoreError> {
        self.inner.open(key).await
    }
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError> {
        self.inner.head(key).await
    }
    async fn list(&self, prefix: &ObjectPrefix) -> Result<Vec<ObjectInfo>, StoreError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &ObjectKey) -> Result<bool, StoreError> {
        self.inner.delete(key).await
    }
    async fn read_sidecar(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        self.inner.read_sidecar(key).await
    }
}

/// Lets every other task run until it blocks (the paused clock only advances when all are idle).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(10)).await;
}

fn chunk(i: usize) -> Bytes {
    Bytes::from(vec![u8::try_from(i % 251).unwrap_or(0); 1000])
}

fn key() -> Result<ObjectKey> {
    Ok(ObjectKey::new("t/artifact.tar.gz.enc")?)
}

#[tokio::test(start_paused = true)]
async fn a_stalled_store_bounds_what_the_producer_can_hand_over() -> Result<()> {
    const Q: usize = 2;
    const TOTAL: usize = 40;
    let slow = GatedStore::new("slow", 0)?;
    let fast = GatedStore::new("fast", 1_000)?;
    let (tx, rx) = mpsc::channel(Q);
    let (digest_tx, digest_rx) = oneshot::channel();
    let fanout = Fanout::new(Q)
        .target(Arc::clone(&slow) as Arc<dyn Store>, key()?)
        .target(Arc::clone(&fast) as Arc<dyn Store>, key()?);
    let run = tokio::spawn(fanout.run(rx, digest_rx));

    let mut sent = 0;
    loop {
        settle().await;
        match tx.try_send(chunk(sent)) {
            Ok(()) => sent += 1,
            Err(TrySendError::Full(_)) => break,
            Err(TrySendError::Closed(_)) => anyhow::bail!("fan-out stopped reading"),
        }
        ensure!(sent <= TOTAL, "no backpressure");
    }
    for _ in 0..5 {
        settle().await;
        ensure!(
            matches!(tx.try_send(chunk(sent)), Err(TrySendError::Full(_))),
            "stall must hold"
        );
    }
    ensure!(
        sent == Q + 1 + Q + 1,
        "the producer handed over {sent} chunks"
    );
    // The fast store got what the distributor handed out before it stalled on the slow one.
    ensure!(1_000 - fast.gate.available_permits() == Q + 1);

    slow.gate.add_permits(1_000);
    let mut all = Vec::new();
    for i in 0..TOTAL {
        all.extend_from_slice(&chunk(i));
        if i >= sent {
            tx.send(chunk(i)).await?;
        }
    }
    drop(tx);
    let digest = Sha256Digest::of(&all);
    digest_tx
        .send(digest)
        .ok()
        .context("fan-out waits for the digest")?;
    let result = run.await?;
    ensure!(result.digest == Some(digest));
    for outcome in result.outcomes {
        let stored = outcome.result?.context("published")?;
        ensure!(stored.sha256 == digest && stored.size == all.len() as u64);
        ensure!(read_all(outcome.store.as_ref(), &outcome.key).await == all);
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_failing_store_is_dropped_and_the_others_finish() -> Result<()> {
    let failing = Arc::new(GatedStore {
        fail_at: Some(3),
        ..Arc::into_inner(GatedStore::new("failing", 1_000)?).context("sole owner")?
    });
    let ok = GatedStore::new("ok", 1_000)?;
    let (tx, rx) = mpsc::channel(2);
    let (digest_tx, digest_rx) = oneshot::channel();
    let fanout = Fanout::new(2)
        .target(Arc::clone(&failing) as Arc<dyn Store>, key()?)
        .target(Arc::clone(&ok) as Arc<dyn Store>, key()?);
    let run = tokio::spawn(fanout.run(rx, digest_rx));
    let mut all = Vec::new();
    for i in 0..20 {
        all.extend_from_slice(&chunk(i));
        tx.send(chunk(i)).await?;
    }
    drop(tx);
    digest_tx
        .send(Sha256Digest::of(&all))
        .ok()
        .context("digest")?;
    let result = run.await?;
    let failed = &result.outcomes[0];
    ensure!(
        matches!(&failed.result, Err(e) if e.is_transient()),
        "{:?}",
        failed.result
    );
    ensure!(
        failing.head(&key()?).await?.is_none(),
        "the failed upload was aborted"
    );
    ensure!(
        result.outcomes[1]
            .result
            .as_ref()
            .is_ok_and(Option::is_some)
    );
    ensure!(read_all(ok.as_ref(), &key()?).await == all);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn cancellation_aborts_every_upload() -> Result<()> {
    let stalled = GatedStore::new("stalled", 1)?;
    let idle = GatedStore::new("idle", 1_000)?;
    let cancel = CancellationToken::new();
    let (tx, rx) = mpsc::channel(2);
    let (_digest_tx, digest_rx) = oneshot::channel();
    let fanout = Fanout::new(2)
        .target(Arc::clone(&stalled) as Arc<dyn Store>, key()?)
        .target(Arc::clone(&idle) as Arc<dyn Store>, key()?)
        .cancel_token(cancel.clone());
    let run = tokio::spawn(fanout.run(rx, digest_rx));
    tx.send(chunk(0)).await?;
    tx.send(chunk(1)).await?;
    settle().await;
    cancel.cancel();
    stalled.gate.add_permits(10); // let the stalled put return so its task sees the end
    let result = run.await?;
    ensure!(result.digest.is_none());
    for outcome in &result.outcomes {
        ensure!(matches!(outcome.result, Ok(None)), "{:?}", outcome.result);
        ensure!(outcome.store.head(&key()?).await?.is_none());
    }
    ensure!(
        tx.send(chunk(2)).await.is_err(),
        "the producer is told to stop"
    );
    Ok(())
}
