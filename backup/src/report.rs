//! [`BackupReport`]: the typed, JSON-serialisable facts of one backup run — what was collected
//! and skipped, each artifact's sizes, digests and key ids, each store's copy (stored? verified?
//! where? how many attempts? what went wrong?), stage timings and the overall
//! [`BackupStatus`]. No secret ever reaches it: no key material, no file content, and no
//! plaintext digest of the secrets bundle.
//!
//! The JSON field names are stable (the worker records them, scripts read them).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use celeriac_crypto::KeyId;
use celeriac_error_chain::error_chain;
use celeriac_store::{ObjectKey, Sha256Digest, StoreError, StoreId, StoreKind};
use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

mod collection;
mod skip;
mod text;

pub use collection::{CategoryCount, LeftOut, SuspectReason, SuspectedSecret};
pub use skip::{Skip, SkipReason, SpecialKind};

use crate::id::BackupId;
use crate::manifest::Bundle;
use crate::manifest::Category;

/// The outcome of a run, by the copies it left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BackupStatus {
    /// Every configured store holds a verified copy of every artifact.
    Verified,
    /// Some stores do, some do not.
    Partial,
    /// No store does.
    Failed,
}

impl BackupStatus {
    /// The status when `complete` of `total` stores hold verified copies of every artifact.
    pub fn from_counts(complete: usize, total: usize) -> Self {
        match complete {
            0 => Self::Failed,
            n if n >= total => Self::Verified,
            _ => Self::Partial,
        }
    }

    /// The status of a run whose copies earned `self` but whose collection could not read a
    /// file that holds secrets (see `Skip::is_missing_secret`): at best PARTIAL, since a
    /// restore of it would miss that file.
    #[must_use]
    pub fn with_missing_secrets(self, missing: bool) -> Self {
        match self {
            Self::Verified if missing => Self::Partial,
            other => other,
        }
    }
}

impl fmt::Display for BackupStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Verified => "VERIFIED",
            Self::Partial => "PARTIAL",
            Self::Failed => "FAILED",
        })
    }
}

/// Everything one run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupReport {
    /// The run's id (also each artifact's `archive_id`).
    pub backup_id: BackupId,
    /// The overall outcome.
    pub status: BackupStatus,
    /// When the run started (UTC; the artifact names use it, to the second).
    pub started_at: DateTime<Utc>,
    /// What collection found (in the JSON: `collection`; see [`Self::files_collected`]).
    pub(crate) collection: CollectionReport,
    /// The main archive first, then the secrets bundle when there was anything secret.
    pub artifacts: Vec<ArtifactReport>,
    /// Per store: does it hold a verified copy of every artifact? (In the JSON: `stores`; see
    /// [`Self::incomplete_stores`].)
    pub(crate) stores: Vec<StoreSummary>,
    /// Time spent per stage (in the JSON: `timings`).
    pub(crate) timings: StageTimings,
}

/// What collection found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectionReport {
    /// Files and symlinks collected into either bundle (the platform's `files_collected`).
    pub files_collected: u64,
    /// Files and symlinks collected per category (the platform's `file_categories`).
    pub file_categories: BTreeMap<Category, u64>,
    /// SHA-256 (hex) of the sorted list of collected paths, one per line: equal digests mean
    /// two runs collected the same set of names.
    pub file_list_sha256: Sha256Digest,
    /// Bytes of those files as found on disk.
    pub bytes: u64,
    /// Entries of the main archive (files, directories, symlinks, the sanitized `.env`).
    pub main_entries: u64,
    /// Entries of the secrets bundle.
    pub secrets_entries: u64,
    /// Collected files per category.
    pub categories: BTreeMap<Category, CategoryCount>,
    /// Matched files left out, with reasons.
    pub skipped: Vec<Skip>,
    /// Config-looking files that no rule took (for a `[[collect.rules]]` entry).
    pub left_out: LeftOut,
    /// Lines of collected configuration files that may hold a secret the redaction left in
    /// place: path and line number, never the value.
    pub secrets_suspected: Vec<SuspectedSecret>,
}

/// Sizes of one artifact at each stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(clippy::struct_field_names, reason = "the report's JSON field names")]
pub struct ArtifactSizes {
    /// Sum of the archived files' sizes.
    pub file_bytes: u64,
    /// The uncompressed tar stream.
    pub tar_bytes: u64,
    /// The `tar.gz` (the plaintext that is encrypted).
    pub gz_bytes: u64,
    /// The stored artifact (header plus encrypted chunks).
    pub stored_bytes: u64,
}

/// One artifact and its copies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArtifactReport {
    /// Main archive or secrets bundle.
    pub bundle: Bundle,
    /// The artifact's file name (the last segment of every copy's key).
    pub file_name: String,
    /// Tar members, the manifest not counted.
    pub entries: u64,
    /// Regular files among them.
    pub files: u64,
    /// Sizes at each stage (in the JSON: `sizes`; see [`Self::stored_bytes`]).
    pub(crate) sizes: ArtifactSizes,
    /// `tar_bytes / gz_bytes`, rounded to 3 decimals (0 for an empty stream).
    pub compression_ratio: f64,
    /// SHA-256 of the stored bytes: every copy must hash to this.
    pub sha256: Sha256Digest,
    /// SHA-256 of the plaintext `tar.gz` (main archive only: for the secrets bundle a plaintext
    /// digest could help guess weak secrets, so it is not reported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plain_sha256: Option<Sha256Digest>,
    /// SHA-256 of `MANIFEST.json` (main archive only, for the same reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<Sha256Digest>,
    /// Ids of the keys the artifact is encrypted under.
    #[serde(serialize_with = "key_ids_hex")]
    pub key_ids: Vec<KeyId>,
    /// One entry per configured store, in configuration order.
    pub copies: Vec<CopyReport>,
}

impl ArtifactReport {
    /// The copy in `store`.
    pub fn copy(&self, store: &str) -> Option<&CopyReport> {
        self.copies.iter().find(|c| c.store.as_str() == store)
    }

    /// The stored artifact's size (header plus encrypted chunks): every copy has this size.
    pub fn stored_bytes(&self) -> u64 {
        self.sizes.stored_bytes
    }

    test_util_pub! {
        /// Sizes at each stage.
        fn sizes(&self) -> &ArtifactSizes {
            &self.sizes
        }
    }
}

impl CopyReport {
    /// The store published the object.
    pub fn is_stored(&self) -> bool {
        self.state.is_stored()
    }

    /// The object was read back and matched size and SHA-256 (only verified copies count).
    pub fn is_verified(&self) -> bool {
        self.state.is_verified()
    }

    /// Verified, and its bytes decrypt and their archive walks cleanly against its manifest.
    pub fn is_deep_verified(&self) -> bool {
        self.state.is_deep_verified()
    }

    test_util_pub! {
        /// How far the copy got.
        fn state(&self) -> CopyState {
            self.state
        }
    }

    test_util_pub! {
        /// How the final copy was written.
        fn origin(&self) -> Option<CopyOrigin> {
            self.origin.clone()
        }
    }
}

/// How a copy came to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "via")]
pub enum CopyOrigin {
    /// Written from the live stream.
    Stream,
    /// Uploaded again from a verified copy in another store.
    Retry {
        /// The store the bytes were read from.
        from: StoreId,
    },
    /// The object already existed (an earlier attempt published it) and matched.
    Existing,
}

/// How far one copy got. Each state includes the ones before it, so no impossible mix (a
/// verified copy that was never stored) can be written down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CopyState {
    /// The store holds no object of this run (the upload failed or never finished).
    Failed,
    /// The store published the object, but reading it back did not match (or failed).
    Stored,
    /// The object was read back and matched size and SHA-256. Only verified copies count.
    Verified,
    /// Verified, and its bytes — proven equal to the stream by SHA-256 — decrypt to the final
    /// chunk and their archive walks cleanly against its manifest (the deep check runs on the
    /// stream during the upload).
    DeepVerified,
}

impl CopyState {
    /// The state from what the run saw: published, read back and matched, deep-checked (a deep
    /// check counts only for a verified copy).
    pub fn of(stored: bool, verified: bool, deep: bool) -> Self {
        match (stored, verified, deep) {
            (true, true, true) => Self::DeepVerified,
            (true, true, false) => Self::Verified,
            (true, false, _) => Self::Stored,
            (false, _, _) => Self::Failed,
        }
    }

    /// The store published the object.
    pub fn is_stored(self) -> bool {
        self >= Self::Stored
    }

    /// The object was read back and matched.
    pub fn is_verified(self) -> bool {
        self >= Self::Verified
    }

    /// Verified and deep-checked.
    pub fn is_deep_verified(self) -> bool {
        self == Self::DeepVerified
    }

    /// The state's name in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Stored => "stored",
            Self::Verified => "verified",
            Self::DeepVerified => "deep-verified",
        }
    }
}

/// `{"state": "...", "stored": bool, "verified": bool, "deep_verified": bool}`, flattened into
/// the copy's JSON object (the booleans are the report's stable field names).
impl Serialize for CopyState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = s.serialize_map(Some(4))?;
        map.serialize_entry("state", self.as_str())?;
        map.serialize_entry("stored", &self.is_stored())?;
        map.serialize_entry("verified", &self.is_verified())?;
        map.serialize_entry("deep_verified", &self.is_deep_verified())?;
        map.end()
    }
}

/// One store's copy of one artifact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CopyReport {
    /// The store.
    pub store: StoreId,
    /// What it is built on.
    pub kind: StoreKind,
    /// The object key in that store.
    pub key: ObjectKey,
    /// How far the copy got (in the JSON: `state`, and the booleans `stored`, `verified`,
    /// `deep_verified` that scripts read).
    #[serde(flatten)]
    pub(crate) state: CopyState,
    /// Upload attempts (1 = the streamed one).
    pub attempts: u32,
    /// How the final copy was written; absent when there is none (in the JSON: `via`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) origin: Option<CopyOrigin>,
    /// Why there is no verified copy (the last error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<CopyError>,
}

/// Classes of copy failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CopyErrorKind {
    /// The store could not be reached or failed on its side.
    Unavailable,
    /// Credentials or permissions were refused.
    Denied,
    /// The store refused the request.
    Rejected,
    /// The key was taken by an object that does not match.
    AlreadyExists,
    /// The object is missing.
    NotFound,
    /// The copy read back differs in size.
    SizeMismatch,
    /// The copy read back differs in content.
    ChecksumMismatch,
    /// A local filesystem error.
    Io,
    /// The copy did not decrypt or its archive is invalid (deep verification).
    Corrupt,
    /// Anything else.
    Other,
}

/// The last error of a copy: its class, whether it may pass, and the message chain (store
/// errors name stores, keys and operations, never credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyError {
    /// The class.
    pub kind: CopyErrorKind,
    /// Whether retrying could succeed.
    pub transient: bool,
    /// The error and its causes, joined with `: `.
    pub message: String,
}

impl CopyError {
    /// Classifies a store error.
    pub fn from_store(e: &StoreError) -> Self {
        let kind = match e {
            StoreError::Unavailable { .. } => CopyErrorKind::Unavailable,
            StoreError::Denied { .. } => CopyErrorKind::Denied,
            StoreError::Rejected { .. } | StoreError::TooLarge { .. } => CopyErrorKind::Rejected,
            StoreError::AlreadyExists { .. } | StoreError::SidecarConflict { .. } => {
                CopyErrorKind::AlreadyExists
            }
            StoreError::NotFound { .. } => CopyErrorKind::NotFound,
            StoreError::SizeMismatch { .. } => CopyErrorKind::SizeMismatch,
            StoreError::ChecksumMismatch { .. } => CopyErrorKind::ChecksumMismatch,
            StoreError::Io { .. } => CopyErrorKind::Io,
            _ => CopyErrorKind::Other,
        };
        Self {
            kind,
            transient: e.is_transient(),
            message: error_chain(e),
        }
    }

    /// An error of another layer, with an explicit class.
    pub fn other(kind: CopyErrorKind, e: &(dyn std::error::Error + 'static)) -> Self {
        Self {
            kind,
            transient: false,
            message: error_chain(e),
        }
    }
}

/// Whether a store ended the run with verified copies of every artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreSummary {
    /// The store.
    pub store: StoreId,
    /// What it is built on.
    pub kind: StoreKind,
    /// Every artifact has a verified copy here.
    pub complete: bool,
}

/// Wall time per stage, in milliseconds. Streaming overlaps archiving and uploading: `stream_ms`
/// covers both, per artifact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[allow(clippy::struct_field_names, reason = "the report's JSON field names")]
pub struct StageTimings {
    /// Walking the roots and reading every matched file once.
    #[serde(serialize_with = "millis")]
    pub collect_ms: Duration,
    /// Archive → gzip → encrypt → hash → fan-out of the main archive, until every store finished.
    #[serde(serialize_with = "millis")]
    pub stream_main_ms: Duration,
    /// The same for the secrets bundle.
    #[serde(serialize_with = "millis")]
    pub stream_secrets_ms: Duration,
    /// Reading every copy back.
    #[serde(serialize_with = "millis")]
    pub verify_ms: Duration,
    /// Uploading failed copies again from verified ones (backoff included).
    #[serde(serialize_with = "millis")]
    pub retry_ms: Duration,
    /// The whole run.
    #[serde(serialize_with = "millis")]
    pub total_ms: Duration,
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn key_ids_hex<S: Serializer>(ids: &[KeyId], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ids.iter().map(ToString::to_string))
}

/// `tar / gz` rounded to 3 decimals.
pub(crate) fn ratio(tar_bytes: u64, gz_bytes: u64) -> f64 {
    if gz_bytes == 0 {
        return 0.0;
    }
    #[allow(
        clippy::cast_precision_loss,
        reason = "a ratio for people; 3 decimals are kept"
    )]
    let r = tar_bytes as f64 / gz_bytes as f64;
    (r * 1000.0).round() / 1000.0
}

impl BackupReport {
    /// `true` when collection could not read a file that holds secrets (see
    /// [`BackupStatus::with_missing_secrets`]): a restore of this run would miss it.
    pub fn misses_secrets(&self) -> bool {
        self.collection.skipped.iter().any(Skip::is_missing_secret)
    }

    /// The report as pretty JSON (the `--json` output).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The artifact of `bundle`, if the run produced one.
    pub fn artifact(&self, bundle: Bundle) -> Option<&ArtifactReport> {
        self.artifacts.iter().find(|a| a.bundle == bundle)
    }

    /// Files and symlinks collected into either bundle (the platform's `files_collected`).
    pub fn files_collected(&self) -> u64 {
        self.collection.files_collected
    }

    /// Files and symlinks collected per category, by the category's name (the platform's
    /// `file_categories`).
    pub fn file_categories(&self) -> impl Iterator<Item = (String, u64)> + '_ {
        self.collection
            .file_categories
            .iter()
            .map(|(category, n)| (category.to_string(), *n))
    }

    test_util_pub! {
        /// Per store: does it hold a verified copy of every artifact?
        fn stores(&self) -> &[StoreSummary] {
            &self.stores
        }
    }

    /// Stores without a verified copy of every artifact.
    pub fn incomplete_stores(&self) -> impl Iterator<Item = &StoreId> + '_ {
        self.stores.iter().filter(|s| !s.complete).map(|s| &s.store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_complete_store_count() {
        assert_eq!(BackupStatus::from_counts(3, 3), BackupStatus::Verified);
        assert_eq!(BackupStatus::from_counts(2, 3), BackupStatus::Partial);
        assert_eq!(BackupStatus::from_counts(0, 3), BackupStatus::Failed);
        assert_eq!(BackupStatus::from_counts(0, 0), BackupStatus::Failed);
        assert_eq!(
            serde_json::to_string(&BackupStatus::Partial)
                .ok()
                .as_deref(),
            Some("\"PARTIAL\"")
        );
    }

    #[test]
    fn ratio_is_rounded_and_safe() {
        assert!((ratio(1000, 300) - 3.333).abs() < 1e-9);
        assert!(ratio(5, 0).abs() < f64::EPSILON);
    }
}
