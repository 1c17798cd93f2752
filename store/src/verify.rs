//! Reading a copy back: [`read_back`] streams an object and hashes it on a blocking thread;
//! [`verify_copy`] compares the result with what the upload recorded.
//!
//! The stream feeds the hasher through a bounded channel of [`HASH_QUEUE`] chunks, so memory
//! stays at a few read buffers whatever the object's size.

use bytes::Bytes;
use futures::StreamExt as _;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use crate::digest::Sha256Digest;
use crate::error::{Operation, StoreError};
use crate::key::ObjectKey;
use crate::store::{Store, StoredObject};

/// Chunks queued between the reading task and the hashing thread.
const HASH_QUEUE: usize = 4;

/// Size and SHA-256 of an object as read back from a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadBack {
    /// Bytes read.
    pub size: u64,
    /// SHA-256 of the bytes read.
    pub sha256: Sha256Digest,
}

/// Streams `key` from `store` and hashes it (on a blocking thread).
pub async fn read_back(store: &dyn Store, key: &ObjectKey) -> Result<ReadBack, StoreError> {
    let mut stream = store.open(key).await?;
    let (tx, mut rx) = mpsc::channel::<Bytes>(HASH_QUEUE);
    let hasher = tokio::task::spawn_blocking(move || {
        let mut hasher = Sha256::new();
        let mut size = 0_u64;
        while let Some(chunk) = rx.blocking_recv() {
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        ReadBack {
            size,
            sha256: Sha256Digest::from_bytes(hasher.finalize().into()),
        }
    });
    let mut failure = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let result = hasher
        .await
        .map_err(|e| StoreError::task(store.id(), Operation::Read, e))?;
    match failure {
        Some(e) => Err(e),
        None => Ok(result),
    }
}

/// Reads `expected.key` back from `store` and checks its size and SHA-256 against what the
/// upload returned. A flipped byte gives [`StoreError::ChecksumMismatch`], a truncated or
/// extended copy [`StoreError::SizeMismatch`].
pub async fn verify_copy(
    store: &dyn Store,
    expected: &StoredObject,
) -> Result<ReadBack, StoreError> {
    let got = read_back(store, &expected.key).await?;
    if got.size != expected.size {
        return Err(StoreError::SizeMismatch {
            store: store.id().clone(),
            key: expected.key.clone(),
            expected: expected.size,
            actual: got.size,
        });
    }
    if got.sha256 != expected.sha256 {
        return Err(StoreError::ChecksumMismatch {
            store: store.id().clone(),
            key: expected.key.clone(),
            expected: expected.sha256,
            actual: got.sha256,
        });
    }
    Ok(got)
}
