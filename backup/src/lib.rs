//! The configuration-backup library: collect the files that rebuild the platform, keep secrets
//! apart, write a reproducible `tar.gz` with a manifest first, and extract such archives safely.
//!
//! This crate knows nothing of AMQP or SQL. Every stage here is synchronous and meant to run on a
//! blocking thread (tar, gzip and SHA-256 are CPU work); the async pipeline that encrypts, hashes
//! and fans out to stores composes these stages.
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
//! - [`write_archive`] writes one bundle as `tar.gz`: `MANIFEST.json` ([`Manifest`]) first, then
//!   the entries, re-hashed while tarring; gzip runs on several threads in [`ParGzWriter`], a
//!   single gzip member that any reader (including `GzDecoder` and `tar xzf`) reads.
//! - [`extract()`], [`dry_run`] and [`list`] read such a `tar.gz` as hostile input into a
//!   [`Staging`] directory; [`commit`] then moves the staged tree into place.
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
//! # Example
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

mod archive;
mod classify;
mod collect;
mod extract;
mod manifest;
mod pargz;
mod sanitize;
mod spec;

pub use archive::{
    ArchiveError, ArchiveOptions, ArchiveSummary, CancelCheck, Change, write_archive,
};
pub use collect::{
    CategoryCount, CollectError, CollectedRoot, Collection, Entry, EntryKind, EntrySource, Skip,
    SkipReason, SpecialKind, collect, collect_with_cancel,
};
pub use extract::{
    CommitPolicy, CommitSummary, EntryProblem, ExtractError, ExtractOptions, ExtractSummary, FsOp,
    Limits, RejectedType, Staging, commit, dry_run, extract, list,
};
pub use manifest::{
    ArchivePath, Bundle, Classification, EntryType, LinkProblem, MANIFEST_FORMAT, MANIFEST_NAME,
    MANIFEST_VERSION, Manifest, ManifestEntry, ManifestError, PathProblem, Sha256Digest, Totals,
    resolve_link,
};
pub use pargz::{GzipError, GzipOptions, GzipSummary, ParGzWriter};
pub use sanitize::{KeyAllowlist, REDACTED, SanitizeError, Sanitized, sanitize_env};
pub use spec::{
    Category, CollectSpec, RawCollectConfig, RawRoot, RawRule, RootSpec, SpecError,
    UnreadablePolicy,
};
