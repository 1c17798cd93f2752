//! The S3 store's [`UploadSink`]: buffer, then single PUT or equal-size multipart.
//!
//! Chunks are buffered (as `Bytes` handles, no copy) until the total exceeds the single-PUT
//! threshold `T`. An object that never exceeds it goes up in one create-only PUT at `finish`,
//! with its SHA-256 in `x-amz-meta-sha256`: the common case for configuration backups.
//! Past `T` the upload turns multipart: parts of exactly `P` bytes (the last may be shorter;
//! R2 requires equal parts), at most `K` uploading at once, each retried on transient errors.
//! `put` waits for a free slot, which is the backpressure.
//!
//! **Memory bound.** With the caller's chunk size `c`, an upload holds at most about
//! `max(T, (K + 1) × P) + 2c` bytes: the buffer before the switch (≤ `T + c`), or `K` parts in
//! flight plus one part being filled (< `P + c`), plus one caller chunk that straddles a part
//! boundary and is kept alive by both parts. Defaults (`T` = 8 MiB, `P` = 8 MiB, `K` = 2)
//! with 1 MiB chunks: about 26 MiB per upload.
//!
//! **Finishing multipart.** object_store's completion cannot send `If-None-Match`, so the
//! upload HEADs the key just before completing (create-only, with a window of one request)
//! and, if completion fails, HEADs again: an object of exactly our size means the completion
//! landed and only its response was lost (s3s-fs then answers a retried completion with
//! AccessDenied). Otherwise the upload is aborted and the error returned.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::multipart::{MultipartStore as _, PartId};
use object_store::path::Path;
use object_store::{MultipartId, PutPayload};
use tokio::task::JoinSet;

use super::client::Client;
use crate::digest::Sha256Digest;
use crate::error::{Operation, StoreError};
use crate::id::StoreId;
use crate::key::ObjectKey;
use crate::store::{StoredObject, UploadSink};

/// A multipart upload in progress.
struct Multipart {
    id: MultipartId,
    parts: Vec<Option<PartId>>,
    in_flight: JoinSet<(usize, Result<PartId, StoreError>)>,
}

/// Streaming upload to one key.
pub(super) struct S3Upload {
    client: Arc<Client>,
    key: ObjectKey,
    path: Path,
    pending: VecDeque<Bytes>,
    pending_len: u64,
    multipart: Option<Multipart>,
}

impl S3Upload {
    pub(super) fn new(client: Arc<Client>, key: ObjectKey) -> Self {
        let path = client.path(&key);
        Self {
            client,
            key,
            path,
            pending: VecDeque::new(),
            pending_len: 0,
            multipart: None,
        }
    }

    async fn start_multipart(&mut self) -> Result<(), StoreError> {
        let (client, path, key) = (&self.client, &self.path, &self.key);
        let id = client
            .retrying(|| async {
                client
                    .s3
                    .create_multipart(path)
                    .await
                    .map_err(|e| client.err(Operation::Write, key, e))
            })
            .await?;
        tracing::debug!(store = %client.id, key = %key, "upload switched to multipart");
        self.multipart = Some(Multipart {
            id,
            parts: Vec::new(),
            in_flight: JoinSet::new(),
        });
        Ok(())
    }

    /// Sends every full part in the buffer (all of it when `last`), waiting for free slots.
    async fn flush_parts(&mut self, last: bool) -> Result<(), StoreError> {
        let part_size = self.client.limits.part_size;
        let max_in_flight = self.client.limits.parts_in_flight;
        loop {
            let take = if self.pending_len >= part_size {
                part_size
            } else if last && self.pending_len > 0 {
                self.pending_len
            } else {
                return Ok(());
            };
            let Some(mp) = self.multipart.as_mut() else {
                return Ok(());
            };
            while mp.in_flight.len() >= max_in_flight {
                collect_one(mp, &self.client.id).await?;
            }
            let payload = take_front(&mut self.pending, take);
            self.pending_len -= take;
            let index = mp.parts.len();
            mp.parts.push(None);
            let (client, path, key, id) = (
                Arc::clone(&self.client),
                self.path.clone(),
                self.key.clone(),
                mp.id.clone(),
            );
            mp.in_flight.spawn(async move {
                let result = upload_part(&client, &path, &key, &id, index, payload).await;
                (index, result)
            });
        }
    }

    async fn finish_multipart(&mut self, size: u64) -> Result<(), StoreError> {
        self.flush_parts(true).await?;
        let Some(mp) = self.multipart.as_mut() else {
            return Ok(());
        };
        while !mp.in_flight.is_empty() {
            collect_one(mp, &self.client.id).await?;
        }
        let expected_parts = mp.parts.len();
        let parts: Vec<PartId> = mp.parts.iter_mut().filter_map(Option::take).collect();
        let (client, key, path) = (&self.client, &self.key, &self.path);
        if parts.len() != expected_parts {
            // Every part was collected without error, so this cannot happen; never complete
            // an object with a hole in it.
            return Err(StoreError::UploadFailed {
                store: client.id.clone(),
                key: key.clone(),
            });
        }
        if client.head_object(Operation::Finish, key).await?.is_some() {
            return Err(StoreError::AlreadyExists {
                store: client.id.clone(),
                key: key.clone(),
            });
        }
        let completed = client.s3.complete_multipart(path, &mp.id, parts).await;
        let Err(e) = completed else {
            return Ok(());
        };
        let error = client.err(Operation::Finish, key, e);
        match client.head_object(Operation::Finish, key).await {
            Ok(Some((meta, _))) if meta.size == size => {
                tracing::info!(store = %client.id, key = %key, error = %error,
                    "multipart completion reported an error but the object is complete");
                Ok(())
            }
            _ => Err(error),
        }
    }

    async fn abort_multipart(&mut self) -> Result<(), StoreError> {
        let Some(mut mp) = self.multipart.take() else {
            return Ok(());
        };
        mp.in_flight.abort_all();
        while mp.in_flight.join_next().await.is_some() {}
        let (client, path, key) = (&self.client, &self.path, &self.key);
        client
            .retrying(|| async {
                client
                    .s3
                    .abort_multipart(path, &mp.id)
                    .await
                    .map_err(|e| client.err(Operation::Abort, key, e))
            })
            .await
    }
}

/// Waits for one part and records it; a failed part fails the upload.
async fn collect_one(mp: &mut Multipart, store: &StoreId) -> Result<(), StoreError> {
    let Some(joined) = mp.in_flight.join_next().await else {
        return Ok(());
    };
    match joined {
        Ok((index, Ok(part))) => {
            if let Some(slot) = mp.parts.get_mut(index) {
                *slot = Some(part);
            }
            Ok(())
        }
        Ok((_, Err(e))) => Err(e),
        Err(join) => Err(StoreError::task(store, Operation::Write, join)),
    }
}

/// Uploads part `index` (0-based), retrying transient errors; parts are idempotent by index.
async fn upload_part(
    client: &Client,
    path: &Path,
    key: &ObjectKey,
    id: &MultipartId,
    index: usize,
    payload: PutPayload,
) -> Result<PartId, StoreError> {
    client
        .retrying(|| async {
            client
                .s3
                .put_part(path, id, index, payload.clone())
                .await
                .map_err(|e| client.err(Operation::Write, key, e))
        })
        .await
}

/// Removes exactly `n` bytes from the front of `pending` as a payload (no copying).
fn take_front(pending: &mut VecDeque<Bytes>, n: u64) -> PutPayload {
    let mut left = usize::try_from(n).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    while left > 0 {
        let Some(front) = pending.front_mut() else {
            break;
        };
        if front.len() <= left {
            left -= front.len();
            if let Some(chunk) = pending.pop_front() {
                out.push(chunk);
            }
        } else {
            out.push(front.split_to(left));
            left = 0;
        }
    }
    out.into_iter().collect()
}

#[async_trait]
impl UploadSink for S3Upload {
    async fn put(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        self.pending_len += chunk.len() as u64;
        self.pending.push_back(chunk);
        if self.multipart.is_none() {
            if self.pending_len <= self.client.limits.single_put_max {
                return Ok(());
            }
            self.start_multipart().await?;
        }
        self.flush_parts(false).await
    }

    async fn finish(
        mut self: Box<Self>,
        size: u64,
        sha256: Sha256Digest,
    ) -> Result<StoredObject, StoreError> {
        if self.multipart.is_none() {
            let payload: PutPayload = std::mem::take(&mut self.pending).into_iter().collect();
            return self
                .client
                .publish_single(Operation::Finish, &self.key, payload, sha256)
                .await;
        }
        if let Err(e) = self.finish_multipart(size).await {
            if let Err(abort) = self.abort_multipart().await {
                tracing::warn!(store = %self.client.id, key = %self.key, error = %abort,
                    "could not abort a failed multipart upload");
            }
            return Err(e);
        }
        self.multipart = None;
        self.client.write_sidecar(&self.key, &sha256).await?;
        Ok(StoredObject {
            key: self.key.clone(),
            size,
            sha256,
        })
    }

    async fn abort(mut self: Box<Self>) -> Result<(), StoreError> {
        self.pending.clear();
        self.abort_multipart().await
    }
}

impl Drop for S3Upload {
    fn drop(&mut self) {
        // Dropped mid-multipart: abort it in the background so no parts linger.
        let Some(mut mp) = self.multipart.take() else {
            return;
        };
        mp.in_flight.abort_all();
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (client, path, id) = (Arc::clone(&self.client), self.path.clone(), mp.id);
        handle.spawn(async move {
            if let Err(e) = client.s3.abort_multipart(&path, &id).await {
                tracing::warn!(store = %client.id, error = %e, "could not abort a dropped multipart upload");
            }
        });
    }
}
