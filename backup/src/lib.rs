//! The configuration-backup library: collect the files that rebuild the platform, keep secrets
//! apart, write a reproducible `tar.gz` with a manifest first, encrypt it, store it in every store
//! at once and prove every copy; read such artifacts back safely.
//!
//! This crate knows nothing of AMQP or SQL. Its source is laid out in rooms (see
//! `ARCHITECTURE.md` for the map): `write/` (collect, classify, sanitize, archive, gzip, encrypt
//! and hash, fan-out, copies, retry, the [`Pipeline`], the dry run), `read/` (open and
//! authenticate, verify, extract and its guards, restore), `manifest/` (the one home of
//! `MANIFEST.json`), `config/` (raw TOML to validated, typed values), `report` and `progress`;
//! `stream/` holds the byte adapters both sides use.
//!
//! # The public API
//!
//! Everything is at the crate root (the rooms are private); 38 names, kept under 40 by the
//! guard in `tests/it/house.rs`, and no other type can reach a user: the crate denies
//! `unnameable_types`, so a type that is not listed here appears in no public field,
//! signature, error payload or trait impl.
//!
//! - Backup: [`Pipeline`]`::new(spec, stores, keys).with_config(&config).run()` runs one
//!   backup and returns a [`BackupReport`] (serde-serialisable, and its JSON is the full
//!   record: collection counts and skips, per-artifact sizes, digests and key ids, one copy
//!   report per store, stage timings; in Rust, a [`BackupStatus`]: `VERIFIED` when every store
//!   holds verified copies, `PARTIAL` when some do or when a file holding secrets could not be
//!   read, `FAILED` when none does), with its [`ArtifactReport`]s and [`CopyReport`]s (a
//!   [`CopyError`] of a [`CopyErrorKind`] when a copy failed); [`ProgressEvent`]s feed progress
//!   bars; a `CancellationToken` stops it between files; it fails with a [`BackupError`].
//!   [`BackupId`] names a run, [`Bundle`] an artifact of it.
//! - Dry run: [`Plan`]`::of(spec)` is what a backup would collect, without archiving.
//! - Verify: [`verify_artifact`] reads a copy back (size + SHA-256 against an [`Expected`] or
//!   the store's record; optionally decrypt and walk the archive, [`DeepOptions`]) into a
//!   [`VerifyReport`] (whose `Display` is the text a person reads), or a [`VerifyError`].
//! - Restore: [`restore`] falls back from copy to copy ([`RestoreSource`], [`RestoreOptions`],
//!   [`RestoreMode`]: extract into a new or empty directory, dry run, list; a [`PathFilter`] of
//!   globs; the secrets bundle only when asked) into a [`RestoreReport`] (the copies it
//!   skipped as [`RestoreAttempt`]s, its listing as [`ManifestEntryRef`]s), or a
//!   [`RestoreError`].
//! - Configuration: the TOML file ([`RawBackupConfig`], with [`RawKeys`] and [`KeyRef`] for
//!   the binary to load keys, and setters for the command line's overrides) and its one
//!   validation step into a [`BackupConfig`] (the [`CollectSpec`], the [`StoreTarget`]s; the
//!   streaming settings and restore limits go to the `Pipeline` and the restore and verify
//!   options whole), which opens its stores with [`StoreCredentials`]; [`BackupKeys`]; the
//!   addresses and names the command line deals in ([`ArtifactAddress`], [`AddressError`],
//!   [`ArtifactName`]); one [`ConfigError`] for a refused file or a store that cannot be
//!   opened.
//!
//! A stage's own error (collection, archive, extraction, the `[collect]` table) reaches the
//! user as the boxed `source()` of one of the public errors: its message and chain are kept,
//! its type is not part of the API.
//!
//! With the `test-util` feature, `internals` exposes the stages one by one (collect, archive,
//! extract, the gzip writer, the fan-out) and the types behind the API's private fields, and
//! their accessors become public, for this crate's integration tests and benchmarks; it is not
//! part of the API.
//!
//! ```text
//!  blocking thread                                                              async
//!  collect ─► tar ─► gzip ─► sha256 ─► encrypt ─► sha256 ─► ChunkSender ══ mpsc ══► Fanout ─┬─► local
//!                           (plain)   (key)      (stored)                                   ├─► r2
//!                                                                                          ├─► b2
//!                                                                                          └─► tap: deep check
//!  then: verify every copy (read back) ─► retry failed copies from a verified one ─► report
//! ```
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use celeriac_backup::{
//!     BackupConfig, BackupKeys, BackupStatus, Bundle, Pipeline, RawBackupConfig, RestoreOptions,
//!     RestoreSource, restore,
//! };
//! use celeriac_crypto::{Key, Keyring};
//! use celeriac_store::{LocalStore, Store, StoreId};
//!
//! let project = tempfile::tempdir()?;
//! std::fs::write(project.path().join("docker-compose.yml"), "services: {}\n")?;
//! let mut raw = RawBackupConfig::default();
//! raw.set_roots([project.path().to_path_buf()]);
//! let spec = BackupConfig::try_from(raw)?.collect.expect("a root is configured");
//! let (a, b) = (tempfile::tempdir()?, tempfile::tempdir()?);
//! let stores: Vec<Arc<dyn Store>> = vec![
//!     Arc::new(LocalStore::new(StoreId::new("a")?, a.path())),
//!     Arc::new(LocalStore::new(StoreId::new("b")?, b.path())),
//! ];
//! let secrets = tempfile::tempdir()?;
//! let key_file = secrets.path().join("backup.key");
//! Key::generate_file(&key_file)?; // what `celeriac keygen` does: a new 0600 file
//! let keys = BackupKeys::new(Key::from_file(&key_file)?);
//! let report = Pipeline::new(spec, stores.clone(), keys).run().await?;
//! assert_eq!(report.status, BackupStatus::Verified);
//! let main = report.artifact(Bundle::Main).expect("a main artifact");
//! assert!(main.copies.iter().all(|c| c.is_verified()));
//!
//! // Restore: the first copy that is present, intact and decrypts wins.
//! let sources: Vec<RestoreSource> = main
//!     .copies
//!     .iter()
//!     .zip(&stores)
//!     .map(|(c, s)| RestoreSource { store: Arc::clone(s), key: c.key.clone(), expected: None })
//!     .collect();
//! let out = tempfile::tempdir()?;
//! let target = out.path().join("restored");
//! let keyring = Arc::new(Keyring::from(Key::from_file(&key_file)?));
//! let restored = restore(&sources, keyring, &RestoreOptions::extract_to(&target)).await?;
//! assert_eq!(restored.store.as_str(), "a");
//! assert_eq!(std::fs::read_to_string(target.join("docker-compose.yml"))?, "services: {}\n");
//! # Ok(()) }
//! ```

// Items that only `internals` (feature `test-util`) makes reachable are `pub`; without the
// feature they are unreachable, and that is expected. Builds with the feature (clippy
// --all-targets, the tests) keep the lint at full strength.
#![cfg_attr(not(feature = "test-util"), allow(unreachable_pub))]
// Every type a user can get hold of (a field, a result, an error's payload) can be named: the
// API is what `PUBLIC_API` in `tests/it/house.rs` lists, with nothing reachable beside it.
#![cfg_attr(not(feature = "test-util"), deny(unnameable_types))]

/// A method that is `pub` with the `test-util` feature (for this crate's tests and benchmarks,
/// like `internals`) and `pub(crate)` without it: it hands out a type that is not part of the
/// API (a report's part, a stage's value), so users never get hold of that type.
macro_rules! test_util_pub {
    ($(#[$attr:meta])* fn $($rest:tt)*) => {
        $(#[$attr])*
        #[cfg(feature = "test-util")]
        pub fn $($rest)*

        $(#[$attr])*
        #[cfg(not(feature = "test-util"))]
        #[allow(dead_code, reason = "some are read only by the crate's tests (test-util)")]
        pub(crate) fn $($rest)*
    };
}

mod beneath;
mod cause;
mod config;
mod id;
mod manifest;
mod progress;
mod read;
mod report;
mod stream;
mod write;

pub use config::{
    AddressError, ArtifactAddress, ArtifactName, BackupConfig, BackupKeys, CollectSpec,
    ConfigError, KeyRef, RawBackupConfig, RawKeys, StoreCredentials, StoreTarget,
};
pub use id::BackupId;
pub use manifest::{Bundle, ManifestEntryRef};
pub use progress::ProgressEvent;
pub use read::extract::PathFilter;
pub use read::open::Expected;
pub use read::restore::{
    RestoreAttempt, RestoreError, RestoreMode, RestoreOptions, RestoreReport, RestoreSource,
    restore,
};
pub use read::verify::{DeepOptions, VerifyError, VerifyReport, verify_artifact};
pub use report::{
    ArtifactReport, BackupReport, BackupStatus, CopyError, CopyErrorKind, CopyReport,
};
pub use write::error::BackupError;
pub use write::pipeline::Pipeline;
pub use write::plan::Plan;

/// The stages one by one, for this crate's integration tests and benchmarks (feature
/// `test-util`); not part of the API.
///
/// # Example: the file stages
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use celeriac_backup::internals::{
///     ArchiveOptions, CommitPolicy, ExtractOptions, RawCollectConfig, RawRoot, Staging, collect,
///     commit, extract, write_archive,
/// };
/// use celeriac_backup::{Bundle, CollectSpec};
/// let project = tempfile::tempdir()?;
/// std::fs::write(project.path().join("docker-compose.yml"), "services: {}\n")?;
/// std::fs::write(project.path().join(".env"), "SECRET_KEY=hunter2\nDEBUG=1\n")?;
///
/// let raw = RawCollectConfig { roots: vec![RawRoot::new(project.path())], ..Default::default() };
/// let spec = CollectSpec::try_from(raw)?;
/// let collection = collect(&spec)?;
/// assert_eq!(collection.secrets.len(), 1); // the real .env
///
/// let (tar_gz, summary) = write_archive(&collection, Bundle::Main, Vec::new(), &ArchiveOptions::default())?;
/// assert_eq!(summary.files, 2); // docker-compose.yml and the sanitized .env
///
/// let out = tempfile::tempdir()?;
/// let staging = Staging::create_in(out.path())?;
/// extract(tar_gz.as_slice(), &staging, &ExtractOptions::default())?;
/// let target = out.path().join("restored");
/// commit(staging, &target, CommitPolicy::NewOrEmpty)?;
/// let env = std::fs::read_to_string(target.join(".env"))?;
/// assert!(env.contains("SECRET_KEY=<redacted>") && !env.contains("hunter2"));
/// # Ok(()) }
/// ```
#[cfg(feature = "test-util")]
pub mod internals {
    // The stages.
    pub use crate::config::allowlist::KeyAllowlist;
    pub use crate::config::spec::RawRoot;
    pub use crate::read::extract::{
        CommitPolicy, CommitSummary, ExtractOptions, ExtractSummary, Staging, commit, dry_run,
        extract, list,
    };
    pub use crate::write::archive::{ArchiveOptions, ArchiveSummary, write_archive};
    pub use crate::write::cancel::CancelCheck;
    pub use crate::write::collect::{Collection, Entry, EntryKind, collect, collect_with_cancel};
    pub use crate::write::fanout::{Fanout, FanoutResult, StreamOutcome};
    pub use crate::write::pargz::{GzipSummary, ParGzWriter};
    pub use crate::write::sanitize::read_env_strict;

    // The types behind the API's fields and errors, by name.
    pub use crate::config::options::{GzipOptions, RetryPolicy};
    pub use crate::config::spec::SpecError;
    pub use crate::config::spec::{RawRule, RootSpec, SuspectedSecretPolicy, UnreadablePolicy};
    pub use crate::config::{
        Limits, PipelineOptions, RawBackupSection, RawCollectConfig, RawLimits,
    };
    pub use crate::manifest::{
        ArchivePath, Category, Classification, EntryType, LinkProblem, Manifest, ManifestEntry,
        ManifestError, ManifestIndex, PathProblem, Sha256Digest, Totals,
    };
    pub use crate::read::extract::{EntryProblem, ExtractError, FsOp, RejectedType};
    pub use crate::read::verify::{DeepReport, Reference};
    pub use crate::report::{
        ArtifactSizes, CategoryCount, CollectionReport, CopyOrigin, CopyState, LeftOut, Skip,
        SkipReason, SpecialKind, StageTimings, StoreSummary, SuspectReason, SuspectedSecret,
    };
    pub use crate::write::archive::{ArchiveError, Change};
    pub use crate::write::collect::CollectError;
    pub use crate::write::pargz::GzipError;
}
