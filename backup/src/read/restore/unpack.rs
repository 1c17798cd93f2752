//! The two blocking halves of restoring one copy: [`download`] streams it into a private temp
//! file while hashing it, [`unpack`] opens and authenticates that file (`read/open.rs`: keys,
//! header, to the final chunk) and lists, dry-runs or extracts it through a staging directory.

use std::fs::File;
use std::io::{self, BufReader, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use celeriac_crypto::{CryptoError, KeyId, Keyring};
use celeriac_store::{ObjectKey, Sha256Digest, Store};
use tokio::sync::mpsc;

use super::{CopyFailure, RestoreError, RestoreMode, RestoreOptions};
use crate::manifest::ManifestIndex;
use crate::read::extract::{
    CommitPolicy, ExtractError, ExtractOptions, Staging, commit, dry_run, extract, list,
};
use crate::read::open::{OpenError, authenticate, classify, ensure_complete, pump};
use crate::read::verify::VerifyError;
use crate::stream::chunk::ChunkReader;
use crate::stream::hashing::HashingReader;

/// Streams the copy into a private temp file in `dir`, hashing it on the way.
pub(super) async fn download(
    store: &dyn Store,
    key: &ObjectKey,
    dir: &Path,
) -> Result<(File, u64, Sha256Digest), CopyFailure> {
    let temp = tempfile::Builder::new()
        .prefix(".celeriac-download-")
        .tempfile_in(dir)
        .map_err(|source| {
            CopyFailure::Stop(RestoreError::Scratch {
                dir: dir.to_path_buf(),
                source,
            })
        })?;
    let stream = store
        .open(key)
        .await
        .map_err(|e| CopyFailure::Skip(VerifyError::Store(e)))?;
    let (tx, rx) = mpsc::channel(4);
    let writer = tokio::task::spawn_blocking(move || -> io::Result<(File, u64, Sha256Digest)> {
        // The name goes at once; the open file lives on until the restore is done.
        let mut file = temp.into_file();
        let mut reader = HashingReader::new(ChunkReader::new(rx));
        io::copy(&mut reader, &mut file)?;
        file.sync_all()?;
        file.seek(SeekFrom::Start(0))?;
        let (sha256, size) = reader.finish()?;
        Ok((file, size, sha256))
    });
    let pumped = pump(stream, tx).await;
    let written = writer
        .await
        .map_err(|e| CopyFailure::Stop(RestoreError::Task(e)))?;
    pumped.map_err(|e| CopyFailure::Skip(VerifyError::Store(e)))?;
    written.map_err(|source| {
        CopyFailure::Stop(RestoreError::Scratch {
            dir: dir.to_path_buf(),
            source,
        })
    })
}

/// What unpacking a downloaded copy gave.
pub(super) struct Unpacked {
    pub(super) manifest: ManifestIndex,
    pub(super) entries: u64,
    pub(super) selected: u64,
    pub(super) selected_bytes: u64,
    pub(super) key_ids: Vec<KeyId>,
}

/// Unpacking failures, before they are tied to a copy.
pub(super) enum UnpackError {
    Open(OpenError),
    Target(ExtractError),
}

impl UnpackError {
    pub(super) fn into_failure(
        self,
        store: &dyn Store,
        key: &ObjectKey,
        had_reference: bool,
    ) -> CopyFailure {
        match self {
            Self::Target(e) => CopyFailure::Stop(RestoreError::Target(e.into())),
            // The bytes matched their reference, so every copy carries the same header.
            Self::Open(OpenError::Decrypt(CryptoError::NoMatchingKey { wanted }))
                if had_reference =>
            {
                CopyFailure::Stop(RestoreError::WrongKey { wanted })
            }
            Self::Open(e) => CopyFailure::Skip(VerifyError::opening(store, key, e)),
        }
    }
}

pub(super) fn unpack(
    file: File,
    keyring: &Keyring,
    options: &RestoreOptions,
    named: Option<uuid::Uuid>,
) -> Result<Unpacked, UnpackError> {
    let mut decrypt = authenticate(BufReader::with_capacity(256 * 1024, file), keyring, named)
        .map_err(UnpackError::Open)?;
    let key_ids = decrypt.header().key_ids().collect();
    let extract_options = ExtractOptions {
        limits: options.limits.clone(),
        only: options.only.clone(),
        expect_bundle: Some(options.bundle),
    };
    let (manifest, entries, selected, selected_bytes) = match &options.mode {
        RestoreMode::List => {
            let manifest = list(&mut decrypt, &options.limits).map_err(content_error)?;
            // Authenticate the rest before the listing is believed.
            io::copy(&mut decrypt, &mut io::sink())
                .map_err(|e| UnpackError::Open(OpenError::Decrypt(CryptoError::from(e))))?;
            if manifest.bundle() != options.bundle {
                return Err(UnpackError::Open(OpenError::Archive(
                    ExtractError::WrongBundle {
                        expected: options.bundle,
                        found: manifest.bundle(),
                    },
                )));
            }
            (manifest, 0, 0, 0)
        }
        RestoreMode::DryRun => {
            let s = dry_run(&mut decrypt, &extract_options).map_err(content_error)?;
            (s.manifest, s.entries, s.selected, s.selected_bytes)
        }
        RestoreMode::Extract { target } => {
            let staging = Staging::create_in(&parent_of(target)).map_err(UnpackError::Target)?;
            let s = extract(&mut decrypt, &staging, &extract_options).map_err(content_error)?;
            ensure_complete(&decrypt).map_err(UnpackError::Open)?;
            // A restore never writes into a tree that holds anything (`ensure_new_or_empty`
            // checked it before the download; this checks again at the rename).
            commit(staging, target, CommitPolicy::NewOrEmpty).map_err(UnpackError::Target)?;
            (s.manifest, s.entries, s.selected, s.selected_bytes)
        }
    };
    ensure_complete(&decrypt).map_err(UnpackError::Open)?;
    Ok(Unpacked {
        manifest,
        entries,
        selected,
        selected_bytes,
        key_ids,
    })
}

/// Sorts an extraction error: the target's fault, or the copy's.
fn content_error(e: ExtractError) -> UnpackError {
    match e {
        ExtractError::Staging { .. }
        | ExtractError::TargetNotEmpty { .. }
        | ExtractError::Conflict { .. }
        | ExtractError::InvalidGlob { .. } => UnpackError::Target(e),
        e => UnpackError::Open(classify(e)),
    }
}

pub(super) fn parent_of(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
