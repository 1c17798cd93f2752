//! [`LocalStore`]: objects as files under a root directory, published atomically and
//! create-only.
//!
//! ```text
//! begin ─► <root>/<key>.partial-<random>   (O_EXCL, mode 0600; written on a blocking thread)
//! finish ─► fsync file ─► write + fsync <key>.sha256.partial-<random>
//!        ─► link(staging, <key>)       EEXIST → AlreadyExists, nothing changed
//!        ─► unlink staging ─► link sidecar ─► fsync directory
//! ```
//!
//! Hand-written rather than object_store's `LocalFileSystem`: its multipart completion renames
//! over an existing file (an overwrite), its staging names (`#<n>`) differ from ours, and it
//! follows symlinks. Here every filesystem call runs on a blocking thread, `list` skips
//! staging files and sidecars, and keys are already validated (no `..`, no absolute paths).

mod publish;
mod upload;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt as _;
use tokio_util::io::ReaderStream;

use crate::digest::{Sha256Digest, parse_sidecar, render_sidecar};
use crate::error::{Operation, StoreError};
use crate::id::{StoreId, StoreKind};
use crate::key::{ObjectKey, ObjectPrefix, SIDECAR_SUFFIX, STAGING_MARKER};
use crate::store::{ByteStream, ObjectInfo, SMALL_OBJECT_LIMIT, Store, StoredObject, Upload};
use upload::{LocalUpload, ObjectPaths, finish_outcome, publish_object};

/// Read buffer for [`Store::open`] streams.
const READ_CHUNK: usize = 256 * 1024;

/// A store in a local directory (created on first write).
#[derive(Debug, Clone)]
pub struct LocalStore {
    id: StoreId,
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root`. Nothing is touched until the first operation.
    pub fn new(id: StoreId, root: impl Into<PathBuf>) -> Self {
        Self {
            id,
            root: root.into(),
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that holds `key` (for tests and operators; do not write to it).
    pub fn path_of(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    fn paths(&self, key: &ObjectKey) -> ObjectPaths {
        ObjectPaths {
            target: self.path_of(key),
            sidecar: self.root.join(key.sidecar_name()),
        }
    }

    /// Runs filesystem work on a blocking thread, mapping its errors.
    async fn blocking<T, F>(
        &self,
        op: Operation,
        key: Option<&ObjectKey>,
        f: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce() -> io::Result<T> + Send + 'static,
    {
        match tokio::task::spawn_blocking(f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError::io(&self.id, op, key, e)),
            Err(e) => Err(StoreError::task(&self.id, op, e)),
        }
    }

    fn digest_from_sidecar(
        &self,
        key: &ObjectKey,
        text: Option<Vec<u8>>,
    ) -> Result<Option<Sha256Digest>, StoreError> {
        text.map(|t| {
            parse_sidecar(&t, key.basename()).map_err(|reason| StoreError::BadSidecar {
                store: self.id.clone(),
                key: key.clone(),
                reason,
            })
        })
        .transpose()
    }
}

#[async_trait]
impl Store for LocalStore {
    fn id(&self) -> &StoreId {
        &self.id
    }

    fn kind(&self) -> StoreKind {
        StoreKind::Local
    }

    async fn begin(&self, key: &ObjectKey) -> Result<Upload, StoreError> {
        let paths = self.paths(key);
        let target = paths.target.clone();
        let opened = self
            .blocking(Operation::Begin, Some(key), move || {
                if fs::symlink_metadata(&target).is_ok() {
                    return Ok(None);
                }
                if let Some(dir) = target.parent() {
                    publish::create_dirs(dir)?;
                }
                let staging = publish::staging_path(&target);
                let file = publish::create_staging(&staging)?;
                Ok(Some((staging, file)))
            })
            .await?;
        let Some((staging, file)) = opened else {
            return Err(StoreError::AlreadyExists {
                store: self.id.clone(),
                key: key.clone(),
            });
        };
        let sink = LocalUpload::start(self.id.clone(), key.clone(), paths, staging, file);
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
        let paths = self.paths(key);
        let basename = key.basename().to_owned();
        let (digest, outcome) = tokio::task::spawn_blocking(move || {
            let digest = Sha256Digest::of(&data);
            let outcome = (|| {
                if let Some(dir) = paths.target.parent() {
                    publish::create_dirs(dir)?;
                }
                let staging = publish::write_staged(&paths.target, &data)?;
                publish_object(
                    &staging,
                    &paths,
                    render_sidecar(&digest, &basename).as_bytes(),
                )
            })();
            (digest, outcome)
        })
        .await
        .map_err(|e| StoreError::task(&self.id, Operation::PutSmall, e))?;
        finish_outcome(Operation::PutSmall, &self.id, key, outcome, size, digest)
    }

    async fn open(&self, key: &ObjectKey) -> Result<ByteStream, StoreError> {
        let path = self.path_of(key);
        let file = self
            .blocking(
                Operation::Read,
                Some(key),
                move || match fs::symlink_metadata(&path) {
                    Ok(meta) if meta.is_file() => fs::File::open(&path).map(Some),
                    Ok(_) => Ok(None),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                },
            )
            .await?;
        let Some(file) = file else {
            return Err(StoreError::NotFound {
                store: self.id.clone(),
                key: key.clone(),
            });
        };
        let (store, key) = (self.id.clone(), key.clone());
        let stream = ReaderStream::with_capacity(tokio::fs::File::from_std(file), READ_CHUNK)
            .map_err(move |e| StoreError::io(&store, Operation::Read, Some(&key), e));
        Ok(Box::pin(stream))
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError> {
        let paths = self.paths(key);
        let found = self
            .blocking(Operation::Head, Some(key), move || {
                let meta = match fs::symlink_metadata(&paths.target) {
                    Ok(meta) if meta.is_file() => meta,
                    Ok(_) => return Ok(None),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(e),
                };
                let sidecar = publish::read_optional(&paths.sidecar)?;
                Ok(Some((meta.len(), meta.modified()?, sidecar)))
            })
            .await?;
        let Some((size, modified, sidecar)) = found else {
            return Ok(None);
        };
        Ok(Some(ObjectInfo {
            key: key.clone(),
            size,
            sha256: self.digest_from_sidecar(key, sidecar)?,
            last_modified: modified.into(),
        }))
    }

    async fn list(&self, prefix: &ObjectPrefix) -> Result<Vec<ObjectInfo>, StoreError> {
        let root = self.root.clone();
        let start = if prefix.is_root() {
            root.clone()
        } else {
            root.join(prefix.as_str())
        };
        let found = self
            .blocking(Operation::List, None, move || walk(&root, &start))
            .await?;
        let mut out = Vec::with_capacity(found.len());
        for entry in found {
            out.push(ObjectInfo {
                sha256: self.digest_from_sidecar(&entry.key, entry.sidecar)?,
                key: entry.key,
                size: entry.size,
                last_modified: entry.modified.into(),
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<bool, StoreError> {
        let paths = self.paths(key);
        self.blocking(Operation::Delete, Some(key), move || {
            let removed = publish::remove_optional(&paths.target)?;
            let sidecar_removed = publish::remove_optional(&paths.sidecar)?;
            if (removed || sidecar_removed)
                && let Some(dir) = paths.target.parent()
            {
                publish::sync_dir(dir)?;
            }
            Ok(removed || sidecar_removed)
        })
        .await
    }

    async fn read_sidecar(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        let path = self.paths(key).sidecar;
        let text = self
            .blocking(Operation::Sidecar, Some(key), move || {
                publish::read_optional(&path)
            })
            .await?;
        Ok(text.map(Bytes::from))
    }
}

/// One object found by [`walk`].
struct Found {
    key: ObjectKey,
    size: u64,
    modified: std::time::SystemTime,
    sidecar: Option<Vec<u8>>,
}

/// Lists regular files below `start` (recursively, not following symlinks), skipping staging
/// files, sidecars and names that are not valid keys; reads each object's sidecar.
fn walk(root: &Path, start: &Path) -> io::Result<Vec<Found>> {
    let mut out = Vec::new();
    let mut dirs = vec![start.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let file_type = entry.file_type()?;
            let path = entry.path();
            if file_type.is_dir() {
                dirs.push(path);
                continue;
            }
            if !file_type.is_file() {
                continue;
            }
            let Some(key) = key_of(root, &path) else {
                continue;
            };
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                // Removed between read_dir and now (e.g. a concurrent delete).
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let sidecar = publish::read_optional(&root.join(key.sidecar_name()))?;
            out.push(Found {
                key,
                size: meta.len(),
                modified: meta.modified()?,
                sidecar,
            });
        }
    }
    Ok(out)
}

/// The key of a file below `root`, or `None` for staging files, sidecars and foreign names.
fn key_of(root: &Path, path: &Path) -> Option<ObjectKey> {
    let rel = path.strip_prefix(root).ok()?.to_str()?;
    if rel.contains(STAGING_MARKER) || rel.ends_with(SIDECAR_SUFFIX) {
        return None;
    }
    ObjectKey::new(rel).ok()
}
