//! Filesystem access confined beneath a directory fd: every component is opened relative to its
//! parent's fd with `O_NOFOLLOW`, so a symlink swapped in anywhere along a path is never followed.
//! Shared by the collector, the archive stage (re-open for tarring) and the extractor.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags, Stat};

/// Opens directory `name` (one component) below `dir` without following a symlink.
pub(crate) fn open_dir_at(dir: impl AsFd, name: &OsStr) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(
        dir,
        name.as_bytes(),
        flags,
        Mode::empty(),
    )?)
}

/// Reads up to `buf.len()` bytes from the start of regular file `name` (one component) below
/// `dir`, without following a symlink or blocking on a FIFO. Returns how many bytes were read.
pub(crate) fn read_head_at(dir: impl AsFd, name: &OsStr, buf: &mut [u8]) -> io::Result<usize> {
    let flags =
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = rustix::fs::openat(dir, name.as_bytes(), flags, Mode::empty())?;
    if file_type(&rustix::fs::fstat(&fd)?) != FileType::RegularFile {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    let mut file = std::fs::File::from(fd);
    let mut filled = 0;
    while filled < buf.len() {
        match io::Read::read(&mut file, &mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Opens a directory by absolute path (the root itself may be reached through symlinks: it is
/// the operator's explicit choice).
pub(crate) fn open_root(path: &Path) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(rustix::fs::open(path, flags, Mode::empty())?)
}

/// Opens the regular file at `rel` (relative, components only) below `root` for reading; no
/// component may be a symlink. Returns the fd and its `fstat`, which must be a regular file.
///
/// `O_NONBLOCK` keeps a FIFO swapped in after the walk from blocking the open.
pub(crate) fn open_file_beneath(root: impl AsFd, rel: &Path) -> io::Result<(OwnedFd, Stat)> {
    let flags =
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = if let Some(opened) = open_at_once(root.as_fd(), rel, flags) {
        opened?
    } else {
        let (dir, name) = open_parent_beneath(root, rel)?;
        rustix::fs::openat(&dir, name.as_bytes(), flags, Mode::empty())?
    };
    let stat = rustix::fs::fstat(&fd)?;
    if file_type(&stat) != FileType::RegularFile {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            NotRegular(file_type(&stat)),
        ));
    }
    Ok((fd, stat))
}

/// Set once `openat2` turned out to be unavailable (old kernel, or filtered by seccomp).
#[cfg(target_os = "linux")]
static NO_OPENAT2: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The same confinement in one system call: `openat2` with `RESOLVE_BENEATH |
/// RESOLVE_NO_SYMLINKS` makes the kernel refuse any symlink and any escape along `rel` (Linux
/// 5.6+). `None` when the call is unavailable or asks for a retry: walk component by component.
#[cfg(target_os = "linux")]
fn open_at_once(
    root: std::os::fd::BorrowedFd<'_>,
    rel: &Path,
    flags: OFlags,
) -> Option<io::Result<OwnedFd>> {
    use std::sync::atomic::Ordering;

    use rustix::fs::ResolveFlags;
    use rustix::io::Errno;

    if NO_OPENAT2.load(Ordering::Relaxed)
        || !rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        return None;
    }
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    match rustix::fs::openat2(root, rel, flags, Mode::empty(), resolve) {
        Ok(fd) => Some(Ok(fd)),
        Err(Errno::AGAIN) => None,
        Err(Errno::NOSYS | Errno::PERM | Errno::INVAL | Errno::TOOBIG) => {
            NO_OPENAT2.store(true, Ordering::Relaxed);
            None
        }
        Err(e) => Some(Err(e.into())),
    }
}

#[cfg(not(target_os = "linux"))]
fn open_at_once(
    _root: std::os::fd::BorrowedFd<'_>,
    _rel: &Path,
    _flags: OFlags,
) -> Option<io::Result<OwnedFd>> {
    None
}

/// Opens every directory component of `rel` but the last below `root` (no symlinks); returns the
/// parent fd and the last component.
pub(crate) fn open_parent_beneath(root: impl AsFd, rel: &Path) -> io::Result<(OwnedFd, &OsStr)> {
    let mut components = rel.iter().peekable();
    let mut current: Option<OwnedFd> = None;
    while let Some(component) = components.next() {
        if components.peek().is_none() {
            let dir = match current {
                Some(fd) => fd,
                None => rustix::io::fcntl_dupfd_cloexec(root.as_fd(), 0)?,
            };
            return Ok((dir, component));
        }
        if component == ".." || component == "." || component == "/" {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        current = Some(match &current {
            Some(fd) => open_dir_at(fd, component)?,
            None => open_dir_at(root.as_fd(), component)?,
        });
    }
    Err(io::Error::from(io::ErrorKind::InvalidInput))
}

/// `lstat` of `name` in `dir`.
pub(crate) fn stat_at(dir: impl AsFd, name: &OsStr) -> io::Result<Stat> {
    Ok(rustix::fs::statat(
        dir,
        name.as_bytes(),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )?)
}

/// Target of symlink `name` in `dir`, as raw bytes.
pub(crate) fn read_link_at(dir: impl AsFd, name: &OsStr) -> io::Result<Vec<u8>> {
    Ok(rustix::fs::readlinkat(dir, name.as_bytes(), Vec::new())?.into_bytes())
}

/// Names in directory `dir` (without `.` and `..`), sorted byte-wise.
pub(crate) fn list_dir(dir: impl AsFd) -> io::Result<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    names.sort();
    Ok(names)
}

/// The type bits of a `Stat`.
pub(crate) fn file_type(stat: &Stat) -> FileType {
    FileType::from_raw_mode(stat.st_mode)
}

/// Permission bits (including setuid, setgid, sticky) of a `Stat`.
pub(crate) fn permissions(stat: &Stat) -> u32 {
    stat.st_mode & 0o7777
}

/// The error payload when an opened path is not a regular file.
#[derive(Debug)]
pub(crate) struct NotRegular(pub(crate) FileType);

impl std::fmt::Display for NotRegular {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a regular file ({:?})", self.0)
    }
}

impl std::error::Error for NotRegular {}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use super::*;

    #[test]
    fn files_open_beneath_the_root_and_symlinks_anywhere_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f.conf"), "x").unwrap();
        std::os::unix::fs::symlink("b", root.join("a/link")).unwrap();
        std::os::unix::fs::symlink("f.conf", root.join("a/b/alias")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("escape")).unwrap();
        let fd = open_root(root).unwrap();
        let (_, stat) = open_file_beneath(&fd, Path::new("a/b/f.conf")).unwrap();
        assert_eq!(stat.st_size, 1);
        for bad in [
            "a/link/f.conf",
            "a/b/alias",
            "escape/hostname",
            "a/../a/b/f.conf",
            "/etc/hostname",
        ] {
            assert!(open_file_beneath(&fd, Path::new(bad)).is_err(), "{bad}");
        }
        let missing = open_file_beneath(&fd, Path::new("a/b/none")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        let dir_err = open_file_beneath(&fd, Path::new("a/b")).unwrap_err();
        assert_eq!(dir_err.kind(), io::ErrorKind::InvalidData);
    }
}
