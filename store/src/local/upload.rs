//! The local store's [`UploadSink`]: chunks go through a bounded channel to a blocking writer
//! thread that appends them to the staging file; `finish` fsyncs and publishes create-only.
//!
//! Memory bound: at most [`WRITE_QUEUE`] chunks wait in the channel plus the one being written,
//! so `(WRITE_QUEUE + 1) × chunk size` bytes.

use std::fs::File;
use std::io::{self, Write as _};
use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::publish::{self, Published};
use crate::digest::{Sha256Digest, render_sidecar};
use crate::error::{Operation, StoreError};
use crate::id::StoreId;
use crate::key::ObjectKey;
use crate::store::{StoredObject, UploadSink};

/// Chunks queued between the async caller and the writer thread.
const WRITE_QUEUE: usize = 2;

/// Paths of one object: its final name, its sidecar and the staging file being written.
#[derive(Debug, Clone)]
pub(super) struct ObjectPaths {
    pub(super) target: PathBuf,
    pub(super) sidecar: PathBuf,
}

/// A streaming upload into a staging file.
pub(super) struct LocalUpload {
    store: StoreId,
    key: ObjectKey,
    paths: ObjectPaths,
    staging: Option<PathBuf>,
    tx: Option<mpsc::Sender<Bytes>>,
    writer: Option<JoinHandle<io::Result<File>>>,
}

impl LocalUpload {
    /// Starts the writer thread on an already created staging file.
    pub(super) fn start(
        store: StoreId,
        key: ObjectKey,
        paths: ObjectPaths,
        staging: PathBuf,
        file: File,
    ) -> Self {
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let writer = tokio::task::spawn_blocking(move || write_loop(file, rx));
        Self {
            store,
            key,
            paths,
            staging: Some(staging),
            tx: Some(tx),
            writer: Some(writer),
        }
    }

    fn err(&self, op: Operation, e: io::Error) -> StoreError {
        StoreError::io(&self.store, op, Some(&self.key), e)
    }

    /// Closes the channel and waits for the writer: its file, or the error it stopped on.
    async fn join_writer(&mut self, op: Operation) -> Result<File, StoreError> {
        self.tx = None;
        let Some(writer) = self.writer.take() else {
            return Err(StoreError::UploadFailed {
                store: self.store.clone(),
                key: self.key.clone(),
            });
        };
        match writer.await {
            Ok(Ok(file)) => Ok(file),
            Ok(Err(e)) => Err(self.err(op, e)),
            Err(e) => Err(StoreError::task(&self.store, op, e)),
        }
    }
}

fn write_loop(mut file: File, mut rx: mpsc::Receiver<Bytes>) -> io::Result<File> {
    while let Some(chunk) = rx.blocking_recv() {
        file.write_all(&chunk)?;
    }
    Ok(file)
}

#[async_trait]
impl UploadSink for LocalUpload {
    async fn put(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        let sent = match &self.tx {
            Some(tx) => tx.send(chunk).await.is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The writer stopped: report why.
        match self.join_writer(Operation::Write).await {
            Err(e) => Err(e),
            Ok(_) => Err(self.err(
                Operation::Write,
                io::Error::other("staging writer stopped early"),
            )),
        }
    }

    async fn finish(
        mut self: Box<Self>,
        size: u64,
        sha256: Sha256Digest,
    ) -> Result<StoredObject, StoreError> {
        let file = self.join_writer(Operation::Finish).await?;
        let staging = self
            .staging
            .take()
            .ok_or_else(|| StoreError::UploadFailed {
                store: self.store.clone(),
                key: self.key.clone(),
            })?;
        let sidecar = render_sidecar(&sha256, self.key.basename());
        let paths = self.paths.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let synced = file.sync_all();
            drop(file);
            if let Err(e) = synced {
                publish::remove_quietly(&staging);
                return Err(e);
            }
            publish_object(&staging, &paths, sidecar.as_bytes())
        })
        .await
        .map_err(|e| StoreError::task(&self.store, Operation::Finish, e))?;
        finish_outcome(
            Operation::Finish,
            &self.store,
            &self.key,
            outcome,
            size,
            sha256,
        )
    }

    async fn abort(mut self: Box<Self>) -> Result<(), StoreError> {
        // The writer's own error no longer matters: everything is discarded.
        let _ = self.join_writer(Operation::Abort).await;
        if let Some(staging) = self.staging.take() {
            tokio::task::spawn_blocking(move || publish::remove_quietly(&staging))
                .await
                .map_err(|e| StoreError::task(&self.store, Operation::Abort, e))?;
        }
        Ok(())
    }
}

impl Drop for LocalUpload {
    fn drop(&mut self) {
        // Dropped without finish/abort: close the channel so the writer ends, then remove the
        // staging file (in the background when a runtime is there; list ignores it anyway).
        self.tx = None;
        if let Some(staging) = self.staging.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn_blocking(move || publish::remove_quietly(&staging));
                }
                Err(_) => publish::remove_quietly(&staging),
            }
        }
    }
}

/// What happened when publishing an object and its sidecar.
pub(super) enum PublishOutcome {
    /// Object and sidecar are in place.
    Done,
    /// The key was taken; nothing changed.
    Taken,
    /// The object is in place but a different sidecar already existed.
    SidecarConflict,
}

/// Publishes a fully written, fsynced staging file and its sidecar, create-only, then fsyncs
/// the directory. Removes every staging file it was given, whatever happens.
pub(super) fn publish_object(
    staging: &std::path::Path,
    paths: &ObjectPaths,
    sidecar: &[u8],
) -> io::Result<PublishOutcome> {
    let sidecar_staging = match publish::write_staged(&paths.sidecar, sidecar) {
        Ok(p) => p,
        Err(e) => {
            publish::remove_quietly(staging);
            return Err(e);
        }
    };
    match publish::publish(staging, &paths.target) {
        Ok(Published::Created) => {}
        Ok(Published::Taken) => {
            publish::remove_quietly(&sidecar_staging);
            return Ok(PublishOutcome::Taken);
        }
        Err(e) => {
            publish::remove_quietly(&sidecar_staging);
            return Err(e);
        }
    }
    let outcome = match publish::publish(&sidecar_staging, &paths.sidecar)? {
        Published::Created => PublishOutcome::Done,
        Published::Taken => match publish::read_optional(&paths.sidecar)? {
            Some(existing) if existing == sidecar => PublishOutcome::Done,
            _ => PublishOutcome::SidecarConflict,
        },
    };
    if let Some(dir) = paths.target.parent() {
        publish::sync_dir(dir)?;
    }
    Ok(outcome)
}

/// Maps a publish outcome to the caller's result.
pub(super) fn finish_outcome(
    op: Operation,
    store: &StoreId,
    key: &ObjectKey,
    outcome: io::Result<PublishOutcome>,
    size: u64,
    sha256: Sha256Digest,
) -> Result<StoredObject, StoreError> {
    match outcome {
        Ok(PublishOutcome::Done) => Ok(StoredObject {
            key: key.clone(),
            size,
            sha256,
        }),
        Ok(PublishOutcome::Taken) => Err(StoreError::AlreadyExists {
            store: store.clone(),
            key: key.clone(),
        }),
        Ok(PublishOutcome::SidecarConflict) => Err(StoreError::SidecarConflict {
            store: store.clone(),
            key: key.clone(),
        }),
        Err(e) => Err(StoreError::io(store, op, Some(key), e)),
    }
}
