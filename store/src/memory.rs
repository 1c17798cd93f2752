//! [`MemoryStore`] (feature `test-util`): an in-memory store that passes the conformance
//! suite, for tests of code built on [`Store`]. Objects live in a mutex-guarded map; uploads
//! buffer their chunks and become visible only at `finish`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::digest::{Sha256Digest, render_sidecar};
use crate::error::StoreError;
use crate::id::{StoreId, StoreKind};
use crate::key::{ObjectKey, ObjectPrefix};
use crate::store::{
    ByteStream, ObjectInfo, SMALL_OBJECT_LIMIT, Store, StoredObject, Upload, UploadSink,
};

/// Size of the chunks [`Store::open`] yields.
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone)]
struct Entry {
    data: Bytes,
    sidecar: Bytes,
    sha256: Sha256Digest,
    modified: DateTime<Utc>,
}

type Objects = Arc<Mutex<BTreeMap<ObjectKey, Entry>>>;

/// An in-memory [`Store`]. Clones share the same objects.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    id: StoreId,
    objects: Objects,
}

impl MemoryStore {
    /// An empty store.
    pub fn new(id: StoreId) -> Self {
        Self {
            id,
            objects: Arc::default(),
        }
    }

    /// Flips one bit of a stored object (fault injection for verify tests). Returns `false`
    /// when there is no such object or `offset` is past its end.
    pub fn corrupt(&self, key: &ObjectKey, offset: usize) -> bool {
        let mut objects = lock(&self.objects);
        let Some(entry) = objects.get_mut(key) else {
            return false;
        };
        let mut data = entry.data.to_vec();
        let Some(byte) = data.get_mut(offset) else {
            return false;
        };
        *byte ^= 0x01;
        entry.data = Bytes::from(data);
        true
    }
}

fn lock(objects: &Objects) -> std::sync::MutexGuard<'_, BTreeMap<ObjectKey, Entry>> {
    // A panic while holding the lock cannot leave a half-inserted entry: recover the map.
    objects.lock().unwrap_or_else(PoisonError::into_inner)
}

fn insert(
    store: &StoreId,
    objects: &Objects,
    key: &ObjectKey,
    data: Bytes,
    sha256: Sha256Digest,
) -> Result<StoredObject, StoreError> {
    let mut map = lock(objects);
    if map.contains_key(key) {
        return Err(StoreError::AlreadyExists {
            store: store.clone(),
            key: key.clone(),
        });
    }
    let size = data.len() as u64;
    map.insert(
        key.clone(),
        Entry {
            sidecar: Bytes::from(render_sidecar(&sha256, key.basename())),
            data,
            sha256,
            modified: Utc::now(),
        },
    );
    Ok(StoredObject {
        key: key.clone(),
        size,
        sha256,
    })
}

fn info(key: &ObjectKey, entry: &Entry) -> ObjectInfo {
    ObjectInfo {
        key: key.clone(),
        size: entry.data.len() as u64,
        sha256: Some(entry.sha256),
        last_modified: entry.modified,
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn id(&self) -> &StoreId {
        &self.id
    }

    fn kind(&self) -> StoreKind {
        StoreKind::Memory
    }

    async fn begin(&self, key: &ObjectKey) -> Result<Upload, StoreError> {
        if lock(&self.objects).contains_key(key) {
            return Err(StoreError::AlreadyExists {
                store: self.id.clone(),
                key: key.clone(),
            });
        }
        let sink = MemoryUpload {
            store: self.id.clone(),
            key: key.clone(),
            objects: Arc::clone(&self.objects),
            chunks: Vec::new(),
        };
        Ok(Upload::new(self.id.clone(), key.clone(), Box::new(sink)))
    }

    async fn put_small(&self, key: &ObjectKey, data: Bytes) -> Result<StoredObject, StoreError> {
        let size = data.len() as u64;
        if size > SMALL_OBJECT_LIMIT {
            return Err(StoreError::TooLarge {
                store: self.id.clone(),
                key: key.clone(),
                size,
                limit: SMALL_OBJECT_LIMIT,
            });
        }
        let sha256 = Sha256Digest::of(&data);
        insert(&self.id, &self.objects, key, data, sha256)
    }

    async fn open(&self, key: &ObjectKey) -> Result<ByteStream, StoreError> {
        let Some(data) = lock(&self.objects).get(key).map(|e| e.data.clone()) else {
            return Err(StoreError::NotFound {
                store: self.id.clone(),
                key: key.clone(),
            });
        };
        let chunks: Vec<Result<Bytes, StoreError>> = (0..data.len())
            .step_by(READ_CHUNK)
            .map(|start| Ok(data.slice(start..data.len().min(start + READ_CHUNK))))
            .collect();
        Ok(Box::pin(futures::stream::iter(chunks)))
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError> {
        Ok(lock(&self.objects).get(key).map(|e| info(key, e)))
    }

    async fn list(&self, prefix: &ObjectPrefix) -> Result<Vec<ObjectInfo>, StoreError> {
        Ok(lock(&self.objects)
            .iter()
            .filter(|(k, _)| k.is_under(prefix))
            .map(|(k, e)| info(k, e))
            .collect())
    }

    async fn delete(&self, key: &ObjectKey) -> Result<bool, StoreError> {
        Ok(lock(&self.objects).remove(key).is_some())
    }

    async fn read_sidecar(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        Ok(lock(&self.objects).get(key).map(|e| e.sidecar.clone()))
    }
}

/// Buffers chunks until `finish`.
struct MemoryUpload {
    store: StoreId,
    key: ObjectKey,
    objects: Objects,
    chunks: Vec<Bytes>,
}

#[async_trait]
impl UploadSink for MemoryUpload {
    async fn put(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        self.chunks.push(chunk);
        Ok(())
    }

    async fn finish(
        self: Box<Self>,
        _size: u64,
        sha256: Sha256Digest,
    ) -> Result<StoredObject, StoreError> {
        let data = Bytes::from(self.chunks.concat());
        insert(&self.store, &self.objects, &self.key, data, sha256)
    }

    async fn abort(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}
