//! The [`Store`] trait, the streaming [`Upload`] handle and the facts a store returns
//! ([`StoredObject`], [`ObjectInfo`]).
//!
//! The contract every implementation meets (the conformance suite checks it):
//! - **Create-only.** [`Upload::finish`] and [`Store::put_small`] on a key that already exists
//!   fail with [`StoreError::AlreadyExists`] and leave the existing object untouched.
//!   [`Store::begin`] checks early too, so a doomed upload fails before it streams gigabytes;
//!   `finish` is the authoritative check. It is atomic everywhere (hard link, `If-None-Match`
//!   PUT, map insert) except for S3 multipart uploads: object_store cannot send a conditional
//!   completion, so the S3 store HEADs the key right before completing, leaving a window of
//!   one request in which a concurrent writer of the *same* key could win. Backup keys are
//!   unique per run, so the guard is against retries and mistakes, not a race.
//! - **Atomic visibility.** An object is visible to [`Store::head`], [`Store::list`] and
//!   [`Store::open`] only once complete. Uploads in progress, aborted or dropped leave nothing
//!   visible.
//! - **Our own SHA-256.** The caller's digest is recorded with the object (a `sha256sum`
//!   sidecar `<key>.sha256`, plus S3 user metadata for single-PUT uploads) and returned by
//!   `head`. No ETag or provider checksum is ever trusted.
//! - **Streaming.** `put` applies backpressure and `open` streams; neither holds a whole object.

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;

use crate::digest::Sha256Digest;
use crate::error::StoreError;
use crate::id::{StoreId, StoreKind};
use crate::key::{ObjectKey, ObjectPrefix};

/// The largest object [`Store::put_small`] accepts (16 MiB). Bigger objects go through
/// [`Store::begin`].
pub const SMALL_OBJECT_LIMIT: u64 = 16 * 1024 * 1024;

/// A stream of an object's bytes, in order, as returned by [`Store::open`].
pub type ByteStream = BoxStream<'static, Result<Bytes, StoreError>>;

/// A completed, create-only write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Where the object is.
    pub key: ObjectKey,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 the caller gave (for `put_small`: computed by the store) and the store recorded.
    pub sha256: Sha256Digest,
}

/// What a store knows about a finished object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Where the object is.
    pub key: ObjectKey,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 recorded at upload, when a record exists (it is missing only for objects
    /// written by someone else, or when a crash hit between the object and its sidecar).
    pub sha256: Option<Sha256Digest>,
    /// When the store last modified it.
    pub last_modified: DateTime<Utc>,
}

/// A place that keeps objects: create-only, streaming, with our own SHA-256 recorded.
///
/// Object-safe: callers hold `Arc<dyn Store>`.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// The operator-facing name of this store.
    fn id(&self) -> &StoreId;

    /// What this store is built on.
    fn kind(&self) -> StoreKind;

    /// Starts a streaming upload to `key`. Fails early with `AlreadyExists` if the key is
    /// taken.
    async fn begin(&self, key: &ObjectKey) -> Result<Upload, StoreError>;

    /// Writes a small object (at most [`SMALL_OBJECT_LIMIT`]) in one go, create-only; the
    /// store computes its SHA-256.
    async fn put_small(&self, key: &ObjectKey, data: Bytes) -> Result<StoredObject, StoreError>;

    /// Streams a finished object. A missing key is [`StoreError::NotFound`].
    async fn open(&self, key: &ObjectKey) -> Result<ByteStream, StoreError>;

    /// Size, recorded SHA-256 and modification time of a finished object; `None` if absent.
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError>;

    /// Every finished object under `prefix`, sorted by key. Sidecars, staging files and
    /// uploads in progress are not listed; each object's digest comes from its sidecar.
    async fn list(&self, prefix: &ObjectPrefix) -> Result<Vec<ObjectInfo>, StoreError>;

    /// Removes an object and its sidecar (tests and repair only; backups never delete).
    /// Returns `false` if there was nothing to remove.
    async fn delete(&self, key: &ObjectKey) -> Result<bool, StoreError>;

    /// The raw text of the object's `sha256sum` sidecar, if there is one.
    async fn read_sidecar(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError>;
}

/// The store-specific half of an [`Upload`]. Implement it to write a new [`Store`] (or a
/// wrapper that injects faults); callers use [`Upload`].
#[async_trait]
pub trait UploadSink: Send {
    /// Accepts the next chunk, waiting while the store is busy (backpressure).
    async fn put(&mut self, chunk: Bytes) -> Result<(), StoreError>;

    /// Publishes the object create-only with `sha256` recorded; `size` is the byte count the
    /// [`Upload`] saw.
    async fn finish(
        self: Box<Self>,
        size: u64,
        sha256: Sha256Digest,
    ) -> Result<StoredObject, StoreError>;

    /// Discards everything written so far.
    async fn abort(self: Box<Self>) -> Result<(), StoreError>;
}

/// A streaming upload in progress. Consume it with [`finish`](Upload::finish) or
/// [`abort`](Upload::abort); dropping it discards the upload (best effort, in the background).
pub struct Upload {
    store: StoreId,
    key: ObjectKey,
    written: u64,
    failed: bool,
    sink: Box<dyn UploadSink>,
}

impl Upload {
    /// Wraps a store-specific sink.
    pub fn new(store: StoreId, key: ObjectKey, sink: Box<dyn UploadSink>) -> Self {
        Self {
            store,
            key,
            written: 0,
            failed: false,
            sink,
        }
    }

    /// The key being written.
    pub fn key(&self) -> &ObjectKey {
        &self.key
    }

    /// The store being written.
    pub fn store(&self) -> &StoreId {
        &self.store
    }

    /// Bytes accepted so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends `chunk`; waits while the store is busy. After an error the upload is
    /// broken: later calls fail with [`StoreError::UploadFailed`]; call [`abort`](Self::abort).
    pub async fn put(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        if self.failed {
            return Err(self.failed_error());
        }
        if chunk.is_empty() {
            return Ok(());
        }
        let len = chunk.len() as u64;
        match self.sink.put(chunk).await {
            Ok(()) => {
                self.written += len;
                Ok(())
            }
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    /// Publishes the object under its key, create-only, recording `sha256` (the caller's hash
    /// of exactly the bytes it put). On error nothing is published.
    pub async fn finish(self, sha256: Sha256Digest) -> Result<StoredObject, StoreError> {
        if self.failed {
            let err = self.failed_error();
            // The sink is already broken; discard what it holds before reporting.
            let _ = self.sink.abort().await;
            return Err(err);
        }
        self.sink.finish(self.written, sha256).await
    }

    /// Discards the upload; nothing becomes visible.
    pub async fn abort(self) -> Result<(), StoreError> {
        self.sink.abort().await
    }

    fn failed_error(&self) -> StoreError {
        StoreError::UploadFailed {
            store: self.store.clone(),
            key: self.key.clone(),
        }
    }
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("store", &self.store)
            .field("key", &self.key)
            .field("written", &self.written)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}
