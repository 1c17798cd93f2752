//! [`StoreError`]: every failure of a store operation, with the store id, the object key and
//! the operation as fields, and [`StoreError::is_transient`] to decide about retries.
//!
//! Messages never contain credentials: S3 errors keep object_store's error as their source,
//! which names the endpoint, bucket and key but never the signing secret.

use std::fmt;

use crate::digest::{Sha256Digest, SidecarError};
use crate::id::StoreId;
use crate::key::{KeyError, ObjectKey};

/// A boxed error from a lower layer (object_store, the runtime).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The store operation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// [`Store::begin`](crate::Store::begin).
    Begin,
    /// [`Upload::put`](crate::Upload::put).
    Write,
    /// [`Upload::finish`](crate::Upload::finish).
    Finish,
    /// [`Upload::abort`](crate::Upload::abort).
    Abort,
    /// [`Store::put_small`](crate::Store::put_small).
    PutSmall,
    /// [`Store::open`](crate::Store::open) and reading its stream.
    Read,
    /// [`Store::head`](crate::Store::head).
    Head,
    /// [`Store::list`](crate::Store::list).
    List,
    /// [`Store::delete`](crate::Store::delete).
    Delete,
    /// Writing or reading a `.sha256` sidecar.
    Sidecar,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Begin => "begin upload",
            Self::Write => "upload write",
            Self::Finish => "finish upload",
            Self::Abort => "abort upload",
            Self::PutSmall => "put",
            Self::Read => "read",
            Self::Head => "head",
            Self::List => "list",
            Self::Delete => "delete",
            Self::Sidecar => "sidecar",
        })
    }
}

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The key is taken: objects are create-only and are never overwritten.
    #[error("object {key} already exists in store {store}")]
    AlreadyExists {
        /// The store.
        store: StoreId,
        /// The key.
        key: ObjectKey,
    },
    /// No object with this key.
    #[error("object {key} not found in store {store}")]
    NotFound {
        /// The store.
        store: StoreId,
        /// The key.
        key: ObjectKey,
    },
    /// The store could not be reached or failed on its side: connection refused or reset,
    /// timeout, interrupted transfer, 5xx or throttling after the client's own retries.
    #[error("{op} failed in store {store}{}: store unavailable", key_suffix(key.as_ref()))]
    Unavailable {
        /// The store.
        store: StoreId,
        /// The operation.
        op: Operation,
        /// The object, when the operation had one.
        key: Option<ObjectKey>,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// Credentials were rejected or access was denied.
    #[error("{op} failed in store {store}{}: access denied", key_suffix(key.as_ref()))]
    Denied {
        /// The store.
        store: StoreId,
        /// The operation.
        op: Operation,
        /// The object, when the operation had one.
        key: Option<ObjectKey>,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The store refused the request as invalid or unsupported (a 4xx other than auth, missing
    /// or existing object), or answered something this client cannot use.
    #[error("{op} failed in store {store}{}: request rejected", key_suffix(key.as_ref()))]
    Rejected {
        /// The store.
        store: StoreId,
        /// The operation.
        op: Operation,
        /// The object, when the operation had one.
        key: Option<ObjectKey>,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// A local filesystem error.
    #[error("{op} failed in store {store}{}: filesystem error", key_suffix(key.as_ref()))]
    Io {
        /// The store.
        store: StoreId,
        /// The operation.
        op: Operation,
        /// The object, when the operation had one.
        key: Option<ObjectKey>,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The bytes read back do not hash to the expected digest.
    #[error("checksum mismatch for {key} in store {store}: expected {expected}, read {actual}")]
    ChecksumMismatch {
        /// The store.
        store: StoreId,
        /// The key.
        key: ObjectKey,
        /// The digest the caller recorded at upload.
        expected: Sha256Digest,
        /// The digest of the bytes read back.
        actual: Sha256Digest,
    },
    /// The object does not have the expected size.
    #[error("size mismatch for {key} in store {store}: expected {expected} bytes, found {actual}")]
    SizeMismatch {
        /// The store.
        store: StoreId,
        /// The key.
        key: ObjectKey,
        /// Expected size in bytes.
        expected: u64,
        /// Actual size in bytes.
        actual: u64,
    },
    /// The object's `.sha256` sidecar cannot be used.
    #[error("sidecar of {key} in store {store} is invalid")]
    BadSidecar {
        /// The store.
        store: StoreId,
        /// The key.
        key: ObjectKey,
        /// What is wrong with it.
        #[source]
        reason: SidecarError,
    },
    /// A sidecar for this key already exists with a different digest.
    #[error("sidecar of {key} in store {store} already exists with another digest")]
    SidecarConflict {
        /// The store.
        store: StoreId,
        /// The key.
        key: ObjectKey,
    },
    /// [`Store::put_small`](crate::Store::put_small) was given more than it accepts.
    #[error("object {key} for store {store} is {size} bytes; put_small takes at most {limit}")]
    TooLarge {
        /// The store.
        store: StoreId,
        /// The key.
        key: ObjectKey,
        /// Size offered.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// An earlier write of this upload failed; the upload can only be aborted.
    #[error("upload of {key} to store {store} already failed")]
    UploadFailed {
        /// The store.
        store: StoreId,
        /// The key.
        key: ObjectKey,
    },
    /// A key or prefix read back from the store is not valid (a foreign object).
    #[error("store {store} returned an invalid object name")]
    InvalidKey {
        /// The store.
        store: StoreId,
        /// Why the name is invalid.
        #[source]
        source: KeyError,
    },
    /// A blocking task of the store panicked or was cancelled.
    #[error("{op} failed in store {store}: background task failed")]
    Task {
        /// The store.
        store: StoreId,
        /// The operation.
        op: Operation,
        /// The cause.
        #[source]
        source: tokio::task::JoinError,
    },
}

impl StoreError {
    /// `true` when retrying the same operation later may succeed: unavailability (timeouts,
    /// connection resets, 5xx) and interrupted local I/O. Auth, not-found, already-exists,
    /// rejected requests and checksum or size mismatches are permanent.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable { .. } => true,
            Self::Io { source, .. } => is_transient_io(source),
            _ => false,
        }
    }

    /// The store this error comes from.
    pub fn store(&self) -> &StoreId {
        match self {
            Self::AlreadyExists { store, .. }
            | Self::NotFound { store, .. }
            | Self::Unavailable { store, .. }
            | Self::Denied { store, .. }
            | Self::Rejected { store, .. }
            | Self::Io { store, .. }
            | Self::ChecksumMismatch { store, .. }
            | Self::SizeMismatch { store, .. }
            | Self::BadSidecar { store, .. }
            | Self::SidecarConflict { store, .. }
            | Self::TooLarge { store, .. }
            | Self::UploadFailed { store, .. }
            | Self::InvalidKey { store, .. }
            | Self::Task { store, .. } => store,
        }
    }

    /// `true` for [`StoreError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// `true` for [`StoreError::AlreadyExists`].
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Self::AlreadyExists { .. })
    }

    pub(crate) fn io(
        store: &StoreId,
        op: Operation,
        key: Option<&ObjectKey>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            store: store.clone(),
            op,
            key: key.cloned(),
            source,
        }
    }

    pub(crate) fn task(store: &StoreId, op: Operation, source: tokio::task::JoinError) -> Self {
        Self::Task {
            store: store.clone(),
            op,
            source,
        }
    }
}

fn is_transient_io(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::TimedOut
            | K::Interrupted
            | K::WouldBlock
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::BrokenPipe
            | K::UnexpectedEof
    )
}

fn key_suffix(key: Option<&ObjectKey>) -> String {
    key.map(|k| format!(" for {k}")).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn id() -> StoreId {
        StoreId::new("r2").unwrap()
    }

    fn key() -> ObjectKey {
        ObjectKey::new("a/b.enc").unwrap()
    }

    #[test]
    fn transient_classification() {
        let unavailable = StoreError::Unavailable {
            store: id(),
            op: Operation::Write,
            key: Some(key()),
            source: "reset".into(),
        };
        assert!(unavailable.is_transient());
        let denied = StoreError::Denied {
            store: id(),
            op: Operation::Head,
            key: None,
            source: "403".into(),
        };
        assert!(!denied.is_transient());
        let exists = StoreError::AlreadyExists {
            store: id(),
            key: key(),
        };
        assert!(!exists.is_transient());
        let mismatch = StoreError::ChecksumMismatch {
            store: id(),
            key: key(),
            expected: Sha256Digest::of(b"a"),
            actual: Sha256Digest::of(b"b"),
        };
        assert!(!mismatch.is_transient());
        let full = StoreError::io(
            &id(),
            Operation::Finish,
            None,
            std::io::Error::other("enospc"),
        );
        assert!(!full.is_transient());
        let timed_out = StoreError::io(
            &id(),
            Operation::Read,
            None,
            std::io::ErrorKind::TimedOut.into(),
        );
        assert!(timed_out.is_transient());
    }

    #[test]
    fn display_names_store_key_and_operation_without_source_text() {
        let e = StoreError::Unavailable {
            store: id(),
            op: Operation::Finish,
            key: Some(key()),
            source: "secret-bearing detail".into(),
        };
        let text = e.to_string();
        assert_eq!(
            text,
            "finish upload failed in store r2 for a/b.enc: store unavailable"
        );
        assert_eq!(e.store().as_str(), "r2");
    }
}
