//! [`BackupError`]: why a run produced no report — the collection or an artifact could not be
//! made, or the run was cancelled. Store failures are not errors of the run: they are recorded
//! per copy in the [`BackupReport`](crate::report::BackupReport) and reflected in its status.

use celeriac_crypto::CryptoError;

use crate::cause::Cause;
use crate::manifest::Bundle;
use crate::write::archive::ArchiveError;
use crate::write::collect::CollectError;

/// Why a backup run failed as a whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// No store to write to.
    #[error("no store configured")]
    NoStores,
    /// Two stores share an id.
    #[error("two stores share the id {store}")]
    DuplicateStore {
        /// The id.
        store: celeriac_store::StoreId,
    },
    /// An artifact's object key could not be formed.
    #[error("cannot name the artifacts")]
    Name(#[source] Cause),
    /// Collection failed.
    #[error("collection failed")]
    Collect(#[source] Cause),
    /// No file under any root matched a collection rule: an empty backup would restore
    /// nothing, so the run fails instead of storing one.
    #[error(
        "nothing to back up: no configuration file found under {}{}",
        list_paths(roots),
        skipped_note(*skipped)
    )]
    NothingCollected {
        /// The roots walked (as configured).
        roots: Vec<std::path::PathBuf>,
        /// Matched files that were skipped (unreadable, special, ...), listed in no report.
        skipped: usize,
    },
    /// `on-suspected-secret = "fail"` and the scanner found lines it could not settle: nothing
    /// was stored. The report's `secrets_suspected` lists them; the first is named here.
    #[error(
        "refusing to publish: {count} line(s) may hold a secret the redaction left in place \
         (first: {first}); see secrets_suspected in the report, or set \
         on-suspected-secret = \"warn\""
    )]
    SuspectedSecrets {
        /// Lines reported.
        count: usize,
        /// `path:line` of the first.
        first: String,
    },
    /// Writing an archive failed (a file changed or became unreadable, or the stream failed).
    #[error("writing the {bundle:?} archive failed")]
    Archive {
        /// Which artifact.
        bundle: Bundle,
        /// Why.
        #[source]
        source: Cause,
    },
    /// Starting or finishing the encryption failed.
    #[error("encrypting the {bundle:?} archive failed")]
    Encrypt {
        /// Which artifact.
        bundle: Bundle,
        /// Why.
        #[source]
        source: CryptoError,
    },
    /// The last chunk could not be handed to the stores.
    #[error("streaming the {bundle:?} archive failed")]
    Stream {
        /// Which artifact.
        bundle: Bundle,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The cancel token fired.
    #[error("backup cancelled")]
    Cancelled,
    /// The collection-and-archive task (on its blocking thread) panicked.
    #[error("the produce stage stopped unexpectedly")]
    Task(#[source] tokio::task::JoinError),
}

fn list_paths(paths: &[std::path::PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn skipped_note(skipped: usize) -> String {
    match skipped {
        0 => String::new(),
        1 => " (1 matching file was skipped: unreadable or not a regular file)".to_owned(),
        n => format!(" ({n} matching files were skipped: unreadable or not regular files)"),
    }
}

impl BackupError {
    /// `true` when running the backup again later may succeed: a file changed while it was
    /// archived, or a root or file was briefly unreadable.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Archive { source, .. } => matches!(
                source.downcast_ref::<ArchiveError>(),
                Some(ArchiveError::FileChanged { .. } | ArchiveError::Read { .. })
            ),
            Self::Collect(source) => matches!(
                source.downcast_ref::<CollectError>(),
                Some(CollectError::RootUnavailable { .. } | CollectError::Unreadable { .. })
            ),
            _ => false,
        }
    }
}
