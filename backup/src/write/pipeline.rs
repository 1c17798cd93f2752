//! [`Pipeline::run`]: one backup run, composed of the stages of this crate.
//!
//! ```text
//! blocking thread (Producer)                                                  async side
//! collect ─► tar ─► gzip ─► HashingWriter ─► EncryptWriter ─► HashingWriter ─► ChunkSender ═╗
//!                           (plain digest)   (main or secrets key)  (stored digest)          ║ mpsc(Q)
//!                                                                                           ▼
//!                              Fanout ─► every store at once, create-only, bounded per store
//!                                     └─► tap: deep check of the stream (decrypt, gunzip, walk
//!                                         the tar against MANIFEST.json) on a blocking thread
//!                                 then ─► verify every copy (read back: size + SHA-256)
//!                                 then ─► retry failed copies from a verified one (backoff)
//!                                 then ─► BackupReport (VERIFIED / PARTIAL / FAILED)
//! ```
//!
//! The main archive streams first, then the secrets bundle (when anything is secret), each to
//! every store under keys named by [`ArtifactName`]. Cancellation is
//! cooperative: the token is checked between files on the blocking thread, and the fan-out
//! stops reading, which makes the producer's next send fail.

use std::sync::Arc;
use std::time::Duration;

use celeriac_store::{ObjectKey, Store, StoreId};
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::BackupConfig;
use crate::config::keys::BackupKeys;
use crate::config::limits::Limits;
use crate::config::naming::ArtifactName;
use crate::config::options::PipelineOptions;
use crate::config::spec::CollectSpec;
use crate::id::BackupId;
use crate::manifest::Bundle;
use crate::progress::{Progress, ProgressEvent};
use crate::read::open::{Expected, KeySource};
use crate::read::verify::StreamCheck;
use crate::report::Skip;
use crate::report::{
    ArtifactReport, ArtifactSizes, BackupReport, BackupStatus, CopyReport, StageTimings,
    StoreSummary, ratio,
};
use crate::write::copies::Settle;
use crate::write::error::BackupError;
use crate::write::fanout::{Fanout, FanoutResult};
use crate::write::produce::{ArtifactSummary, Channel, Producer};

/// One configured backup: what to collect, where to store it, under which keys. Cloning is
/// cheap (the keys and stores are shared): a worker keeps one and clones it per run to give
/// each its identity and cancellation.
#[derive(Debug, Clone)]
pub struct Pipeline {
    spec: CollectSpec,
    stores: Vec<Arc<dyn Store>>,
    keys: Arc<BackupKeys>,
    options: PipelineOptions,
    limits: Limits,
    progress: Progress,
    cancel: CancellationToken,
    identity: Option<(BackupId, DateTime<Utc>)>,
}

impl Pipeline {
    /// A pipeline with default `PipelineOptions`.
    pub fn new(spec: CollectSpec, stores: Vec<Arc<dyn Store>>, keys: BackupKeys) -> Self {
        Self {
            spec,
            stores,
            keys: Arc::new(keys),
            options: PipelineOptions::default(),
            limits: Limits::default(),
            progress: Progress::default(),
            cancel: CancellationToken::new(),
            identity: None,
        }
    }

    /// The config file's streaming, retry and verification settings (`[backup]`, `[limits]`)
    /// and its archive limits for the deep check.
    #[must_use]
    pub fn with_config(self, config: &BackupConfig) -> Self {
        self.with_options(config.pipeline.clone())
            .with_limits(config.restore_limits.clone())
    }

    test_util_pub! {
        /// Streaming, retry and verification settings.
        #[must_use]
        fn with_options(mut self, options: PipelineOptions) -> Self {
            self.options = options;
            self
        }
    }

    test_util_pub! {
        /// Archive limits for the deep check.
        #[must_use]
        fn with_limits(mut self, limits: Limits) -> Self {
            self.limits = limits;
            self
        }
    }

    /// Receives progress events: `sink` is called synchronously on pipeline threads, so keep
    /// it quick.
    #[must_use]
    pub fn with_progress(mut self, sink: Arc<dyn Fn(&ProgressEvent) + Send + Sync>) -> Self {
        self.progress = Progress::new(Some(sink));
        self
    }

    /// Cancels the run (between files; uploads are aborted) when `token` fires.
    #[must_use]
    pub fn with_cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// Fixes the run's id and start time (by default a fresh UUIDv7 and the current time), e.g.
    /// to derive them from a task id so that a redelivered task writes the same keys.
    #[must_use]
    pub fn with_identity(mut self, backup_id: BackupId, started_at: DateTime<Utc>) -> Self {
        self.identity = Some((backup_id, started_at));
        self
    }

    /// The object-key prefix of every artifact.
    pub fn prefix(&self) -> &celeriac_store::ObjectPrefix {
        &self.options.prefix
    }

    /// The keys.
    pub fn keys(&self) -> &BackupKeys {
        &self.keys
    }

    /// The stores, in order.
    pub fn stores(&self) -> &[Arc<dyn Store>] {
        &self.stores
    }

    /// Runs one backup.
    ///
    /// Store failures do not make this fail: they are recorded per copy, and the report's
    /// status says how many stores hold verified copies.
    ///
    /// # Errors
    /// [`BackupError`] when no artifact could be made: no store, collection or archive failure,
    /// cancellation.
    pub async fn run(&self) -> Result<BackupReport, BackupError> {
        self.check_stores()?;
        let (backup_id, started_at) = self.identity.unwrap_or_else(|| {
            let now = Utc::now();
            (BackupId::new_at(now), now)
        });
        let start = Instant::now();
        let name = ArtifactName::new(backup_id, started_at, Bundle::Main);
        let keys = [Bundle::Main, Bundle::Secrets]
            .map(|b| name.with_bundle(b).object_key(&self.options.prefix));
        let [main_key, secrets_key] = keys;
        let (main_key, secrets_key) = (
            main_key.map_err(|e| BackupError::Name(e.into()))?,
            secrets_key.map_err(|e| BackupError::Name(e.into()))?,
        );
        let queue = self.options.queue_chunks.max(1);
        let (main_tx, main_rx) = mpsc::channel(queue);
        let (main_digest_tx, main_digest) = oneshot::channel();
        let (secrets_tx, secrets_rx) = mpsc::channel(queue);
        let (secrets_digest_tx, secrets_digest) = oneshot::channel();
        let (collected_tx, collected) = oneshot::channel();
        let producer = Producer {
            spec: self.spec.clone(),
            keys: Arc::clone(&self.keys),
            options: self.options.clone(),
            backup_id,
            created_unix: u64::try_from(started_at.timestamp()).unwrap_or(0),
            cancel: self.cancel.clone(),
            progress: self.progress.clone(),
        };
        let main = Channel {
            tx: main_tx,
            digest: main_digest_tx,
        };
        let secrets = Channel {
            tx: secrets_tx,
            digest: secrets_digest_tx,
        };
        let handle = tokio::task::spawn_blocking(move || producer.run(collected_tx, main, secrets));
        let Ok(collection) = collected.await else {
            return Err(producer_failure(handle, &self.cancel).await);
        };
        let mut timings = StageTimings {
            collect_ms: start.elapsed(),
            ..StageTimings::default()
        };
        let (main, elapsed) = self
            .stream(Bundle::Main, &main_key, main_rx, main_digest)
            .await;
        timings.stream_main_ms = elapsed;
        if main.fanned.digest.is_none() {
            return Err(producer_failure(handle, &self.cancel).await);
        }
        let mut streams = vec![main];
        if collection.secrets_entries > 0 {
            let (secrets, elapsed) = self
                .stream(Bundle::Secrets, &secrets_key, secrets_rx, secrets_digest)
                .await;
            timings.stream_secrets_ms = elapsed;
            if secrets.fanned.digest.is_none() {
                return Err(producer_failure(handle, &self.cancel).await);
            }
            streams.push(secrets);
        } else {
            drop(secrets_rx);
        }
        let summaries = match handle.await {
            Ok(result) => result?,
            Err(source) => return Err(BackupError::Task(source)),
        };
        let mut artifacts = Vec::with_capacity(streams.len());
        for (summary, stream) in summaries.into_iter().zip(streams) {
            let (copies, times) = self.settle(&summary, stream).await;
            timings.verify_ms += times.verify;
            timings.retry_ms += times.retry;
            artifacts.push(artifact_report(&summary, &name, copies));
        }
        timings.total_ms = start.elapsed();
        let stores = store_summaries(&self.stores, &artifacts);
        let complete = stores.iter().filter(|s| s.complete).count();
        Ok(BackupReport {
            backup_id,
            status: BackupStatus::from_counts(complete, self.stores.len())
                .with_missing_secrets(collection.skipped.iter().any(Skip::is_missing_secret)),
            started_at,
            collection,
            artifacts,
            stores,
            timings,
        })
    }

    fn check_stores(&self) -> Result<(), BackupError> {
        if self.stores.is_empty() {
            return Err(BackupError::NoStores);
        }
        for (i, store) in self.stores.iter().enumerate() {
            if self.stores[..i].iter().any(|s| s.id() == store.id()) {
                return Err(BackupError::DuplicateStore {
                    store: store.id().clone(),
                });
            }
        }
        Ok(())
    }

    /// Fans one artifact out to every store and, when deep verification is on, to a deep check
    /// of the stream running alongside.
    async fn stream(
        &self,
        bundle: Bundle,
        key: &ObjectKey,
        input: mpsc::Receiver<bytes::Bytes>,
        digest: oneshot::Receiver<celeriac_store::Sha256Digest>,
    ) -> (Streamed, Duration) {
        let start = Instant::now();
        let mut fanout = self
            .stores
            .iter()
            .fold(Fanout::new(self.options.queue_chunks), |f, s| {
                f.target(Arc::clone(s), key.clone())
            })
            .cancel_token(self.cancel.clone())
            .progress(self.progress.clone(), bundle);
        let mut check = None;
        if self.options.deep_verify {
            let keys = KeySource::Backup(Arc::clone(&self.keys));
            let (tap, started) =
                StreamCheck::start(keys, self.limits.clone(), bundle, self.options.queue_chunks);
            fanout = fanout.tap(tap);
            check = Some(started);
        }
        let fanned = fanout.run(input, digest).await;
        let deep = match check {
            Some(check) => Some(check.verdict(fanned.digest).await.map(|_| ())),
            None => None,
        };
        (Streamed { fanned, deep }, start.elapsed())
    }

    async fn settle(
        &self,
        summary: &ArtifactSummary,
        stream: Streamed,
    ) -> (Vec<CopyReport>, crate::write::copies::SettleTimes) {
        let settle = Settle {
            bundle: summary.bundle,
            expected: Expected {
                size: Some(summary.stored_bytes),
                sha256: summary.stored_sha256,
            },
            deep: stream.deep,
            retry: &self.options.retry,
            progress: &self.progress,
        };
        settle.run(stream.fanned.outcomes).await
    }
}

/// One artifact's fan-out and the deep check of its stream.
struct Streamed {
    fanned: FanoutResult,
    deep: Option<Result<(), crate::report::CopyError>>,
}

/// The producer's own error after it stopped early.
async fn producer_failure(
    handle: tokio::task::JoinHandle<Result<Vec<ArtifactSummary>, BackupError>>,
    cancel: &CancellationToken,
) -> BackupError {
    match handle.await {
        Ok(Err(e)) => e,
        Ok(Ok(_)) | Err(_) if cancel.is_cancelled() => BackupError::Cancelled,
        Err(source) => BackupError::Task(source),
        // The producer finished but a fan-out lost its digest: only cancellation does that.
        Ok(Ok(_)) => BackupError::Cancelled,
    }
}

fn artifact_report(
    s: &ArtifactSummary,
    name: &ArtifactName,
    copies: Vec<CopyReport>,
) -> ArtifactReport {
    let main = s.bundle == Bundle::Main;
    ArtifactReport {
        bundle: s.bundle,
        file_name: name.with_bundle(s.bundle).file_name(),
        entries: s.archive.entries,
        files: s.archive.files,
        sizes: ArtifactSizes {
            file_bytes: s.archive.file_bytes,
            tar_bytes: s.archive.tar_bytes,
            gz_bytes: s.archive.gzip.out_bytes,
            stored_bytes: s.stored_bytes,
        },
        compression_ratio: ratio(s.archive.tar_bytes, s.archive.gzip.out_bytes),
        sha256: s.stored_sha256,
        plain_sha256: main.then_some(s.plain_sha256),
        manifest_sha256: main.then_some(s.archive.manifest_sha256),
        key_ids: s.encrypt.key_ids.clone(),
        copies,
    }
}

fn store_summaries(stores: &[Arc<dyn Store>], artifacts: &[ArtifactReport]) -> Vec<StoreSummary> {
    stores
        .iter()
        .map(|store| {
            let id: &StoreId = store.id();
            let complete = artifacts.iter().all(|a| {
                a.copies
                    .iter()
                    .any(|c| &c.store == id && c.state.is_verified())
            });
            StoreSummary {
                store: id.clone(),
                kind: store.kind(),
                complete,
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use celeriac_crypto::{Key, Keyring};
    use celeriac_store::{LocalStore, ObjectKey};

    use super::*;
    use crate::config::spec::{RawCollectConfig, RawRoot};
    use crate::read::restore::{RestoreOptions, restore};
    use crate::read::verify::verify_artifact;

    fn assert_send<T: Send>(_: &T) {}

    /// The worker runs these on its multi-threaded runtime: their futures must be `Send`.
    #[test]
    fn entry_point_futures_are_send() {
        let dir = tempfile::tempdir().unwrap();
        let spec = CollectSpec::from_raw(&RawCollectConfig {
            roots: vec![RawRoot::new(dir.path())],
            ..RawCollectConfig::default()
        })
        .unwrap();
        let store: Arc<dyn Store> =
            Arc::new(LocalStore::new(StoreId::new("a").unwrap(), dir.path()));
        let pipeline = Pipeline::new(
            spec,
            vec![Arc::clone(&store)],
            BackupKeys::new(Key::generate().unwrap()),
        );
        assert_send(&pipeline.run());
        let key = ObjectKey::new("x.tar.gz.enc").unwrap();
        assert_send(&verify_artifact(store.as_ref(), &key, None, None));
        let options = RestoreOptions::extract_to(dir.path().join("t"));
        assert_send(&restore(&[], Arc::new(Keyring::new()), &options));
    }
}
