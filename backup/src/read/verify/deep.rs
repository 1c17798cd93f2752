//! The deep check: [`read_deep`] streams a copy into a blocking reader that hashes every byte,
//! opens and authenticates it (`read/open.rs`: keys, header, to the final chunk) and walks the
//! archive against its manifest; [`StreamCheck`] runs the same check on the pipeline's live
//! stream.

use std::io;

use bytes::Bytes;
use celeriac_crypto::Keyring;
use celeriac_store::{ObjectKey, Sha256Digest, Store, StoreError};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{DeepReport, READ_QUEUE, VerifyError};
use crate::config::limits::Limits;
use crate::manifest::Bundle;
use crate::read::extract::{ExtractOptions, dry_run};
use crate::read::open::{
    KeySource, OpenError, authenticate, classify, ensure_complete, named_backup, pump,
};
use crate::report::{CopyError, CopyErrorKind};
use crate::stream::chunk::ChunkReader;
use crate::stream::hashing::HashingReader;

/// A deep check running on a blocking thread over chunks sent to it: the pipeline taps the
/// encrypted stream into it while the stores receive the same chunks.
pub(crate) struct StreamCheck {
    handle: tokio::task::JoinHandle<io::Result<DeepOutcome>>,
}

impl StreamCheck {
    /// Starts the check; send the artifact's chunks into the returned channel and close it.
    pub(crate) fn start(
        keys: KeySource,
        limits: Limits,
        bundle: Bundle,
        queue: usize,
    ) -> (mpsc::Sender<Bytes>, Self) {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let handle = tokio::task::spawn_blocking(move || {
            deep_check(ChunkReader::new(rx), &keys, limits, Some(bundle), None)
        });
        (tx, Self { handle })
    }

    /// The check's verdict on the stream whose producer computed `digest` (`None`: the stream
    /// was abandoned, and so is the check).
    pub(crate) async fn verdict(
        self,
        digest: Option<Sha256Digest>,
    ) -> Result<DeepReport, CopyError> {
        let corrupt =
            |e: &(dyn std::error::Error + 'static)| CopyError::other(CopyErrorKind::Corrupt, e);
        let (outcome, sha256, _) = match self.handle.await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => return Err(corrupt(&e)),
            Err(e) => return Err(CopyError::other(CopyErrorKind::Other, &e)),
        };
        if digest != Some(sha256) {
            return Err(corrupt(&StreamMismatch));
        }
        outcome.map_err(|e| corrupt(&e))
    }
}

/// The bytes the deep check saw are not the bytes the producer hashed.
#[derive(Debug, thiserror::Error)]
#[error("the deep check saw other bytes than the producer hashed")]
struct StreamMismatch;

/// Streams `key` into a blocking deep check; returns the size and digest of everything read and
/// the check's result.
pub(crate) async fn read_deep(
    store: &dyn Store,
    key: &ObjectKey,
    keys: KeySource,
    limits: &Limits,
    bundle: Option<Bundle>,
) -> Result<(u64, Sha256Digest, Result<DeepReport, OpenError>), VerifyError> {
    let stream = store.open(key).await.map_err(VerifyError::Store)?;
    let (tx, rx) = mpsc::channel(READ_QUEUE);
    let limits = limits.clone();
    let named = named_backup(key);
    let check = tokio::task::spawn_blocking(move || {
        deep_check(ChunkReader::new(rx), &keys, limits, bundle, named)
    });
    let pumped = pump(stream, tx).await;
    let checked = check.await.map_err(|source| VerifyError::Task {
        store: store.id().clone(),
        key: key.clone(),
        source,
    })?;
    pumped.map_err(VerifyError::Store)?;
    let (outcome, sha256, size) = checked.map_err(|e| {
        VerifyError::Store(StoreError::Io {
            store: store.id().clone(),
            op: celeriac_store::Operation::Read,
            key: Some(key.clone()),
            source: e,
        })
    })?;
    Ok((size, sha256, outcome))
}

type DeepOutcome = (Result<DeepReport, OpenError>, Sha256Digest, u64);

/// Decrypts and walks the stream, then drains it so that the digest covers every byte.
fn deep_check(
    reader: ChunkReader,
    keys: &KeySource,
    limits: Limits,
    bundle: Option<Bundle>,
    named: Option<Uuid>,
) -> io::Result<DeepOutcome> {
    let mut hashing = HashingReader::new(reader);
    let outcome = walk(&mut hashing, keys.ring(), limits, bundle, named);
    let (sha256, size) = hashing.finish()?;
    Ok((outcome, sha256, size))
}

fn walk<R: io::Read>(
    reader: R,
    keyring: &Keyring,
    limits: Limits,
    bundle: Option<Bundle>,
    named: Option<Uuid>,
) -> Result<DeepReport, OpenError> {
    let mut decrypt = authenticate(reader, keyring, named)?;
    let options = ExtractOptions {
        limits,
        only: Vec::new(),
        expect_bundle: bundle,
    };
    let summary = dry_run(&mut decrypt, &options).map_err(classify)?;
    ensure_complete(&decrypt)?;
    let header = decrypt.header();
    Ok(DeepReport {
        bundle: summary.manifest.bundle(),
        archive_id: header.archive_id(),
        key_ids: header.key_ids().collect(),
        entries: summary.entries,
        files: summary.manifest.totals().files,
        file_bytes: summary.manifest.totals().bytes,
        plain_bytes: decrypt.plaintext_bytes(),
    })
}
