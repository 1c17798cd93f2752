//! Safe extraction of our `tar.gz` archives, treating the input as hostile: one gzip member, one
//! tar parser (used only to parse: writing is ours), `MANIFEST.json` first and used as the
//! allowlist, only regular files, directories and manifest-validated relative symlinks, limits on
//! entries and sizes, no trailing bytes. Output goes to a [`Staging`] directory that
//! [`commit`] moves into place once everything validated.
//!
//! ```text
//! R ─► gunzip (1 member, byte cap) ─► tar parse ─► MANIFEST.json ─► guards per entry ─► Staging
//!                                                                   (list: stop here)  (dry run: hash only)
//! ```

mod commit;
mod guard;
mod input;
mod staging;

use std::fmt;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::rc::Rc;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

pub use commit::{CommitPolicy, CommitSummary, commit};
pub use staging::Staging;

use crate::manifest::{
    ArchivePath, Bundle, EntryType, LinkProblem, MANIFEST_NAME, Manifest, ManifestError,
    PathProblem, Sha256Digest,
};
use input::{Fault, Input, InputState, Trailing};

/// Size limits; anything above is refused before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Tar entries (manifest excluded), default 100 000.
    pub max_entries: u64,
    /// One file's size, default 1 GiB.
    pub max_file_bytes: u64,
    /// Sum of file sizes, default 4 GiB.
    pub max_total_bytes: u64,
    /// `MANIFEST.json` size, default 64 MiB.
    pub max_manifest_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_file_bytes: 1 << 30,
            max_total_bytes: 4 << 30,
            max_manifest_bytes: 64 << 20,
        }
    }
}

impl Limits {
    /// Decompressed bytes allowed: contents plus tar overhead for every entry (header, long-name
    /// records, padding) plus the manifest and end-of-archive padding.
    fn decompressed_cap(&self) -> u64 {
        let per_entry = 4 * 512 + 4096;
        self.max_total_bytes
            .saturating_add(self.max_entries.saturating_add(2).saturating_mul(per_entry))
            .saturating_add(self.max_manifest_bytes)
            .saturating_add(2 << 20)
    }
}

/// Options of [`extract`] and [`dry_run`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Size limits.
    pub limits: Limits,
    /// Globs over member paths (`nginx/**`, `**/*.conf`); an entry is written when it or one
    /// of its ancestors matches. Empty: everything. Every entry is validated either way.
    pub only: Vec<String>,
    /// Refuse an archive whose manifest names another bundle.
    pub expect_bundle: Option<Bundle>,
}

/// What an extraction or dry run validated (and wrote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractSummary {
    /// The archive's manifest.
    pub manifest: Manifest,
    /// Entries validated (manifest excluded).
    pub entries: u64,
    /// Entries selected by [`ExtractOptions::only`] (written, unless a dry run).
    pub selected: u64,
    /// Content bytes of selected files.
    pub selected_bytes: u64,
    /// Whether nothing was written.
    pub dry_run: bool,
}

/// Entry types the extractor refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RejectedType {
    /// Hard link.
    Hardlink,
    /// Character device.
    CharDevice,
    /// Block device.
    BlockDevice,
    /// Named pipe.
    Fifo,
    /// Contiguous file.
    Contiguous,
    /// GNU or PAX sparse file.
    Sparse,
    /// PAX global header.
    PaxGlobalHeader,
    /// Any other type byte.
    Other(u8),
}

/// Why one tar entry was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryProblem {
    /// Unsafe or invalid name.
    UnsafePath(PathProblem),
    /// Entry type outside the allowlist.
    RejectedType(RejectedType),
    /// A second entry with the same (normalised) name.
    Duplicate,
    /// Not a member according to the manifest.
    NotInManifest,
    /// Other type than the manifest lists.
    TypeMismatch {
        /// Manifest type.
        listed: EntryType,
        /// Tar type.
        found: EntryType,
    },
    /// Other size than the manifest lists.
    SizeMismatch {
        /// Manifest size.
        listed: u64,
        /// Tar size.
        found: u64,
    },
    /// Content digest differs from the manifest.
    DigestMismatch,
    /// Permission bits differ from the manifest.
    ModeMismatch,
    /// Symlink target differs from the manifest.
    LinkTargetMismatch,
    /// Symlink refused.
    Link(LinkProblem),
    /// The ustar size field and the effective (PAX) size disagree.
    PaxSizeDisagreement {
        /// ustar size field.
        ustar: u64,
        /// Effective size.
        effective: u64,
    },
    /// A single file above [`Limits::max_file_bytes`].
    TooLarge {
        /// Declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A header field could not be parsed.
    BadHeader,
}

impl fmt::Display for EntryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsafePath(p) => write!(f, "unsafe path: {p}"),
            Self::RejectedType(t) => write!(f, "entry type not allowed: {t:?}"),
            Self::Duplicate => f.write_str("duplicate path"),
            Self::NotInManifest => f.write_str("not listed in the manifest"),
            Self::TypeMismatch { listed, found } => {
                write!(f, "type {found:?} but manifest says {listed:?}")
            }
            Self::SizeMismatch { listed, found } => {
                write!(f, "size {found} but manifest says {listed}")
            }
            Self::DigestMismatch => f.write_str("content digest differs from the manifest"),
            Self::ModeMismatch => f.write_str("mode differs from the manifest"),
            Self::LinkTargetMismatch => f.write_str("link target differs from the manifest"),
            Self::Link(p) => write!(f, "symlink refused: {p}"),
            Self::PaxSizeDisagreement { ustar, effective } => {
                write!(f, "pax size {effective} disagrees with header size {ustar}")
            }
            Self::TooLarge { size, limit } => write!(f, "size {size} above the limit {limit}"),
            Self::BadHeader => f.write_str("unparsable header field"),
        }
    }
}

/// Filesystem operations in staging and commit, for error reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FsOp {
    /// Opening a directory or file.
    Open,
    /// Creating a directory.
    CreateDir,
    /// Creating a file.
    CreateFile,
    /// Writing file content.
    Write,
    /// Creating a symlink.
    CreateSymlink,
    /// Setting permission bits.
    SetMode,
    /// Setting times.
    SetTime,
    /// Renaming into the target.
    Rename,
    /// Removing the staging directory.
    Remove,
}

/// Why an extraction was refused or failed. Names from the archive are shown escaped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The underlying reader failed (for example, decryption refused a chunk).
    #[error("reading the archive failed")]
    Source {
        /// The reader's error.
        #[source]
        source: io::Error,
    },
    /// Corrupt gzip data, header or trailer.
    #[error("the gzip stream is corrupt")]
    Gzip {
        /// The decoder's error.
        #[source]
        source: io::Error,
    },
    /// The tar stream cannot be parsed.
    #[error("the tar stream is malformed")]
    Tar {
        /// The parser's error.
        #[source]
        source: io::Error,
    },
    /// More decompressed data than the limits allow (a gzip bomb).
    #[error("decompressed data exceeds {limit} bytes")]
    DecompressedTooLarge {
        /// The cap.
        limit: u64,
    },
    /// Data after the tar end-of-archive marker, or after the gzip member.
    #[error("trailing data after the {after}")]
    TrailingGarbage {
        /// `"tar archive"` or `"gzip member"`.
        after: &'static str,
    },
    /// The first member is not `MANIFEST.json`.
    #[error("the archive does not start with MANIFEST.json")]
    ManifestMissing,
    /// `MANIFEST.json` is larger than allowed.
    #[error("MANIFEST.json is {size} bytes, above the limit {limit}")]
    ManifestTooLarge {
        /// Declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// `MANIFEST.json` is invalid.
    #[error("MANIFEST.json is invalid")]
    Manifest {
        /// Why.
        #[source]
        source: ManifestError,
    },
    /// The manifest names another bundle than expected.
    #[error("archive is the {found:?} bundle, expected {expected:?}")]
    WrongBundle {
        /// Expected.
        expected: Bundle,
        /// Found.
        found: Bundle,
    },
    /// One entry was refused.
    #[error("refused entry {path:?}: {problem}")]
    Entry {
        /// The raw name (lossy UTF-8).
        path: String,
        /// Why.
        problem: EntryProblem,
    },
    /// More entries than allowed.
    #[error("more than {limit} entries")]
    TooManyEntries {
        /// The limit.
        limit: u64,
    },
    /// File contents add up to more than allowed.
    #[error("contents exceed {limit} bytes in total")]
    TotalTooLarge {
        /// The limit.
        limit: u64,
    },
    /// Manifest members absent from the tar.
    #[error("{count} manifest entries are missing from the archive, first {first}")]
    MissingEntries {
        /// How many.
        count: u64,
        /// The first in path order.
        first: ArchivePath,
    },
    /// An `only` glob does not compile.
    #[error("invalid path glob {pattern:?}")]
    InvalidGlob {
        /// The pattern.
        pattern: String,
        /// The compiler's error.
        #[source]
        source: globset::Error,
    },
    /// A filesystem operation in staging or commit failed.
    #[error("{op:?} failed for {path}")]
    Staging {
        /// Which operation.
        op: FsOp,
        /// On what.
        path: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The commit target exists and is not an empty directory.
    #[error("restore target {path} exists and is not an empty directory")]
    TargetNotEmpty {
        /// The target.
        path: PathBuf,
    },
    /// Merging would replace an existing path.
    #[error("restore would replace existing {path}")]
    Conflict {
        /// The existing path.
        path: PathBuf,
    },
}

/// Reads only `MANIFEST.json`: the listing of paths, types, sizes, modes and categories.
///
/// # Errors
/// Input, manifest and limit errors of [`ExtractError`].
pub fn list<R: Read>(reader: R, limits: &Limits) -> Result<Manifest, ExtractError> {
    let (input, state) = Input::new(reader, limits.decompressed_cap());
    let mut archive = tar::Archive::new(input);
    let mut entries = archive
        .entries()
        .map_err(|e| input_error(&state, e, limits))?;
    read_manifest(&mut entries, &state, limits)
}

/// Validates the whole archive exactly as [`extract`] does, writing nothing.
///
/// # Errors
/// Any [`ExtractError`] except staging ones.
pub fn dry_run<R: Read>(reader: R, opts: &ExtractOptions) -> Result<ExtractSummary, ExtractError> {
    run(reader, None, opts)
}

/// Extracts into `staging`. On error, drop (or [`Staging::discard`]) the staging directory.
///
/// # Errors
/// Any [`ExtractError`].
pub fn extract<R: Read>(
    reader: R,
    staging: &Staging,
    opts: &ExtractOptions,
) -> Result<ExtractSummary, ExtractError> {
    run(reader, Some(staging), opts)
}

fn input_error(state: &InputState, e: io::Error, limits: &Limits) -> ExtractError {
    match state.fault.get() {
        Some(Fault::Source) => {
            let source = state.source_error.borrow_mut().take().unwrap_or(e);
            ExtractError::Source { source }
        }
        Some(Fault::Gzip) => ExtractError::Gzip { source: e },
        Some(Fault::TooLarge) => ExtractError::DecompressedTooLarge {
            limit: limits.decompressed_cap(),
        },
        None => ExtractError::Tar { source: e },
    }
}

type Entries<'a, R> = tar::Entries<'a, Input<R>>;

fn read_manifest<R: Read>(
    entries: &mut Entries<'_, R>,
    state: &Rc<InputState>,
    limits: &Limits,
) -> Result<Manifest, ExtractError> {
    let mut first = match entries.next() {
        None => return Err(ExtractError::ManifestMissing),
        Some(entry) => entry.map_err(|e| input_error(state, e, limits))?,
    };
    let is_manifest = first.path_bytes().as_ref() == MANIFEST_NAME.as_bytes()
        && first.header().entry_type() == tar::EntryType::Regular;
    if !is_manifest {
        return Err(ExtractError::ManifestMissing);
    }
    if first.size() > limits.max_manifest_bytes {
        return Err(ExtractError::ManifestTooLarge {
            size: first.size(),
            limit: limits.max_manifest_bytes,
        });
    }
    let mut bytes = Vec::new();
    first
        .read_to_end(&mut bytes)
        .map_err(|e| input_error(state, e, limits))?;
    Manifest::from_json(&bytes).map_err(|source| ExtractError::Manifest { source })
}

fn compile_filter(globs: &[String]) -> Result<Option<GlobSet>, ExtractError> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for pattern in globs {
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|source| ExtractError::InvalidGlob {
                pattern: pattern.clone(),
                source,
            })?;
        set.add(glob);
    }
    set.build()
        .map(Some)
        .map_err(|source| ExtractError::InvalidGlob {
            pattern: globs.join(" "),
            source,
        })
}

fn selected(filter: Option<&GlobSet>, path: &ArchivePath) -> bool {
    filter.is_none_or(|f| {
        f.is_match(path.as_str()) || path.ancestors().iter().any(|a| f.is_match(a.as_str()))
    })
}

fn run<R: Read>(
    reader: R,
    staging: Option<&Staging>,
    opts: &ExtractOptions,
) -> Result<ExtractSummary, ExtractError> {
    let limits = &opts.limits;
    let filter = compile_filter(&opts.only)?;
    let (input, state) = Input::new(reader, limits.decompressed_cap());
    let mut archive = tar::Archive::new(input);
    let mut entries = archive
        .entries()
        .map_err(|e| input_error(&state, e, limits))?;
    let manifest = read_manifest(&mut entries, &state, limits)?;
    if let Some(expected) = opts.expect_bundle.filter(|b| *b != manifest.bundle) {
        return Err(ExtractError::WrongBundle {
            expected,
            found: manifest.bundle,
        });
    }
    let mut summary = ExtractSummary {
        manifest: manifest.clone(),
        entries: 0,
        selected: 0,
        selected_bytes: 0,
        dry_run: staging.is_none(),
    };
    let mut writer = staging
        .map(|s| staging::StagingWriter::new(s, &manifest, manifest.bundle == Bundle::Secrets));
    let mut plan = guard::Plan::new(&manifest, limits)?;
    for entry in &mut entries {
        let mut entry = entry.map_err(|e| input_error(&state, e, limits))?;
        let accepted = plan.accept(&mut entry)?;
        summary.entries += 1;
        let listed = plan.entry(accepted.index);
        let chosen = selected(filter.as_ref(), &accepted.path);
        if chosen {
            summary.selected += 1;
            summary.selected_bytes += accepted.size;
        }
        let writer = writer.as_mut().filter(|_| chosen);
        match listed.kind {
            EntryType::File => copy_file(&mut entry, listed, writer, &state, limits)?,
            EntryType::Dir => {
                if let Some(w) = writer {
                    w.dir(listed)?;
                }
            }
            EntryType::Symlink => {
                if let Some(w) = writer {
                    w.symlink(listed);
                }
            }
        }
    }
    plan.ensure_complete()?;
    archive.into_inner().finish().map_err(|t| match t {
        Trailing::AfterTar => ExtractError::TrailingGarbage {
            after: "tar archive",
        },
        Trailing::AfterGzip => ExtractError::TrailingGarbage {
            after: "gzip member",
        },
        Trailing::Fault => input_error(&state, io::Error::other("input failed at the end"), limits),
    })?;
    if let Some(w) = writer {
        w.finish()?;
    }
    Ok(summary)
}

/// Streams one file's data: hashes it and, when a writer is given, writes it to staging.
fn copy_file<R: Read>(
    entry: &mut tar::Entry<'_, Input<R>>,
    listed: &crate::manifest::ManifestEntry,
    writer: Option<&mut staging::StagingWriter<'_>>,
    state: &Rc<InputState>,
    limits: &Limits,
) -> Result<(), ExtractError> {
    let refuse = |problem| ExtractError::Entry {
        path: listed.path.to_string(),
        problem,
    };
    let mut writer = writer;
    let mut file = match writer.as_mut() {
        Some(w) => Some(w.create_file(listed)?),
        None => None,
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(input_error(state, e, limits)),
        };
        hasher.update(&buf[..n]);
        if let Some(f) = file.as_mut() {
            f.write_all(&buf[..n])
                .map_err(|source| ExtractError::Staging {
                    op: FsOp::Write,
                    path: listed.path.to_string(),
                    source,
                })?;
        }
    }
    if Some(Sha256Digest(hasher.finalize().into())) != listed.sha256 {
        return Err(refuse(EntryProblem::DigestMismatch));
    }
    if let (Some(w), Some(f)) = (writer, file) {
        w.finish_file(&f, listed)?;
    }
    Ok(())
}
