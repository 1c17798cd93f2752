//! The collector: walks every root of a [`CollectSpec`] without following symlinks, reads each
//! matched file once (size, SHA-256, secret sniffing), routes secrets to their own list, keeps
//! only symlinks that stay inside their root, and records every file it leaves out with a reason.

mod read;
mod route;
mod walk;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub(crate) use read::{MAX_ENV_BYTES, READ_BUF};

use crate::config::allowlist::KeyAllowlist;
use crate::config::spec::{CollectSpec, UnreadablePolicy};
use crate::manifest::Category;
use crate::manifest::{ArchivePath, Classification, Sha256Digest};
use crate::report::{CategoryCount, LeftOut, Skip, SkipReason, SuspectedSecret};
use crate::write::cancel::CancelCheck;
use crate::write::sanitize::config::ConfigFormat;

/// A root that was opened; its fd pins the directory for the archive stage's re-reads.
pub(crate) struct CollectedRoot {
    /// The root as configured.
    pub path: PathBuf,
    /// Its archive prefix.
    pub prefix: Option<ArchivePath>,
    pub(crate) fd: OwnedFd,
}

impl CollectedRoot {
    /// Where `path` (an entry of this root) lies below the root: the path without the root's
    /// prefix. `None` when the path is not under the prefix.
    pub(crate) fn rel<'p>(&self, path: &'p ArchivePath) -> Option<&'p str> {
        match &self.prefix {
            None => Some(path.as_str()),
            Some(prefix) => path
                .as_str()
                .strip_prefix(prefix.as_str())?
                .strip_prefix('/'),
        }
    }
}

impl fmt::Debug for CollectedRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectedRoot")
            .field("path", &self.path)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// What a collected entry is.
#[derive(Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file with its size and content digest (for a sanitized `.env`: of the
    /// sanitized bytes).
    File {
        /// Content length.
        size: u64,
        /// Content digest.
        sha256: Sha256Digest,
    },
    /// A directory (an ancestor of collected entries).
    Dir,
    /// A symlink whose target stays inside its root and is collected into the same bundle.
    Symlink {
        /// The target exactly as read from the link.
        target: Box<str>,
    },
}

/// Debug shows no digest: a digest of a low-entropy secret can be guessed.
impl fmt::Debug for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { size, .. } => f
                .debug_struct("File")
                .field("size", size)
                .finish_non_exhaustive(),
            Self::Dir => f.write_str("Dir"),
            Self::Symlink { target } => f.debug_struct("Symlink").field("target", target).finish(),
        }
    }
}

/// Where an entry's bytes come from when it is archived.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum EntrySource {
    /// Re-read from disk below root number `root`, at the entry's path without the root's
    /// prefix (not stored again: one copy of each name per entry).
    Disk {
        /// Index into [`Collection::roots`].
        root: usize,
    },
    /// The sanitized copy of a `.env`, or the redacted copy of a configuration file, below
    /// root number `root` (at the entry's path without the root's prefix): the archive stage
    /// reads and sanitizes the file again (a `.env` with [`Collection::env_allowlist`]) and
    /// checks the result against the recorded size and digest, so no sanitized content is held
    /// between collection and archiving.
    Sanitized {
        /// Index into [`Collection::roots`].
        root: usize,
        /// How the copy is made.
        how: SanitizeHow,
    },
    /// No content (directories, symlinks, prefix directories).
    None,
}

/// How a sanitized copy is made from its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SanitizeHow {
    /// The `.env` sanitizer (values kept only where every loader agrees and the allowlist
    /// permits).
    Env,
    /// Inline secrets in a configuration format redacted.
    Config(ConfigFormat),
}

/// One collected entry. The lists hold one per file, directory and symlink for the whole run,
/// so it is kept lean: names are boxed `str`s, the rare sanitized content sits behind an `Arc`.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path in the archive.
    pub path: ArchivePath,
    /// File, directory or symlink.
    pub kind: EntryKind,
    /// Permission bits as found.
    pub mode: u32,
    /// Modification time in seconds.
    pub mtime: i64,
    /// Numeric owner.
    pub uid: u32,
    /// Numeric group.
    pub gid: u32,
    /// Rule category (`None` for directories).
    pub category: Option<Category>,
    /// Plain, sanitized or secret.
    pub classification: Classification,
    /// Where the content comes from.
    pub(crate) source: EntrySource,
}

/// Debug shows no digest: a digest of a low-entropy secret can be guessed.
impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("path", &self.path.as_str())
            .field("kind", &self.kind)
            .field("mode", &format_args!("{:04o}", self.mode))
            .field("category", &self.category)
            .field("classification", &self.classification)
            .finish_non_exhaustive()
    }
}

/// The result of [`collect`].
#[derive(Debug)]
pub struct Collection {
    /// Opened roots, indexed by [`EntrySource::Disk`].
    pub(crate) roots: Vec<CollectedRoot>,
    /// Main-archive entries sorted by path: plain files, sanitized `.env`, directories, symlinks.
    pub main: Vec<Entry>,
    /// Secrets-bundle entries sorted by path: real `.env` files, private keys, their directories.
    pub secrets: Vec<Entry>,
    /// Matched files left out, with reasons, sorted by path.
    pub skipped: Vec<Skip>,
    /// Collected files per category.
    pub counts: BTreeMap<Category, CategoryCount>,
    /// Config-looking files no rule took.
    pub left_out: LeftOut,
    /// Lines that may hold a secret the redaction left in place, by path and line.
    pub suspected: Vec<SuspectedSecret>,
    /// The allowlist the sanitized `.env` copies were made with.
    pub env_allowlist: KeyAllowlist,
}

/// Why collection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectError {
    /// A required root could not be opened.
    #[error("collection root {path} cannot be opened")]
    RootUnavailable {
        /// The root.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Policy `fail`: a matched file could not be collected.
    #[error("cannot collect {path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        reason: SkipReason,
        /// The OS error, if any.
        #[source]
        source: Option<io::Error>,
    },
    /// The cancel check fired.
    #[error("collection cancelled")]
    Cancelled,
}

/// Collects per `spec`. Runs on the calling (blocking) thread.
///
/// # Errors
/// [`CollectError`]; unreadable files are errors only under [`UnreadablePolicy::Fail`].
pub fn collect(spec: &CollectSpec) -> Result<Collection, CollectError> {
    collect_with_cancel(spec, None)
}

/// [`collect`] with a cancel check consulted between files.
///
/// # Errors
/// As [`collect`], plus [`CollectError::Cancelled`].
pub fn collect_with_cancel(
    spec: &CollectSpec,
    cancel: Option<&CancelCheck>,
) -> Result<Collection, CollectError> {
    let mut roots = Vec::new();
    let mut walked = walk::Walked::default();
    let mut skipped = Vec::new();
    for root in spec.roots() {
        let fd = match crate::beneath::open_root(&root.path) {
            Ok(fd) => fd,
            Err(source) if root.optional => {
                let reason = SkipReason::RootUnavailable {
                    os_error: source.raw_os_error(),
                };
                skipped.push(Skip {
                    path: root.path.display().to_string(),
                    reason,
                    secret: false,
                });
                continue;
            }
            Err(source) => {
                return Err(CollectError::RootUnavailable {
                    path: root.path.clone(),
                    source,
                });
            }
        };
        let mut walk = walk::RootWalk {
            spec,
            root: roots.len(),
            prefix: root.prefix.as_ref(),
            root_spec: root,
            out: &mut walked,
            head_buf: None,
        };
        walk.run(&fd)
            .map_err(|source| CollectError::RootUnavailable {
                path: root.path.clone(),
                source,
            })?;
        roots.push(CollectedRoot {
            path: root.path.clone(),
            prefix: root.prefix.clone(),
            fd,
        });
    }
    let mut router = route::Router::new(spec, &roots, cancel);
    for problem in std::mem::take(&mut walked.problems) {
        router.problem(problem.path, problem.reason, problem.source)?;
    }
    let mut left_out = std::mem::take(&mut walked.left_out);
    left_out.paths.sort();
    let mut out = router.route(walked)?;
    out.skipped.extend(skipped);
    out.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Collection {
        roots,
        main: out.main,
        secrets: out.secrets,
        skipped: out.skipped,
        counts: out.counts,
        left_out,
        suspected: out.suspected,
        env_allowlist: spec.env_allowlist().clone(),
    })
}

impl Collection {
    /// SHA-256 of the sorted collected paths (files and symlinks of both bundles), one per
    /// line: a fingerprint of *which* files a run took.
    pub fn file_list_sha256(&self) -> Sha256Digest {
        let mut names: Vec<&str> = self
            .main
            .iter()
            .chain(&self.secrets)
            .filter(|e| !matches!(e.kind, EntryKind::Dir))
            .map(|e| e.path.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut list = String::new();
        for name in names {
            list.push_str(name);
            list.push('\n');
        }
        Sha256Digest::of(list.as_bytes())
    }
}

fn apply_policy(
    policy: UnreadablePolicy,
    skipped: &mut Vec<Skip>,
    skip: Skip,
    source: Option<io::Error>,
) -> Result<(), CollectError> {
    let Skip { path, reason, .. } = &skip;
    if policy == UnreadablePolicy::Fail && reason.is_policy_governed() {
        return Err(CollectError::Unreadable {
            path: path.clone(),
            reason: reason.clone(),
            source,
        });
    }
    skipped.push(skip);
    Ok(())
}

fn display_path(roots: &[CollectedRoot], root: usize, rel: &Path) -> String {
    roots.get(root).map_or_else(
        || rel.display().to_string(),
        |r| r.path.join(rel).display().to_string(),
    )
}

#[cfg(test)]
mod tests {
    /// One per collected entry for the whole run: keep an eye on the size.
    #[test]
    fn entry_stays_lean() {
        assert!(std::mem::size_of::<super::EntrySource>() <= 16);
        assert!(std::mem::size_of::<super::Entry>() <= 104);
    }
}
