//! Restoring an artifact: [`restore`] tries the given copies in order and uses the first that
//! is present, matches its reference SHA-256 and decrypts.
//!
//! ```text
//! for each copy:  head (reference digest) ─► download to a private temp file, hashing
//!                 ─► compare ─► DecryptReader (authenticated to the final chunk)
//!                 ─► list | dry run | extract into Staging ─► commit into the target
//!       missing, mismatching, damaged? ─► next copy
//! ```
//!
//! Nothing reaches the target before the whole artifact authenticated and every entry
//! validated: extraction writes into a fresh staging directory next to the target and
//! `commit` moves it into place only then. The secrets bundle is restored only when asked for
//! ([`RestoreOptions::bundle`]), with a keyring holding the secrets key.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use celeriac_crypto::{CryptoError, KeyId, Keyring};
use celeriac_store::{ObjectKey, Sha256Digest, Store, StoreError, StoreId};
use serde::Serialize;

use crate::config::BackupConfig;
use crate::config::limits::Limits;
use crate::manifest::{Bundle, ManifestEntryRef, ManifestIndex};
use crate::read::extract::{self, ExtractError, PathFilter};
use crate::report::CopyError;
mod unpack;

use unpack::{download, parent_of, unpack};

use crate::read::open::{Expected, compare, named_backup};
use crate::read::verify::{Reference, VerifyError};

/// One copy to restore from.
#[derive(Debug, Clone)]
pub struct RestoreSource {
    /// The store holding it.
    pub store: Arc<dyn Store>,
    /// Its key there.
    pub key: ObjectKey,
    /// What it must match; `None`: the digest the store recorded, if any.
    pub expected: Option<Expected>,
}

/// What to do with the artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreMode {
    /// Extract into `target`, which must not exist or be empty (it is created).
    Extract {
        /// The directory to restore into.
        target: PathBuf,
    },
    /// Validate everything, write nothing.
    DryRun,
    /// Read the manifest (and authenticate the whole artifact), write nothing.
    List,
}

/// Settings of [`restore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreOptions {
    /// Extract, dry run or list.
    pub mode: RestoreMode,
    /// The bundle expected: [`Bundle::Secrets`] must be asked for explicitly.
    pub bundle: Bundle,
    /// Globs over archive paths; empty: everything.
    pub only: Vec<String>,
    /// Archive limits (the config file's: [`Self::limits_of`]).
    pub(crate) limits: Limits,
    /// Where the downloaded copy is kept while it is checked (a private temp file, removed
    /// afterwards). Default: the target's parent directory when extracting, else the system
    /// temp directory.
    pub scratch_dir: Option<PathBuf>,
}

impl RestoreOptions {
    /// Restore the main archive into `target`.
    pub fn extract_to(target: impl Into<PathBuf>) -> Self {
        Self::with_mode(RestoreMode::Extract {
            target: target.into(),
        })
    }

    /// Options for `mode`, main bundle, everything, default limits.
    pub fn with_mode(mode: RestoreMode) -> Self {
        Self {
            mode,
            bundle: Bundle::Main,
            only: Vec::new(),
            limits: Limits::default(),
            scratch_dir: None,
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

    /// Removes the staging directories in `parent` (an extraction target's parent) left by
    /// restores that were killed (their process is gone) and that the current user owns;
    /// returns what it removed. Directories of running restores are left alone.
    pub fn remove_stale_staging(parent: &Path) -> Vec<PathBuf> {
        extract::remove_stale_staging(parent)
    }

    /// Removes this process's own staging directories in `parent` (on SIGINT or SIGTERM,
    /// before exiting, while extraction may still be writing); returns what it removed.
    pub fn remove_own_staging(parent: &Path) -> Vec<PathBuf> {
        extract::remove_own_staging(parent)
    }
}

/// A copy that was tried and not used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreAttempt {
    /// The store.
    pub store: StoreId,
    /// The key.
    pub key: ObjectKey,
    /// Why it was not used.
    pub error: CopyError,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    /// The store the artifact was read from.
    pub store: StoreId,
    /// Its key there.
    pub key: ObjectKey,
    /// Its size.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: Sha256Digest,
    /// What the digest was checked against; `None` when no reference existed (the artifact
    /// still authenticated under the key).
    pub(crate) reference: Option<Reference>,
    /// Copies tried before, and why they were skipped.
    pub skipped_copies: Vec<RestoreAttempt>,
    /// The archive's manifest (the listing, see [`Self::entries`]), in its compact form;
    /// serializes as `MANIFEST.json` does.
    pub(crate) manifest: ManifestIndex,
    /// Entries validated (0 for a listing).
    pub entries: u64,
    /// Entries selected by the globs (written, when extracting).
    pub selected: u64,
    /// Content bytes of the selected files.
    pub selected_bytes: u64,
    /// Where the tree went, when extracting.
    pub target: Option<PathBuf>,
    /// Key ids in the artifact's header.
    #[serde(serialize_with = "key_ids_hex")]
    pub key_ids: Vec<KeyId>,
}

impl PathFilter {
    /// Compiles `globs` (what [`RestoreOptions::only`] holds); no globs selects everything.
    ///
    /// # Errors
    /// [`RestoreError::Target`] naming the first pattern that does not compile (a restore with
    /// these globs would fail the same way).
    pub fn new(globs: &[String]) -> Result<Self, RestoreError> {
        Self::compile(globs).map_err(|e| RestoreError::Target(e.into()))
    }
}

impl RestoreReport {
    /// The archive's entries (the listing), in manifest order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = ManifestEntryRef<'_>> {
        self.manifest.entries()
    }

    test_util_pub! {
        /// The archive's manifest.
        fn manifest(&self) -> &ManifestIndex {
            &self.manifest
        }
    }
}

fn key_ids_hex<S: serde::Serializer>(ids: &[KeyId], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ids.iter().map(ToString::to_string))
}

/// Why nothing was restored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// No copy given.
    #[error("no copy to restore from")]
    NoSources,
    /// The artifact is encrypted under none of the keys given.
    #[error(
        "none of the given keys opens the artifact (it wants key {})",
        wanted_ids(wanted)
    )]
    WrongKey {
        /// The key ids its header names.
        wanted: Vec<KeyId>,
    },
    /// Every copy was missing, damaged or unreadable.
    #[error("no usable copy among {} tried", attempts.len())]
    AllCopiesFailed {
        /// Each copy and why it was skipped.
        attempts: Vec<RestoreAttempt>,
        /// The last copy's error.
        #[source]
        last: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The target or the options are the problem (target not empty, a conflict, a bad glob, a
    /// filesystem error while writing): another copy would not help.
    #[error("restore into the target failed")]
    Target(#[source] crate::cause::Cause),
    /// The temp file for the download could not be created.
    #[error("cannot create a temp file in {}", dir.display())]
    Scratch {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A blocking task panicked.
    #[error("restore stopped unexpectedly")]
    Task(#[source] tokio::task::JoinError),
}

fn wanted_ids(ids: &[KeyId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Why one copy was not used.
enum CopyFailure {
    /// Try the next copy.
    Skip(VerifyError),
    /// Stop: no other copy can help.
    Stop(RestoreError),
}

/// Restores from the first usable copy of `sources` (see the module docs).
///
/// # Errors
/// [`RestoreError`].
pub async fn restore(
    sources: &[RestoreSource],
    keyring: Arc<Keyring>,
    options: &RestoreOptions,
) -> Result<RestoreReport, RestoreError> {
    if sources.is_empty() {
        return Err(RestoreError::NoSources);
    }
    // The target's missing ancestors, which the staging directory needs: made now, and removed
    // again (when still empty) if the restore fails, so a failure leaves nothing behind.
    let made = match &options.mode {
        RestoreMode::Extract { target, .. } if options.scratch_dir.is_none() => {
            missing_ancestors(target)
        }
        _ => Vec::new(),
    };
    let result = restore_from(sources, keyring, options).await;
    if result.is_err() {
        for dir in &made {
            // Only empty ones go; a concurrent writer's files are never touched.
            let _ = std::fs::remove_dir(dir);
        }
    }
    result
}

/// The ancestors of `target` that do not exist yet, deepest first.
fn missing_ancestors(target: &Path) -> Vec<PathBuf> {
    let mut missing = Vec::new();
    let mut dir = parent_of(target);
    while !dir.as_os_str().is_empty() && std::fs::symlink_metadata(&dir).is_err() {
        missing.push(dir.clone());
        match dir.parent() {
            Some(parent) => dir = parent.to_path_buf(),
            None => break,
        }
    }
    missing
}

async fn restore_from(
    sources: &[RestoreSource],
    keyring: Arc<Keyring>,
    options: &RestoreOptions,
) -> Result<RestoreReport, RestoreError> {
    if let RestoreMode::Extract { target } = &options.mode {
        ensure_new_or_empty(target)?;
    }
    let mut skipped = Vec::new();
    let mut last = None;
    // Key ids wanted by copies that no given key opens, while that is every failure so far.
    let mut wanted: Option<Vec<KeyId>> = None;
    let mut only_wrong_key = true;
    for source in sources {
        match try_copy(source, &keyring, options).await {
            Ok(mut report) => {
                report.skipped_copies = skipped;
                return Ok(report);
            }
            Err(CopyFailure::Stop(e)) => return Err(e),
            Err(CopyFailure::Skip(e)) => {
                tracing::warn!(store = %source.store.id(), key = %source.key, error = %celeriac_error_chain::error_chain(&e), "copy not usable, trying the next");
                skipped.push(RestoreAttempt {
                    store: source.store.id().clone(),
                    key: source.key.clone(),
                    error: e.to_copy_error(),
                });
                match &e {
                    VerifyError::Decrypt {
                        source: CryptoError::NoMatchingKey { wanted: ids },
                        ..
                    } => wanted = Some(ids.clone()),
                    _ => only_wrong_key = false,
                }
                last = Some(e);
            }
        }
    }
    if let Some(wanted) = wanted.filter(|_| only_wrong_key) {
        return Err(RestoreError::WrongKey { wanted });
    }
    Err(RestoreError::AllCopiesFailed {
        attempts: skipped,
        last: last.map_or_else(|| Box::from("no copy"), |e| Box::new(e) as Box<_>),
    })
}

fn ensure_new_or_empty(target: &Path) -> Result<(), RestoreError> {
    match std::fs::read_dir(target) {
        Ok(mut entries) => match entries.next() {
            Some(_) => Err(RestoreError::Target(
                ExtractError::TargetNotEmpty {
                    path: target.to_path_buf(),
                }
                .into(),
            )),
            None => Ok(()),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(_) if target.exists() => Err(RestoreError::Target(
            ExtractError::TargetNotEmpty {
                path: target.to_path_buf(),
            }
            .into(),
        )),
        Err(_) => Ok(()),
    }
}

async fn try_copy(
    source: &RestoreSource,
    keyring: &Arc<Keyring>,
    options: &RestoreOptions,
) -> Result<RestoreReport, CopyFailure> {
    let store = source.store.as_ref();
    let (expected, reference) = match source.expected {
        Some(e) => (Some(e), Some(Reference::Given)),
        None => recorded(store, &source.key).await?,
    };
    let scratch = scratch_dir(options).map_err(CopyFailure::Stop)?;
    let (file, size, sha256) = download(store, &source.key, &scratch).await?;
    if let Some(expected) = &expected {
        compare(store, &source.key, expected, size, sha256)
            .map_err(|e| CopyFailure::Skip(VerifyError::Store(e)))?;
    }
    let keyring = Arc::clone(keyring);
    let opts = options.clone();
    let named = named_backup(&source.key);
    let unpacked = tokio::task::spawn_blocking(move || unpack(file, &keyring, &opts, named))
        .await
        .map_err(|e| CopyFailure::Stop(RestoreError::Task(e)))?;
    let done = unpacked.map_err(|e| e.into_failure(store, &source.key, reference.is_some()))?;
    Ok(RestoreReport {
        store: store.id().clone(),
        key: source.key.clone(),
        size,
        sha256,
        reference,
        skipped_copies: Vec::new(),
        manifest: done.manifest,
        entries: done.entries,
        selected: done.selected,
        selected_bytes: done.selected_bytes,
        target: match &options.mode {
            RestoreMode::Extract { target, .. } => Some(target.clone()),
            _ => None,
        },
        key_ids: done.key_ids,
    })
}

/// The recorded digest, if any; a missing object skips the copy.
async fn recorded(
    store: &dyn Store,
    key: &ObjectKey,
) -> Result<(Option<Expected>, Option<Reference>), CopyFailure> {
    match store.head(key).await {
        Ok(Some(info)) => Ok(match info.sha256 {
            Some(sha256) => (
                Some(Expected {
                    size: Some(info.size),
                    sha256,
                }),
                Some(Reference::Recorded),
            ),
            None => (None, None),
        }),
        Ok(None) => Err(CopyFailure::Skip(VerifyError::Store(
            StoreError::NotFound {
                store: store.id().clone(),
                key: key.clone(),
            },
        ))),
        // A sidecar that cannot be parsed is no reference; decryption still authenticates.
        Err(StoreError::BadSidecar { .. }) => Ok((None, None)),
        Err(e) => Err(CopyFailure::Skip(VerifyError::Store(e))),
    }
}

fn scratch_dir(options: &RestoreOptions) -> Result<PathBuf, RestoreError> {
    if let Some(dir) = &options.scratch_dir {
        return Ok(dir.clone());
    }
    match &options.mode {
        RestoreMode::Extract { target, .. } => {
            let parent = parent_of(target);
            std::fs::create_dir_all(&parent).map_err(|source| RestoreError::Scratch {
                dir: parent.clone(),
                source,
            })?;
            Ok(parent)
        }
        RestoreMode::DryRun | RestoreMode::List => Ok(std::env::temp_dir()),
    }
}
