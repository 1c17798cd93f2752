//! The staging directory and everything written into it. Every path is walked component by
//! component from the staging fd with `O_NOFOLLOW`; files are created `O_EXCL`; symlinks are
//! created last; directory modes and mtimes are applied after all their children, deepest first.
//! Setuid, setgid and sticky bits are cleared; secrets-bundle modes lose group and other bits.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, Timespec, Timestamps};

use super::{ExtractError, FsOp};
use crate::beneath::open_dir_at;
use crate::manifest::{ArchivePath, EntryType, ManifestEntryRef, ManifestIndex};

/// Name prefix of staging directories.
const STAGING_PREFIX: &str = ".celeriac-staging-";

/// Staging directories in `parent` that `select` picks by the process id in their name and that
/// the current user owns: (path, pid).
fn staging_dirs(parent: &Path, select: impl Fn(u32) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let me = rustix::process::geteuid().as_raw();
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let pid: u32 = name
                .to_str()?
                .strip_prefix(STAGING_PREFIX)?
                .split_once('-')?
                .0
                .parse()
                .ok()?;
            let meta = entry.path().symlink_metadata().ok()?;
            let ours = std::os::unix::fs::MetadataExt::uid(&meta) == me && meta.is_dir();
            (ours && select(pid)).then(|| entry.path())
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    // EPERM means it exists but is someone else's: alive.
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

/// Removes the staging directories in `parent` left by restores that were killed (their
/// process is gone) and that the current user owns; returns what it removed. Directories of
/// running restores are left alone.
pub(crate) fn remove_stale_staging(parent: &Path) -> Vec<PathBuf> {
    let me = std::process::id();
    let stale = staging_dirs(parent, |pid| pid != me && !alive(pid));
    stale
        .into_iter()
        .filter(|path| std::fs::remove_dir_all(path).is_ok())
        .collect()
}

/// Removes this process's own staging directories in `parent` (on SIGINT or SIGTERM, before
/// exiting, while extraction may still be writing); returns what it removed.
pub(crate) fn remove_own_staging(parent: &Path) -> Vec<PathBuf> {
    let me = std::process::id();
    staging_dirs(parent, |pid| pid == me)
        .into_iter()
        .filter(|path| {
            // Extraction may still be creating entries while this runs, which can make one
            // pass fail with "directory not empty"; it writes through a handle on the staging
            // directory, so once that directory is gone nothing new appears.
            (0..5).any(|_| std::fs::remove_dir_all(path).is_ok() || !path.exists())
        })
        .collect()
}

/// A fresh, private (0700) directory that extraction writes into. Dropping it without a
/// successful [`super::commit`] removes it and everything in it.
pub struct Staging {
    path: PathBuf,
    fd: OwnedFd,
    keep: bool,
}

impl std::fmt::Debug for Staging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staging")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Staging {
    /// Creates `parent/.celeriac-staging-<pid>-<uuid>`. Put it on the target's filesystem (for
    /// example in the target's parent directory) so that [`super::commit`] can rename. The
    /// process id in the name lets [`remove_stale_staging`] tell a directory left by a killed
    /// restore from one a running restore is filling.
    ///
    /// # Errors
    /// [`ExtractError::Staging`].
    pub fn create_in(parent: &Path) -> Result<Self, ExtractError> {
        let path = parent.join(format!(
            "{STAGING_PREFIX}{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        let fail = |source| ExtractError::Staging {
            op: FsOp::CreateDir,
            path: path.display().to_string(),
            source,
        };
        rustix::fs::mkdir(&path, Mode::from_raw_mode(0o700)).map_err(|e| fail(e.into()))?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::open(&path, flags, Mode::empty()).map_err(|e| fail(e.into()))?;
        Ok(Self {
            path,
            fd,
            keep: false,
        })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Marks it as consumed by a commit (nothing left to remove on drop).
    pub(super) fn disarm(&mut self) {
        self.keep = true;
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            // Best effort: std's remove_dir_all does not follow symlinks.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Writes accepted entries into a staging directory.
pub(super) struct StagingWriter<'s> {
    root: &'s OwnedFd,
    secrets: bool,
    /// The manifest, whose directory entries give implicitly created ancestors their metadata.
    manifest: &'s ManifestIndex,
    /// Directories that exist in staging (explicit or implicit), with their manifest entry.
    dirs: BTreeMap<ArchivePath, Option<ManifestEntryRef<'s>>>,
    symlinks: Vec<ManifestEntryRef<'s>>,
}

fn fs_error(op: FsOp, path: &ArchivePath) -> impl FnOnce(io::Error) -> ExtractError + '_ {
    move |source| ExtractError::Staging {
        op,
        path: path.to_string(),
        source,
    }
}

impl<'s> StagingWriter<'s> {
    pub(super) fn new(staging: &'s Staging, manifest: &'s ManifestIndex, secrets: bool) -> Self {
        Self {
            root: staging.fd(),
            secrets,
            manifest,
            dirs: BTreeMap::new(),
            symlinks: Vec::new(),
        }
    }

    fn mode(&self, mode: u32) -> Mode {
        let mode = mode & 0o777;
        Mode::from_raw_mode(if self.secrets { mode & 0o700 } else { mode })
    }

    /// Opens directory `path` (creating it and missing ancestors with mode 0700) without
    /// following any symlink; `None` is the staging root.
    fn dir_fd(&mut self, path: Option<&ArchivePath>) -> Result<OwnedFd, ExtractError> {
        let mut current = rustix::io::fcntl_dupfd_cloexec(self.root, 0)
            .map_err(|e| fs_error(FsOp::Open, &root_name())(e.into()))?;
        let Some(path) = path else { return Ok(current) };
        let mut so_far: Option<ArchivePath> = None;
        for component in path.components() {
            let here = match &so_far {
                Some(p) => p.join(component),
                None => ArchivePath::parse(component),
            }
            .map_err(|_| fs_error(FsOp::Open, path)(io::ErrorKind::InvalidInput.into()))?;
            if !self.dirs.contains_key(&here) {
                match rustix::fs::mkdirat(&current, component, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(fs_error(FsOp::CreateDir, &here)(e.into())),
                }
                let listed = self
                    .manifest
                    .find(&here)
                    .filter(|e| e.kind() == EntryType::Dir && e.path() == here.as_str());
                self.dirs.insert(here.clone(), listed);
            }
            current = open_dir_at(&current, OsStr::new(component))
                .map_err(fs_error(FsOp::Open, &here))?;
            so_far = Some(here);
        }
        Ok(current)
    }

    /// Creates directory `entry`.
    pub(super) fn dir(&mut self, entry: ManifestEntryRef<'s>) -> Result<(), ExtractError> {
        let path = entry.archive_path();
        self.dir_fd(Some(&path))?;
        self.dirs.insert(path, Some(entry));
        Ok(())
    }

    /// Creates the regular file of `entry` (exclusively) and returns it for writing.
    pub(super) fn create_file(
        &mut self,
        entry: ManifestEntryRef<'_>,
    ) -> Result<File, ExtractError> {
        let path = entry.archive_path();
        let parent = self.dir_fd(path.parent().as_ref())?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&parent, path.file_name(), flags, Mode::from_raw_mode(0o600))
            .map_err(|e| fs_error(FsOp::CreateFile, &path)(e.into()))?;
        Ok(File::from(fd))
    }

    /// Applies mode, mtime (and owner if asked) to a written file.
    pub(super) fn finish_file(
        &self,
        file: &File,
        entry: ManifestEntryRef<'_>,
    ) -> Result<(), ExtractError> {
        let path = &entry.archive_path();
        let err = |op| move |e: rustix::io::Errno| fs_error(op, path)(e.into());
        rustix::fs::fchmod(file, self.mode(entry.mode())).map_err(err(FsOp::SetMode))?;
        rustix::fs::futimens(file, &times(entry.mtime())).map_err(err(FsOp::SetTime))?;
        Ok(())
    }

    /// Remembers symlink `entry` for creation at the end.
    pub(super) fn symlink(&mut self, entry: ManifestEntryRef<'s>) {
        self.symlinks.push(entry);
    }

    /// Creates the symlinks, then applies directory modes and mtimes, deepest first.
    pub(super) fn finish(mut self) -> Result<(), ExtractError> {
        for link in std::mem::take(&mut self.symlinks) {
            let target = link.target().unwrap_or_default();
            let path = link.archive_path();
            let parent = self.dir_fd(path.parent().as_ref())?;
            let name = path.file_name();
            rustix::fs::symlinkat(target, &parent, name)
                .map_err(|e| fs_error(FsOp::CreateSymlink, &path)(e.into()))?;
            rustix::fs::utimensat(
                &parent,
                name,
                &times(link.mtime()),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| fs_error(FsOp::SetTime, &path)(e.into()))?;
        }
        let mut dirs: Vec<_> = self
            .dirs
            .iter()
            .filter_map(|(p, e)| e.map(|e| (p.clone(), e)))
            .collect();
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for (path, entry) in dirs {
            let fd = self.open_existing_dir(&path)?;
            rustix::fs::fchmod(&fd, self.mode(entry.mode()))
                .map_err(|e| fs_error(FsOp::SetMode, &path)(e.into()))?;
            rustix::fs::futimens(&fd, &times(entry.mtime()))
                .map_err(|e| fs_error(FsOp::SetTime, &path)(e.into()))?;
        }
        Ok(())
    }

    fn open_existing_dir(&self, path: &ArchivePath) -> Result<OwnedFd, ExtractError> {
        let mut current = rustix::io::fcntl_dupfd_cloexec(self.root, 0)
            .map_err(|e| fs_error(FsOp::Open, path)(e.into()))?;
        for component in path.components() {
            current =
                open_dir_at(&current, OsStr::new(component)).map_err(fs_error(FsOp::Open, path))?;
        }
        Ok(current)
    }
}

fn root_name() -> ArchivePath {
    ArchivePath::parse(".staging").expect("a constant valid name")
}

fn times(mtime: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}
