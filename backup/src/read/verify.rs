//! Proving a copy: [`verify_artifact`] reads an artifact back from a store and compares its
//! size and SHA-256 with what was written (the caller's expectation, or the digest the store
//! recorded at upload); with [`DeepOptions`] it also decrypts the stream (authenticated to the
//! final chunk) and walks the archive against its `MANIFEST.json`, all in the same single read.
//!
//! Opening and authenticating the artifact (digest, keys, header) is `read/open.rs`'s; the
//! streaming deep check is in `verify/deep.rs`.
//!
//! ```text
//! store.open ─► pump (async) ══ mpsc(4) ══► blocking: HashingReader ─► DecryptReader ─► dry_run
//!                                                    └─ size + SHA-256 (whole stream, always)
//! ```

use std::fmt;
use std::sync::Arc;

use celeriac_crypto::{CryptoError, KeyId, Keyring};
use celeriac_store::{ObjectKey, Sha256Digest, Store, StoreError, StoreId};
use serde::{Serialize, Serializer};
use uuid::Uuid;

mod deep;

pub(crate) use deep::StreamCheck;
use deep::read_deep;

use crate::read::open::{Expected, KeySource, OpenError, compare};

use crate::config::BackupConfig;
use crate::config::limits::Limits;
use crate::manifest::Bundle;
use crate::report::{CopyError, CopyErrorKind};

/// Chunks queued between the download and the blocking reader.
const READ_QUEUE: usize = 4;

/// Where the reference digest came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reference {
    /// The caller's expectation (the pipeline's own hash, the catalog).
    Given,
    /// The digest the store recorded at upload (the `.sha256` sidecar).
    Recorded,
}

/// Decrypt-and-walk settings.
#[derive(Debug, Clone)]
pub struct DeepOptions {
    /// Keys that may open the artifact.
    pub keyring: Arc<Keyring>,
    /// Archive limits (the config file's: [`Self::limits_of`]).
    pub(crate) limits: Limits,
    /// Refuse an artifact of the other bundle.
    pub bundle: Option<Bundle>,
}

impl DeepOptions {
    /// Opens with `keyring`, within the default limits, either bundle.
    pub fn new(keyring: Arc<Keyring>) -> Self {
        Self {
            keyring,
            limits: Limits::default(),
            bundle: None,
        }
    }

    /// Within the archive limits of `config` (`[limits] restore-*`).
    #[must_use]
    pub fn limits_of(self, config: &BackupConfig) -> Self {
        self.with_limits(config.restore_limits.clone())
    }

    test_util_pub! {
        /// Within `limits`.
        #[must_use]
        fn with_limits(mut self, limits: Limits) -> Self {
            self.limits = limits;
            self
        }
    }
}

/// What a deep check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeepReport {
    /// The bundle named by the manifest.
    pub bundle: Bundle,
    /// The header's archive id (the backup id).
    pub archive_id: Uuid,
    /// Recipients in the header.
    #[serde(serialize_with = "key_ids_hex")]
    pub key_ids: Vec<KeyId>,
    /// Tar members checked against the manifest.
    pub entries: u64,
    /// Regular files among them.
    pub files: u64,
    /// Their content bytes.
    pub file_bytes: u64,
    /// Decrypted (`tar.gz`) bytes.
    pub plain_bytes: u64,
}

fn key_ids_hex<S: Serializer>(ids: &[KeyId], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ids.iter().map(ToString::to_string))
}

/// A verified copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The store.
    pub store: StoreId,
    /// The key.
    pub key: ObjectKey,
    /// Bytes read back.
    pub size: u64,
    /// Their SHA-256 (equal to the reference).
    pub sha256: Sha256Digest,
    /// What it was compared with (in the JSON: `reference`).
    pub(crate) reference: Reference,
    /// The deep check, when asked for (in the JSON: `deep`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) deep: Option<DeepReport>,
}

impl VerifyReport {
    test_util_pub! {
        /// The deep check, when asked for.
        fn deep(&self) -> Option<&DeepReport> {
            self.deep.as_ref()
        }
    }
}

/// What a person reads: the size and digest and what they matched, and what the deep check
/// walked (one line each, indented under the caller's `verified <artifact>` line).
impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let against = match self.reference {
            Reference::Given => "the given digest",
            Reference::Recorded => "the digest recorded at upload",
        };
        writeln!(
            f,
            "  {} bytes, sha256 {} (matches {against})",
            self.size, self.sha256
        )?;
        if let Some(deep) = &self.deep {
            let keys: Vec<String> = deep.key_ids.iter().map(ToString::to_string).collect();
            let bundle = match deep.bundle {
                Bundle::Main => "main archive",
                Bundle::Secrets => "secrets bundle",
            };
            writeln!(
                f,
                "  decrypted and walked: {bundle} of backup {}, {} entries ({} files, {} bytes) \
                 match the manifest; key {}",
                deep.archive_id,
                deep.entries,
                deep.files,
                deep.file_bytes,
                keys.join(",")
            )?;
        }
        Ok(())
    }
}

/// Why a copy does not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Reading failed, the object is missing, or size or SHA-256 differ (see the variant of
    /// [`StoreError`]).
    #[error("copy check failed")]
    Store(#[source] StoreError),
    /// No expectation given and the store recorded no digest.
    #[error("no reference SHA-256 for {key} in store {store}")]
    NoReference {
        /// The store.
        store: StoreId,
        /// The key.
        key: ObjectKey,
    },
    /// The copy matched but does not decrypt (wrong key, or damaged before it was hashed).
    #[error("{key} in store {store} does not decrypt")]
    Decrypt {
        /// The store.
        store: StoreId,
        /// The key.
        key: ObjectKey,
        /// Why.
        #[source]
        source: CryptoError,
    },
    /// The decrypted archive is invalid.
    #[error("the archive in {key} (store {store}) is invalid")]
    Archive {
        /// The store.
        store: StoreId,
        /// The key.
        key: ObjectKey,
        /// Why (the archive's own error, behind `source()`).
        #[source]
        source: crate::cause::Cause,
    },
    /// The artifact's authenticated header names another backup than its file name: an old
    /// artifact copied under a newer backup's name.
    #[error(
        "{key} in store {store} is named for backup {named} but its authenticated header says \
         backup {found}"
    )]
    WrongBackup {
        /// The store.
        store: StoreId,
        /// The key.
        key: ObjectKey,
        /// The backup id the name carries.
        named: uuid::Uuid,
        /// The backup id the header carries.
        found: uuid::Uuid,
    },
    /// The blocking reader panicked.
    #[error("verifying {key} in store {store} stopped unexpectedly")]
    Task {
        /// The store.
        store: StoreId,
        /// The key.
        key: ObjectKey,
        /// The join error.
        #[source]
        source: tokio::task::JoinError,
    },
}

impl VerifyError {
    /// `e`, a failure to open or authenticate `key` in `store`, as this copy's error.
    pub(crate) fn opening(store: &dyn Store, key: &ObjectKey, e: OpenError) -> Self {
        let (store, key) = (store.id().clone(), key.clone());
        match e {
            OpenError::Decrypt(source) => Self::Decrypt { store, key, source },
            OpenError::Archive(source) => Self::Archive {
                store,
                key,
                source: source.into(),
            },
            OpenError::WrongBackup { named, found } => Self::WrongBackup {
                store,
                key,
                named,
                found,
            },
        }
    }

    /// The copy's bytes are damaged or are not a valid artifact: another copy may be fine.
    pub fn is_corrupt(&self) -> bool {
        match self {
            Self::Store(e) => matches!(
                e,
                StoreError::ChecksumMismatch { .. } | StoreError::SizeMismatch { .. }
            ),
            Self::Decrypt { source, .. } => source.is_corrupt(),
            Self::Archive { .. } | Self::WrongBackup { .. } => true,
            Self::NoReference { .. } | Self::Task { .. } => false,
        }
    }

    /// No key of the keyring is named in the header.
    pub fn is_wrong_key(&self) -> bool {
        matches!(
            self,
            Self::Decrypt {
                source: CryptoError::NoMatchingKey { .. },
                ..
            }
        )
    }

    /// The error as recorded in a report.
    pub fn to_copy_error(&self) -> CopyError {
        match self {
            Self::Store(e) => CopyError::from_store(e),
            Self::Decrypt { .. } | Self::Archive { .. } | Self::WrongBackup { .. } => {
                CopyError::other(CopyErrorKind::Corrupt, self)
            }
            Self::NoReference { .. } | Self::Task { .. } => {
                CopyError::other(CopyErrorKind::Other, self)
            }
        }
    }
}

/// Reads `key` back from `store` and checks it against `expected` (or, when `None`, against the
/// digest the store recorded at upload); with `deep`, also decrypts and walks it.
///
/// # Errors
/// [`VerifyError`]; a missing object is `VerifyError::Store(StoreError::NotFound { .. })`.
pub async fn verify_artifact(
    store: &dyn Store,
    key: &ObjectKey,
    expected: Option<Expected>,
    deep: Option<&DeepOptions>,
) -> Result<VerifyReport, VerifyError> {
    let (expected, reference) = match expected {
        Some(e) => (e, Reference::Given),
        None => (recorded(store, key).await?, Reference::Recorded),
    };
    let (size, sha256, deep) = match deep {
        None => {
            let got = celeriac_store::read_back(store, key)
                .await
                .map_err(VerifyError::Store)?;
            (got.size, got.sha256, None)
        }
        Some(d) => {
            let keys = KeySource::Ring(Arc::clone(&d.keyring));
            let (size, sha256, deep) = read_deep(store, key, keys, &d.limits, d.bundle).await?;
            compare(store, key, &expected, size, sha256).map_err(VerifyError::Store)?;
            (
                size,
                sha256,
                Some(deep.map_err(|e| VerifyError::opening(store, key, e))?),
            )
        }
    };
    compare(store, key, &expected, size, sha256).map_err(VerifyError::Store)?;
    Ok(VerifyReport {
        store: store.id().clone(),
        key: key.clone(),
        size,
        sha256,
        reference,
        deep,
    })
}

/// The size and digest the store recorded for `key`.
async fn recorded(store: &dyn Store, key: &ObjectKey) -> Result<Expected, VerifyError> {
    let info = store.head(key).await.map_err(VerifyError::Store)?;
    let info = info.ok_or_else(|| {
        VerifyError::Store(StoreError::NotFound {
            store: store.id().clone(),
            key: key.clone(),
        })
    })?;
    let sha256 = info.sha256.ok_or_else(|| VerifyError::NoReference {
        store: store.id().clone(),
        key: key.clone(),
    })?;
    Ok(Expected {
        size: Some(info.size),
        sha256,
    })
}
