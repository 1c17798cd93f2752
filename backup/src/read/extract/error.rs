//! Everything an extraction can refuse or fail with: [`ExtractError`], with one
//! [`EntryProblem`] per reason a single tar entry is refused.

use std::fmt;
use std::io;
use std::path::PathBuf;

use serde::Serialize;

use crate::manifest::{ArchivePath, Bundle, EntryType, ManifestError, PathProblem};

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
    /// The ustar size field and the effective (PAX) size disagree.
    PaxSizeDisagreement {
        /// ustar size field.
        ustar: u64,
        /// Effective size.
        effective: u64,
    },
    /// A single file above [`Limits::max_file_bytes`](crate::config::Limits::max_file_bytes).
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
