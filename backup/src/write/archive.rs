//! The archive stage: writes one bundle of a [`Collection`] as a reproducible `tar.gz`
//! (`MANIFEST.json` first, then the entries in path order) through [`ParGzWriter`].
//!
//! Files are re-opened beneath their root fd with `O_NOFOLLOW` and re-hashed while they are
//! tarred. The tar header is written with the size recorded in the manifest, so a file that
//! changed since collection (other size, other digest, other type, gone) fails the whole stage
//! with [`ArchiveError::FileChanged`] rather than producing an archive that disagrees with its
//! manifest; the caller retries the backup. Ownership is stored numerically only (no user or
//! group names: they are host-specific and restore does not use them).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::beneath::open_file_beneath;
use crate::config::options::GzipOptions;
use crate::manifest::{ArchivePath, Bundle, Sha256Digest};
use crate::write::collect::{
    Collection, Entry, EntryKind, EntrySource, MAX_ENV_BYTES, READ_BUF, SanitizeHow,
};
use crate::write::pargz::{GzipError, GzipSummary, ParGzWriter};
use crate::write::sanitize::config::redact_config;
use crate::write::sanitize::sanitize_env;

mod manifest_source;

use manifest_source::ManifestSource;

use crate::write::cancel::CancelCheck;

/// Options of [`write_archive`].
#[derive(Clone, Default)]
pub struct ArchiveOptions {
    /// Gzip tuning (level 9 by default).
    pub gzip: GzipOptions,
    /// Stops the stage between entries when it returns true.
    pub cancel: Option<CancelCheck>,
}

impl std::fmt::Debug for ArchiveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveOptions")
            .field("gzip", &self.gzip)
            .field("cancel", &self.cancel.is_some())
            .finish()
    }
}

/// What the stage wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// Which bundle.
    pub bundle: Bundle,
    /// Tar members excluding the manifest.
    pub entries: u64,
    /// Regular files among them.
    pub files: u64,
    /// Sum of file content sizes.
    pub file_bytes: u64,
    /// Uncompressed tar length.
    pub tar_bytes: u64,
    /// Gzip facts (`out_bytes` is the `tar.gz` length).
    pub gzip: GzipSummary,
    /// Digest of the `MANIFEST.json` bytes.
    pub manifest_sha256: Sha256Digest,
}

/// How a file differed from what collection recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// Fewer bytes than recorded.
    Shrank,
    /// More bytes than recorded.
    Grew,
    /// Same size, other content.
    Content,
    /// Gone, or no longer a regular file.
    Replaced,
}

/// Why the archive stage failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// A file changed between collection and archiving.
    #[error("file changed during backup: {path} ({change:?})")]
    FileChanged {
        /// The member.
        path: ArchivePath,
        /// How.
        change: Change,
    },
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The member.
        path: ArchivePath,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Writing the tar stream failed.
    #[error("writing the archive failed")]
    Write {
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The gzip stage failed.
    #[error("compressing the archive failed")]
    Gzip {
        /// The error.
        #[source]
        source: GzipError,
    },
    /// An entry refers to a root the collection does not have.
    #[error("entry {path} refers to an unknown root")]
    UnknownRoot {
        /// The member.
        path: ArchivePath,
    },
    /// The cancel check fired.
    #[error("archiving cancelled")]
    Cancelled,
}

/// Writes `bundle` of `collection` as `tar.gz` into `out`; returns `out` and the summary.
/// Runs on the calling (blocking) thread plus the gzip workers.
///
/// # Errors
/// [`ArchiveError`]; `out` is then left with a truncated stream.
pub fn write_archive<W: Write>(
    collection: &Collection,
    bundle: Bundle,
    out: W,
    opts: &ArchiveOptions,
) -> Result<(W, ArchiveSummary), ArchiveError> {
    let manifest = ManifestSource::new(collection, bundle);
    let gz = ParGzWriter::new(out, &opts.gzip).map_err(|source| ArchiveError::Gzip { source })?;
    let mut tar = tar::Builder::new(CountingWriter {
        inner: gz,
        count: 0,
    });
    let header = base_header(tar::EntryType::Regular, 0o644, manifest.mtime, 0, 0);
    let manifest_sha256 = manifest
        .append(&mut tar, header)
        .map_err(|source| ArchiveError::Write { source })?;
    let mut summary = ArchiveSummary {
        bundle,
        entries: 0,
        files: 0,
        file_bytes: 0,
        tar_bytes: 0,
        gzip: GzipSummary {
            in_bytes: 0,
            out_bytes: 0,
            crc32: 0,
            blocks: 0,
        },
        manifest_sha256,
    };
    for entry in collection.entries(bundle) {
        if opts.cancel.as_ref().is_some_and(|c| c()) {
            return Err(ArchiveError::Cancelled);
        }
        append_entry(&mut tar, collection, entry)?;
        summary.entries += 1;
        if let EntryKind::File { size, .. } = entry.kind {
            summary.files += 1;
            summary.file_bytes += size;
        }
    }
    let counting = tar
        .into_inner()
        .map_err(|source| ArchiveError::Write { source })?;
    summary.tar_bytes = counting.count;
    let (out, gzip) = counting
        .inner
        .finish()
        .map_err(|source| ArchiveError::Gzip { source })?;
    summary.gzip = gzip;
    Ok((out, summary))
}

fn base_header(kind: tar::EntryType, mode: u32, mtime: i64, uid: u32, gid: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_mtime(u64::try_from(mtime).unwrap_or(0));
    h.set_uid(u64::from(uid));
    h.set_gid(u64::from(gid));
    h.set_size(0);
    h
}

fn append_entry<W: Write>(
    tar: &mut tar::Builder<W>,
    collection: &Collection,
    e: &Entry,
) -> Result<(), ArchiveError> {
    let write_err = |source| ArchiveError::Write { source };
    match (&e.kind, &e.source) {
        (EntryKind::Dir, _) => {
            let mut h = base_header(tar::EntryType::Directory, e.mode, e.mtime, e.uid, e.gid);
            tar.append_data(&mut h, e.path.as_str(), io::empty())
                .map_err(write_err)
        }
        (EntryKind::Symlink { target }, _) => {
            let mut h = base_header(tar::EntryType::Symlink, e.mode, e.mtime, e.uid, e.gid);
            tar.append_link(&mut h, e.path.as_str(), &**target)
                .map_err(write_err)
        }
        (EntryKind::File { size, sha256 }, EntrySource::Sanitized { root, how }) => {
            let file = open_source(collection, e, *root)?;
            let content = sanitize_again(file, collection, *how, e, *size, *sha256)?;
            let mut h = base_header(tar::EntryType::Regular, e.mode, e.mtime, e.uid, e.gid);
            h.set_size(*size);
            tar.append_data(&mut h, e.path.as_str(), content.as_slice())
                .map_err(write_err)
        }
        (EntryKind::File { size, sha256 }, EntrySource::Disk { root }) => {
            let file = open_source(collection, e, *root)?;
            let mut h = base_header(tar::EntryType::Regular, e.mode, e.mtime, e.uid, e.gid);
            h.set_size(*size);
            let mut reader = VerifyingReader::new(file, *size, *sha256);
            match tar.append_data(&mut h, e.path.as_str(), &mut reader) {
                Ok(()) => Ok(()),
                Err(source) => Err(match reader.failure.take() {
                    Some(Failure::Changed(change)) => ArchiveError::FileChanged {
                        path: e.path.clone(),
                        change,
                    },
                    Some(Failure::Read(source)) => ArchiveError::Read {
                        path: e.path.clone(),
                        source,
                    },
                    None => ArchiveError::Write { source },
                }),
            }
        }
        (EntryKind::File { .. }, EntrySource::None) => Err(ArchiveError::UnknownRoot {
            path: e.path.clone(),
        }),
    }
}

/// Opens the file of `e` below root number `root`, without following symlinks.
fn open_source(collection: &Collection, e: &Entry, root: usize) -> Result<File, ArchiveError> {
    let (root, rel) = collection
        .roots
        .get(root)
        .and_then(|root| Some((root, root.rel(&e.path)?)))
        .ok_or_else(|| ArchiveError::UnknownRoot {
            path: e.path.clone(),
        })?;
    match open_file_beneath(&root.fd, Path::new(rel)) {
        Ok((fd, _)) => Ok(File::from(fd)),
        Err(source) if is_replaced(&source) => Err(ArchiveError::FileChanged {
            path: e.path.clone(),
            change: Change::Replaced,
        }),
        Err(source) => Err(ArchiveError::Read {
            path: e.path.clone(),
            source,
        }),
    }
}

/// Reads a `.env` again and sanitizes it; the result must be the copy collection recorded
/// (same size and digest), else the file changed in between.
fn sanitize_again(
    file: File,
    collection: &Collection,
    how: SanitizeHow,
    e: &Entry,
    size: u64,
    sha256: Sha256Digest,
) -> Result<Vec<u8>, ArchiveError> {
    let changed = |change| ArchiveError::FileChanged {
        path: e.path.clone(),
        change,
    };
    let mut raw = Vec::new();
    let read = file.take(MAX_ENV_BYTES + 1).read_to_end(&mut raw);
    let sanitized = match read {
        Err(source) => Err(ArchiveError::Read {
            path: e.path.clone(),
            source,
        }),
        Ok(n) if n as u64 > MAX_ENV_BYTES => Err(changed(Change::Grew)),
        Ok(_) => match how {
            SanitizeHow::Env => sanitize_env(&raw, &collection.env_allowlist)
                .map(|s| s.content)
                .map_err(|_| changed(Change::Content)),
            SanitizeHow::Config(format) => std::str::from_utf8(&raw)
                .map(|text| redact_config(text, format).content.into_bytes())
                .map_err(|_| changed(Change::Content)),
        },
    };
    // Best effort: the real values do not linger in freed memory.
    raw.fill(0);
    std::hint::black_box(&raw);
    let sanitized = sanitized?;
    if sanitized.len() as u64 != size || Sha256Digest::of(&sanitized) != sha256 {
        return Err(changed(Change::Content));
    }
    Ok(sanitized)
}

/// Gone, turned into a symlink (`ELOOP` under `O_NOFOLLOW`), a path component no longer a
/// directory, or no longer a regular file.
fn is_replaced(e: &io::Error) -> bool {
    let loop_or_notdir =
        [rustix::io::Errno::LOOP, rustix::io::Errno::NOTDIR].map(rustix::io::Errno::raw_os_error);
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::InvalidData
    ) || e
        .raw_os_error()
        .is_some_and(|code| loop_or_notdir.contains(&code))
}

enum Failure {
    Changed(Change),
    Read(io::Error),
}

/// Yields exactly `size` bytes of a file and checks, when they are all out, that the file has
/// no more and that their digest is the recorded one; records the failure for the caller.
struct VerifyingReader {
    file: std::fs::File,
    remaining: u64,
    expected: Sha256Digest,
    hasher: Sha256,
    failure: Option<Failure>,
}

impl VerifyingReader {
    fn new(file: std::fs::File, size: u64, expected: Sha256Digest) -> Self {
        Self {
            file,
            remaining: size,
            expected,
            hasher: Sha256::new(),
            failure: None,
        }
    }

    fn fail(&mut self, failure: Failure) -> io::Error {
        self.failure = Some(failure);
        io::Error::other("source file check failed")
    }
}

impl Read for VerifyingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            let mut probe = [0u8; 1];
            return match self.file.read(&mut probe) {
                Ok(0)
                    if Sha256Digest::from_bytes(self.hasher.clone().finalize().into())
                        == self.expected =>
                {
                    Ok(0)
                }
                Ok(0) => Err(self.fail(Failure::Changed(Change::Content))),
                Ok(_) => Err(self.fail(Failure::Changed(Change::Grew))),
                Err(e) => Err(self.fail(Failure::Read(e))),
            };
        }
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len())
            .min(READ_BUF);
        match self.file.read(&mut buf[..want]) {
            Ok(0) => Err(self.fail(Failure::Changed(Change::Shrank))),
            Ok(n) => {
                self.hasher.update(&buf[..n]);
                self.remaining -= n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => Err(self.fail(Failure::Read(e))),
        }
    }
}

struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
