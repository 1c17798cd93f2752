//! Why a matched file was left out of a collection: [`SkipReason`] (with the non-regular
//! [`SpecialKind`]s), recorded with its path as a [`Skip`].

use std::fmt;
use std::io;

use rustix::fs::FileType;
use serde::Serialize;

use crate::manifest::LinkProblem;

/// The non-regular file types the collector refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpecialKind {
    /// A named pipe (opening it could block).
    Fifo,
    /// A Unix socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// Anything else.
    Unknown,
}

impl SpecialKind {
    pub(crate) fn of(t: FileType) -> Self {
        match t {
            FileType::Fifo => Self::Fifo,
            FileType::Socket => Self::Socket,
            FileType::CharacterDevice => Self::CharDevice,
            FileType::BlockDevice => Self::BlockDevice,
            _ => Self::Unknown,
        }
    }
}

/// Why a matched file was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
#[non_exhaustive]
pub enum SkipReason {
    /// It disappeared between listing and reading.
    Vanished,
    /// It could not be read (the OS error number, if any).
    Unreadable {
        /// `errno`.
        os_error: Option<i32>,
    },
    /// It changed type between listing and opening (e.g. became a symlink).
    ChangedType,
    /// A FIFO, socket or device.
    SpecialFile {
        /// Which.
        kind: SpecialKind,
    },
    /// A symlink that is not kept.
    Symlink {
        /// Why.
        problem: LinkProblem,
    },
    /// The name is not UTF-8 or not a valid archive path.
    UnsupportedName,
    /// The name is reserved for the manifest.
    ReservedName,
    /// Nested deeper than the walk goes.
    TooDeep,
    /// An optional root that could not be opened.
    RootUnavailable {
        /// `errno`.
        os_error: Option<i32>,
    },
}

impl SkipReason {
    pub(crate) fn from_io(e: &io::Error) -> Self {
        match (e.kind(), e.raw_os_error()) {
            (io::ErrorKind::NotFound, _) => Self::Vanished,
            (_, Some(code))
                if code == rustix::io::Errno::LOOP.raw_os_error()
                    || code == rustix::io::Errno::NOTDIR.raw_os_error() =>
            {
                Self::ChangedType
            }
            (io::ErrorKind::InvalidData, None) => Self::ChangedType,
            (_, os_error) => Self::Unreadable { os_error },
        }
    }

    /// Whether the unreadable-file policy governs this reason.
    pub(crate) fn is_policy_governed(&self) -> bool {
        matches!(
            self,
            Self::Vanished | Self::Unreadable { .. } | Self::ChangedType
        )
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Vanished => f.write_str("vanished"),
            Self::Unreadable {
                os_error: Some(code),
            } => {
                write!(f, "unreadable: {}", io::Error::from_raw_os_error(*code))
            }
            Self::Unreadable { os_error: None } => f.write_str("unreadable"),
            Self::ChangedType => f.write_str("changed type while being collected"),
            Self::SpecialFile { kind } => write!(f, "special file ({kind:?})"),
            Self::Symlink { problem } => write!(f, "symlink not kept: {problem}"),
            Self::UnsupportedName => f.write_str("unsupported file name"),
            Self::ReservedName => f.write_str("name reserved for the manifest"),
            Self::TooDeep => f.write_str("nested too deep"),
            Self::RootUnavailable { .. } => f.write_str("optional root unavailable"),
        }
    }
}

/// A matched file left out, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    /// Source path (lossy UTF-8).
    pub path: String,
    /// Why.
    #[serde(flatten)]
    pub reason: SkipReason,
    /// Its name says it holds secrets (an env file, a private key): had it been read, it
    /// would have gone to the secrets bundle. Such a file missing makes the backup incomplete
    /// for restoring secrets, so the run is at best PARTIAL.
    pub secret: bool,
}

impl Skip {
    /// A file whose name says it holds secrets and that could not be read.
    pub fn is_missing_secret(&self) -> bool {
        self.secret && self.reason.is_policy_governed()
    }
}
