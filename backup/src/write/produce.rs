//! The producer: the blocking half of a run. On one blocking thread it collects, then writes
//! each artifact through the stage chain
//!
//! ```text
//! write_archive (tar + parallel gzip) ─► HashingWriter (plaintext digest) ─► EncryptWriter
//!     ─► HashingWriter (stored digest) ─► ChunkSender ══ bounded mpsc ══► Fanout (async)
//! ```
//!
//! and finishes every stage in reverse order, so that a forgotten `finish` can never look like
//! a complete artifact (the encrypted stream would lack its final chunk). The stored digest goes
//! to the fan-out through a oneshot as soon as the artifact is complete.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use celeriac_crypto::{EncryptOptions, EncryptSummary, EncryptWriter, Flags};
use celeriac_store::Sha256Digest;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::config::keys::BackupKeys;
use crate::config::options::PipelineOptions;
use crate::config::spec::{CollectSpec, SuspectedSecretPolicy};
use crate::id::BackupId;
use crate::manifest::Bundle;
use crate::progress::{Progress, ProgressEvent};
use crate::report::CollectionReport;
use crate::stream::chunk::ChunkSender;
use crate::stream::hashing::HashingWriter;
use crate::write::archive::{ArchiveError, ArchiveOptions, ArchiveSummary, write_archive};
use crate::write::cancel::CancelCheck;
use crate::write::collect::{Collection, collect_with_cancel};
use crate::write::error::BackupError;

/// The producer's end of one artifact's stream.
pub(crate) struct Channel {
    /// Chunks of the encrypted artifact.
    pub(crate) tx: mpsc::Sender<Bytes>,
    /// The stored bytes' digest, once the artifact is complete.
    pub(crate) digest: oneshot::Sender<Sha256Digest>,
}

/// What one artifact turned out to be.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactSummary {
    pub(crate) bundle: Bundle,
    pub(crate) archive: ArchiveSummary,
    pub(crate) encrypt: EncryptSummary,
    pub(crate) plain_sha256: Sha256Digest,
    pub(crate) stored_sha256: Sha256Digest,
    pub(crate) stored_bytes: u64,
}

/// Everything the blocking thread needs.
pub(crate) struct Producer {
    pub(crate) spec: CollectSpec,
    pub(crate) keys: Arc<BackupKeys>,
    pub(crate) options: PipelineOptions,
    pub(crate) backup_id: BackupId,
    pub(crate) created_unix: u64,
    pub(crate) cancel: CancellationToken,
    pub(crate) progress: Progress,
}

impl Producer {
    /// Collects, reports the collection through `collected`, then writes the main artifact and,
    /// when anything is secret, the secrets bundle.
    pub(crate) fn run(
        self,
        collected: oneshot::Sender<CollectionReport>,
        main: Channel,
        secrets: Channel,
    ) -> Result<Vec<ArtifactSummary>, BackupError> {
        let cancel = self.cancel.clone();
        let check: CancelCheck = Arc::new(move || cancel.is_cancelled());
        let collection = collect_with_cancel(&self.spec, Some(&check)).map_err(|e| match e {
            crate::write::collect::CollectError::Cancelled => BackupError::Cancelled,
            e => BackupError::Collect(e.into()),
        })?;
        let report = collection_report(&collection);
        if report.files_collected == 0 {
            return Err(BackupError::NothingCollected {
                roots: self.spec.roots().iter().map(|r| r.path.clone()).collect(),
                skipped: report.skipped.len(),
            });
        }
        if self.spec.on_suspected_secret() == SuspectedSecretPolicy::Fail
            && let Some(first) = report.secrets_suspected.first()
        {
            return Err(BackupError::SuspectedSecrets {
                count: report.secrets_suspected.len(),
                first: format!("{}:{}", first.path, first.line),
            });
        }
        self.progress.emit(ProgressEvent::Collected {
            files: report.files_collected,
            bytes: report.bytes,
            skipped: report.skipped.len() as u64,
        });
        let has_secrets = report.secrets_entries > 0;
        if collected.send(report).is_err() {
            return Err(BackupError::Cancelled);
        }
        let mut out = vec![self.artifact(&collection, Bundle::Main, main)?];
        if has_secrets {
            out.push(self.artifact(&collection, Bundle::Secrets, secrets)?);
        }
        Ok(out)
    }

    /// Writes one bundle through the stage chain into `channel`.
    fn artifact(
        &self,
        collection: &Collection,
        bundle: Bundle,
        channel: Channel,
    ) -> Result<ArtifactSummary, BackupError> {
        let entries = collection.entries(bundle).len() as u64;
        self.progress
            .emit(ProgressEvent::ArchiveStarted { bundle, entries });
        let encrypt_err = |source| BackupError::Encrypt { bundle, source };
        let options = EncryptOptions::new(*self.backup_id.as_uuid())
            .with_created_unix(self.created_unix)
            .with_chunk_size(self.options.encrypt_chunk)
            .with_flags(Flags::TAR_GZIP);
        let progress = self.progress.clone();
        let sender = ChunkSender::new(channel.tx, self.options.chunk_size).with_hook(Box::new(
            move |stored_bytes| {
                progress.emit(ProgressEvent::BytesStreamed {
                    bundle,
                    stored_bytes,
                });
            },
        ));
        let stored = HashingWriter::new(sender);
        let key = self.keys.key_for(bundle);
        let encrypt = EncryptWriter::new(stored, &[key], &options).map_err(encrypt_err)?;
        let plain = HashingWriter::new(encrypt);
        let archive_options = ArchiveOptions {
            gzip: self.options.gzip.clone(),
            cancel: Some(self.entry_check(bundle, entries)),
        };
        let (plain, archive) = write_archive(collection, bundle, plain, &archive_options)
            .map_err(|source| self.archive_error(bundle, source))?;
        let (encrypt, plain_sha256, _) = plain.finish();
        let (stored, encrypt) = encrypt.finish().map_err(encrypt_err)?;
        let (sender, stored_sha256, stored_bytes) = stored.finish();
        sender
            .finish()
            .map_err(|source| self.stream_error(bundle, source))?;
        // The fan-out may have gone (cancelled); the run's result says so.
        let _ = channel.digest.send(stored_sha256);
        self.progress.emit(ProgressEvent::ArchiveFinished {
            bundle,
            stored_bytes,
        });
        Ok(ArtifactSummary {
            bundle,
            archive,
            encrypt,
            plain_sha256,
            stored_sha256,
            stored_bytes,
        })
    }

    /// The archive stage's between-entries hook: progress, then the cancel check.
    fn entry_check(&self, bundle: Bundle, total: u64) -> CancelCheck {
        let (cancel, progress) = (self.cancel.clone(), self.progress.clone());
        let done = AtomicU64::new(0);
        Arc::new(move || {
            let done = done.fetch_add(1, Ordering::Relaxed);
            progress.emit(ProgressEvent::EntryArchived {
                bundle,
                done,
                total,
            });
            cancel.is_cancelled()
        })
    }

    fn archive_error(&self, bundle: Bundle, source: ArchiveError) -> BackupError {
        if matches!(source, ArchiveError::Cancelled) || self.cancel.is_cancelled() {
            BackupError::Cancelled
        } else {
            BackupError::Archive {
                bundle,
                source: source.into(),
            }
        }
    }

    fn stream_error(&self, bundle: Bundle, source: std::io::Error) -> BackupError {
        if self.cancel.is_cancelled() {
            BackupError::Cancelled
        } else {
            BackupError::Stream { bundle, source }
        }
    }
}

fn collection_report(c: &Collection) -> CollectionReport {
    CollectionReport {
        files_collected: c.counts.values().map(|n| n.files).sum(),
        file_categories: c.counts.iter().map(|(k, n)| (*k, n.files)).collect(),
        file_list_sha256: c.file_list_sha256(),
        bytes: c.counts.values().map(|n| n.bytes).sum(),
        main_entries: c.main.len() as u64,
        secrets_entries: c.secrets.len() as u64,
        categories: c.counts.clone(),
        skipped: c.skipped.clone(),
        left_out: c.left_out.clone(),
        secrets_suspected: c.suspected.clone(),
    }
}
