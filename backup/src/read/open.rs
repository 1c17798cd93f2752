//! Opening a stored artifact and authenticating it: the one place where the read side decides
//! whether the bytes of a copy are the artifact they claim to be. It owns reading a stored
//! object into a bounded channel ([`pump`]), checking its size and SHA-256 against a reference
//! ([`compare`]), opening its encrypted stream with the keys at hand (the header names the key
//! ids: [`KeySource`], [`authenticate`]), refusing a header whose backup id is not the one the
//! artifact's name carries ([`named_backup`]), and insisting that decryption reached the final
//! chunk ([`ensure_complete`]). [`OpenError`] is what failed, before it is tied to a store and
//! key. Verification (`verify/`) and restore (`restore/`) both open artifacts through here.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use celeriac_crypto::{CryptoError, DecryptReader, Keyring};
use celeriac_store::{ByteStream, ObjectKey, Sha256Digest, Store, StoreError};
use futures::StreamExt as _;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::config::keys::BackupKeys;
use crate::config::naming::ArtifactName;
use crate::read::extract::ExtractError;

/// What a copy must match: its size when known, and the SHA-256 of its stored bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// The size, when known.
    pub size: Option<u64>,
    /// The SHA-256 of the stored bytes.
    pub sha256: Sha256Digest,
}

/// The keys a blocking reader opens artifacts with.
#[derive(Clone)]
pub(crate) enum KeySource {
    /// A caller's keyring.
    Ring(Arc<Keyring>),
    /// The pipeline's own keys.
    Backup(Arc<BackupKeys>),
}

impl KeySource {
    pub(crate) fn ring(&self) -> &Keyring {
        match self {
            Self::Ring(ring) => ring,
            Self::Backup(keys) => keys.keyring(),
        }
    }
}

/// Why an artifact's content failed to open or to prove itself, before it is tied to a store
/// and key.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// The artifact does not decrypt (no key opens it, or not to the end).
    #[error("the artifact does not decrypt")]
    Decrypt(#[source] CryptoError),
    /// The decrypted archive is invalid.
    #[error("the archive is invalid")]
    Archive(#[source] ExtractError),
    /// The header names another backup than the artifact's name.
    #[error("the artifact is named for backup {named} but its header says backup {found}")]
    WrongBackup {
        /// From the name.
        named: Uuid,
        /// From the authenticated header.
        found: Uuid,
    },
}

/// Feeds a store stream into a channel until it ends, the receiver goes, or a read fails.
pub(crate) async fn pump(
    mut stream: ByteStream,
    tx: mpsc::Sender<Bytes>,
) -> Result<(), StoreError> {
    while let Some(chunk) = stream.next().await {
        if tx.send(chunk?).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// Checks what was read of `key` (its `size` and `sha256`) against `expected`.
///
/// # Errors
/// [`StoreError::SizeMismatch`] or [`StoreError::ChecksumMismatch`].
pub(crate) fn compare(
    store: &dyn Store,
    key: &ObjectKey,
    expected: &Expected,
    size: u64,
    sha256: Sha256Digest,
) -> Result<(), StoreError> {
    if let Some(want) = expected.size.filter(|want| *want != size) {
        return Err(StoreError::SizeMismatch {
            store: store.id().clone(),
            key: key.clone(),
            expected: want,
            actual: size,
        });
    }
    if sha256 != expected.sha256 {
        return Err(StoreError::ChecksumMismatch {
            store: store.id().clone(),
            key: key.clone(),
            expected: expected.sha256,
            actual: sha256,
        });
    }
    Ok(())
}

/// The backup id an artifact's object key carries, when it is named as celeriac names them.
pub(crate) fn named_backup(key: &ObjectKey) -> Option<Uuid> {
    ArtifactName::from_key(key)
        .ok()
        .map(|name| *name.backup_id.as_uuid())
}

/// Opens the encrypted stream `reader` with `keyring` (its header names the key ids; none
/// given opens it: `CryptoError::NoMatchingKey`) and refuses a header whose backup id differs
/// from `named`, the one the artifact's name carries.
pub(crate) fn authenticate<R: io::Read>(
    reader: R,
    keyring: &Keyring,
    named: Option<Uuid>,
) -> Result<DecryptReader<R>, OpenError> {
    let decrypt = DecryptReader::new(reader, keyring).map_err(OpenError::Decrypt)?;
    let found = decrypt.header().archive_id();
    match named {
        Some(named) if named != found => Err(OpenError::WrongBackup { named, found }),
        _ => Ok(decrypt),
    }
}

/// Refuses a stream whose decryption stopped before the final chunk (a truncated artifact).
pub(crate) fn ensure_complete<R: io::Read>(decrypt: &DecryptReader<R>) -> Result<(), OpenError> {
    if decrypt.is_complete() {
        Ok(())
    } else {
        Err(OpenError::Decrypt(CryptoError::Truncated {
            chunks: decrypt.chunks_read(),
        }))
    }
}

/// A decryption failure surfaces as the extractor's `Source` error; give it back its name.
pub(crate) fn classify(e: ExtractError) -> OpenError {
    match e {
        ExtractError::Source { source } if CryptoError::from_io(&source).is_some() => {
            OpenError::Decrypt(CryptoError::from(source))
        }
        e => OpenError::Archive(e),
    }
}
