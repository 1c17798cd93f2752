//! The configuration-backup library: collect the files that rebuild the platform, keep secrets
//! apart, write a reproducible `tar.gz` with a manifest first, and extract such archives safely.
//!
//! This crate knows nothing of AMQP or SQL. The file stages (collect, archive, extract) are
//! synchronous and run on a blocking thread (tar, gzip, AES and SHA-256 are CPU work); the
//! [`Pipeline`] composes them with encryption (`celeriac_crypto`) and the stores
//! (`celeriac_store`) into one streaming backup run that proves every copy, and [`restore`] /
//! [`verify_artifact`] read artifacts back.
//!
//! # Brief overview
//!
//! - [`RawCollectConfig`] is the `[collect]` table of the TOML config file; it becomes a validated
//!   [`CollectSpec`] (roots with archive prefixes, rules naming a [`Category`], excludes, the `.env`
//!   allowlist and the [`UnreadablePolicy`]).
//! - [`collect`] walks the roots without following symlinks and returns a [`Collection`]: sorted
//!   [`Entry`] lists for the **main** archive and the **secrets** bundle, recorded [`Skip`]s and
//!   counts per category. Real `.env` files and private keys go only to `secrets`; the main archive
//!   gets a sanitized `.env` ([`sanitize_env`]).
//! - [`write_archive`] writes one bundle as `tar.gz`: `MANIFEST.json` ([`Manifest`]'s JSON,
//!   serialized straight from the collection) first, then the entries, re-hashed while tarring;
//!   gzip runs on several threads in [`ParGzWriter`], a single gzip member that any reader
//!   (including `GzDecoder` and `tar xzf`) reads.
//! - [`extract()`], [`dry_run`] and [`list`] read such a `tar.gz` as hostile input into a
//!   [`Staging`] directory, parsing the manifest from the stream into a compact validated
//!   [`ManifestIndex`]; [`commit`] then moves the staged tree into place.
//!
//! ```text
//!  CollectSpec ──► collect() ──► Collection { main, secrets, skipped, counts }
//!                                   │
//!        write_archive(main) ───────┤──► tar ──► ParGzWriter ──► W (EncryptWriter, file, …)
//!        write_archive(secrets) ────┘
//!
//!  R (decrypted tar.gz) ──► extract() ──► Staging ──► commit() ──► target dir
//! ```
//!
//! # The backup pipeline
//!
//! - [`Pipeline`]`::new(spec, stores, keys).run()` runs one backup and returns a
//!   [`BackupReport`] (serde-serialisable: collection counts and skips, per-artifact sizes,
//!   digests and key ids, one [`CopyReport`] per store, [`StageTimings`], and a
//!   [`BackupStatus`]: `VERIFIED` when every store holds verified copies, `PARTIAL` when some do
//!   or when a file holding secrets could not be read, `FAILED` when none does). [`PipelineOptions`] tunes it; [`ProgressEvent`]s feed progress
//!   bars; a `CancellationToken` stops it between files.
//! - [`BackupKeys`]: the main key and an optional separate secrets key. The secrets bundle
//!   (real `.env` files, private keys) is a second artifact, encrypted under the secrets key.
//! - [`ArtifactName`]: the original system's names under a per-backup folder, create-only,
//!   `<prefix>/<YYYY>/<MM>/<DD>/<backup id>/backup_configuration_<YYYYMMDD>_<HHMMSS>[.secrets].tar.gz.enc`.
//! - [`Fanout`] writes one stream to every store at once through bounded channels (peak memory
//!   `≤ chunk × (Q + 1) × (N + 1)`, see its module); [`ChunkSender`], [`HashingWriter`] and
//!   [`HashingReader`] are the stage adapters around it.
//! - [`verify_artifact`] reads a copy back (size + SHA-256, optionally decrypt and walk the
//!   archive, [`DeepOptions`]); [`restore`] falls back from copy to copy ([`RestoreSource`],
//!   [`RestoreOptions`], [`RestoreMode`]: extract, dry run, list; globs; the secrets bundle only
//!   when asked).
//! - [`BackupConfig`] (from [`RawBackupConfig`], the TOML file: `[backup]`, `[keys]`,
//!   `[limits]`, `[collect]`, `[stores.<name>]`), [`StoreTarget`] (`local:PATH`, `s3:NAME`),
//!   [`ArtifactAddress`] (`PATH`, `s3:NAME/KEY`), [`StoreCredentials`] and
//!   [`BackupConfig::open_targets`] connect the command line to the stores.
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
//!     BackupKeys, BackupStatus, Bundle, CollectSpec, Pipeline, RawCollectConfig, RawRoot,
//!     RestoreOptions, RestoreSource, restore,
//! };
//! use celeriac_crypto::{Key, Keyring};
//! use celeriac_store::{LocalStore, Store, StoreId};
//!
//! let project = tempfile::tempdir()?;
//! std::fs::write(project.path().join("docker-compose.yml"), "services: {}\n")?;
//! let spec = CollectSpec::try_from(RawCollectConfig {
//!     roots: vec![RawRoot::new(project.path())],
//!     ..Default::default()
//! })?;
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
//! assert!(main.copies.iter().all(|c| c.state.is_verified()));
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
//!
//! # Example: the file stages
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use celeriac_backup::{
//!     ArchiveOptions, Bundle, CollectSpec, ExtractOptions, RawCollectConfig, RawRoot, Staging,
//!     collect, commit, extract, write_archive, CommitPolicy,
//! };
//!
//! let project = tempfile::tempdir()?;
//! std::fs::write(project.path().join("docker-compose.yml"), "services: {}\n")?;
//! std::fs::write(project.path().join(".env"), "SECRET_KEY=hunter2\nDEBUG=1\n")?;
//!
//! let raw = RawCollectConfig { roots: vec![RawRoot::new(project.path())], ..Default::default() };
//! let spec = CollectSpec::try_from(raw)?;
//! let collection = collect(&spec)?;
//! assert_eq!(collection.secrets.len(), 1); // the real .env
//!
//! let (tar_gz, summary) = write_archive(&collection, Bundle::Main, Vec::new(), &ArchiveOptions::default())?;
//! assert_eq!(summary.files, 2); // docker-compose.yml and the sanitized .env
//!
//! let out = tempfile::tempdir()?;
//! let staging = Staging::create_in(out.path())?;
//! extract(tar_gz.as_slice(), &staging, &ExtractOptions::default())?;
//! let target = out.path().join("restored");
//! commit(staging, &target, CommitPolicy::NewOrEmpty)?;
//! let env = std::fs::read_to_string(target.join(".env"))?;
//! assert!(env.contains("SECRET_KEY=<redacted>") && !env.contains("hunter2"));
//! # Ok(()) }
//! ```

mod beneath;
mod config;
mod id;
mod manifest;
mod progress;
mod read;
mod report;
mod stream;
mod write;

pub use config::address::{AddressError, ArtifactAddress, StoreTarget};
pub use config::keys::BackupKeys;
pub use config::naming::{
    ARTIFACT_SUFFIX, ArtifactName, FILE_STEM, NameError, SECRETS_MARKER, sibling_key,
};
pub use config::options::{PipelineOptions, RetryPolicy};
pub use config::stores::{OpenStoreError, StoreCredentials, local_roots, open_targets};
pub use config::{
    BackupConfig, ConfigError, KeyRef, RawBackupConfig, RawBackupSection, RawKeys, RawLimits,
};
pub use id::BackupId;
pub use progress::{ProgressEvent, ProgressSink};
pub use read::restore::{
    RestoreAttempt, RestoreError, RestoreMode, RestoreOptions, RestoreReport, RestoreSource,
    restore,
};
pub use read::verify::{
    DeepOptions, DeepReport, Expected, Reference, VerifyError, VerifyReport, verify_artifact,
};
pub use report::{
    ArtifactReport, ArtifactSizes, BackupReport, BackupStatus, CollectionReport, CopyError,
    CopyErrorKind, CopyOrigin, CopyReport, CopyState, StageTimings, StoreSummary,
};
pub use stream::chunk::{ChunkReader, ChunkSender};
pub use stream::hashing::{HashingReader, HashingWriter};
pub use write::error::{BackupError, Stage};
pub use write::fanout::{Fanout, FanoutResult, StreamOutcome};
pub use write::pipeline::Pipeline;

pub use config::allowlist::KeyAllowlist;
pub use config::limits::Limits;
pub use config::options::{DEFAULT_CHUNK_SIZE, DEFAULT_QUEUE_CHUNKS, GzipOptions};
pub use config::spec::{
    CollectSpec, RawCollectConfig, RawRoot, RawRule, RootSpec, SpecError, SuspectedSecretPolicy,
    UnreadablePolicy,
};
pub use manifest::{
    ArchivePath, Bundle, Category, Classification, EntryType, LinkProblem, MANIFEST_FORMAT,
    MANIFEST_NAME, MANIFEST_VERSION, Manifest, ManifestEntry, ManifestEntryRef, ManifestError,
    ManifestIndex, PathProblem, Sha256Digest, Totals, resolve_link,
};
pub use read::extract::{
    CommitPolicy, CommitSummary, EntryProblem, ExtractError, ExtractOptions, ExtractSummary, FsOp,
    PathFilter, RejectedType, Staging, commit, dry_run, extract, list, remove_own_staging,
    remove_stale_staging,
};
pub use report::{
    CategoryCount, LeftOut, Skip, SkipReason, SpecialKind, SuspectReason, SuspectedSecret,
};
pub use write::archive::{ArchiveError, ArchiveOptions, ArchiveSummary, Change, write_archive};
pub use write::cancel::CancelCheck;
pub use write::collect::{
    CollectError, CollectedRoot, Collection, Entry, EntryKind, EntrySource, SanitizeHow, collect,
    collect_with_cancel,
};
pub use write::pargz::{GzipError, GzipSummary, ParGzWriter};
pub use write::sanitize::config::{ConfigFormat, Suspect};
pub use write::sanitize::{
    Ambiguity, REDACTED, SanitizeError, Sanitized, Unreadable, read_env_strict, sanitize_env,
};
