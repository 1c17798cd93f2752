//! The deep check's machinery, shared with restore: [`read_deep`] streams a copy into a
//! blocking reader that hashes every byte, decrypts (authenticated to the final chunk) and walks
//! the archive against its manifest; [`pump`] feeds a store stream into a bounded channel.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use celeriac_crypto::{CryptoError, DecryptReader, Keyring};
use celeriac_store::{ByteStream, ObjectKey, Sha256Digest, Store, StoreError};
use futures::StreamExt as _;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{DeepReport, READ_QUEUE, VerifyError};
use crate::config::keys::BackupKeys;
use crate::config::limits::Limits;
use crate::config::naming::ArtifactName;
use crate::manifest::Bundle;
use crate::read::extract::{ExtractError, ExtractOptions, dry_run};
use crate::report::{CopyError, CopyErrorKind};
use crate::stream::chunk::ChunkReader;
use crate::stream::hashing::HashingReader;

/// The keys a blocking reader uses.
#[derive(Clone)]
pub(crate) enum KeySource {
    /// A caller's keyring.
    Ring(Arc<Keyring>),
    /// The pipeline's own keys.
    Backup(Arc<BackupKeys>),
}

impl KeySource {
    pub(crate) fn ring(&self) -> &Keyring {
        match self {
            Self::Ring(ring) => ring,
            Self::Backup(keys) => keys.keyring(),
        }
    }
}

/// A deep check's own failure, before it is tied to a store and key.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeepError {
    /// The artifact does not decrypt (or not to the end).
    #[error("the artifact does not decrypt")]
    Decrypt(#[source] CryptoError),
    /// The decrypted archive is invalid.
    #[error("the archive is invalid")]
    Archive(#[source] ExtractError),
    /// The header names another backup than the artifact's name.
    #[error("the artifact is named for backup {named} but its header says backup {found}")]
    WrongBackup {
        /// From the name.
        named: Uuid,
        /// From the authenticated header.
        found: Uuid,
    },
}

/// The backup id an artifact's object key carries, when it is named as celeriac names them.
pub(crate) fn named_backup(key: &ObjectKey) -> Option<Uuid> {
    ArtifactName::from_key(key)
        .ok()
        .map(|name| *name.backup_id.as_uuid())
}

/// Refuses a header whose backup id differs from the one the name carries.
pub(crate) fn check_backup(named: Option<Uuid>, header_id: Uuid) -> Result<(), DeepError> {
    match named {
        Some(named) if named != header_id => Err(DeepError::WrongBackup {
            named,
            found: header_id,
        }),
        _ => Ok(()),
    }
}

impl DeepError {
    pub(crate) fn into_verify(self, store: &dyn Store, key: &ObjectKey) -> VerifyError {
        let (store, key) = (store.id().clone(), key.clone());
        match self {
            Self::Decrypt(source) => VerifyError::Decrypt { store, key, source },
            Self::Archive(source) => VerifyError::Archive { store, key, source },
            Self::WrongBackup { named, found } => VerifyError::WrongBackup {
                store,
                key,
                named,
                found,
            },
        }
    }
}

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
) -> Result<(u64, Sha256Digest, Result<DeepReport, DeepError>), VerifyError> {
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

/// Feeds a store stream into a channel until it ends, the receiver goes, or a read fails.
pub(crate) async fn pump(
    mut stream: ByteStream,
    tx: mpsc::Sender<Bytes>,
) -> Result<(), StoreError> {
    while let Some(chunk) = stream.next().await {
        if tx.send(chunk?).await.is_err() {
            break;
        }
    }
    Ok(())
}

type DeepOutcome = (Result<DeepReport, DeepError>, Sha256Digest, u64);

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
) -> Result<DeepReport, DeepError> {
    let mut decrypt = DecryptReader::new(reader, keyring).map_err(DeepError::Decrypt)?;
    check_backup(named, decrypt.header().archive_id())?;
    let options = ExtractOptions {
        limits,
        only: Vec::new(),
        expect_bundle: bundle,
    };
    let summary = dry_run(&mut decrypt, &options).map_err(classify)?;
    if !decrypt.is_complete() {
        return Err(DeepError::Decrypt(CryptoError::Truncated {
            chunks: decrypt.chunks_read(),
        }));
    }
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

/// A decryption failure surfaces as the extractor's `Source` error; give it back its name.
pub(crate) fn classify(e: ExtractError) -> DeepError {
    match e {
        ExtractError::Source { source } if CryptoError::from_io(&source).is_some() => {
            DeepError::Decrypt(CryptoError::from(source))
        }
        e => DeepError::Archive(e),
    }
}
