//! [`BackupError`]: why a run produced no report — the collection or an artifact could not be
//! made, or the run was cancelled. Store failures are not errors of the run: they are recorded
//! per copy in the [`BackupReport`](crate::BackupReport) and reflected in its status.

use std::fmt;

use celeriac_crypto::CryptoError;
use celeriac_store::StoreError;

use crate::archive::{ArchiveError, Change};
use crate::collect::CollectError;
use crate::manifest::Bundle;
use crate::naming::NameError;

/// A stage of the pipeline, for error messages and timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// Collection and archiving on the blocking thread.
    Produce,
    /// The fan-out to the stores.
    Fanout,
    /// Reading copies back.
    Verify,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Produce => "produce",
            Self::Fanout => "fan-out",
            Self::Verify => "verify",
        })
    }
}

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
    Name(#[source] NameError),
    /// Collection failed.
    #[error("collection failed")]
    Collect(#[source] CollectError),
    /// Writing an archive failed (a file changed or became unreadable, or the stream failed).
    #[error("writing the {bundle:?} archive failed")]
    Archive {
        /// Which artifact.
        bundle: Bundle,
        /// Why.
        #[source]
        source: ArchiveError,
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
    /// A pipeline task panicked.
    #[error("the {stage} stage stopped unexpectedly")]
    Task {
        /// Which stage.
        stage: Stage,
        /// The join error.
        #[source]
        source: tokio::task::JoinError,
    },
    /// A store failed in a way that stops the run (reserved for callers that require all copies).
    #[error("store failure")]
    Store(#[source] StoreError),
}

impl BackupError {
    /// `true` when running the backup again later may succeed: a file changed while it was
    /// archived, a root or file was briefly unreadable, a store was unavailable.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Archive {
                source: ArchiveError::FileChanged { change, .. },
                ..
            } => matches!(
                change,
                Change::Shrank | Change::Grew | Change::Content | Change::Replaced
            ),
            Self::Archive {
                source: ArchiveError::Read { .. },
                ..
            }
            | Self::Collect(
                CollectError::RootUnavailable { .. } | CollectError::Unreadable { .. },
            ) => true,
            Self::Store(e) => e.is_transient(),
            _ => false,
        }
    }
}
