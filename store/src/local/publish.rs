//! Filesystem primitives of the local store, all blocking: staging files, create-only publish
//! by hard link, durable directory creation and directory fsync.
//!
//! Why hard links: `std` has no `renameat2(RENAME_NOREPLACE)`, and a plain `rename` replaces an
//! existing file. `link(staging, final)` fails with `EEXIST` when the name is taken, so it is
//! an atomic create-only publish; unlinking the staging name afterwards leaves the object with
//! one link. The data is fsynced before the link and the directory after it, so a published
//! object survives a crash.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use crate::key::STAGING_MARKER;

/// Mode of objects and sidecars: owner-only, since even encrypted configuration is sensitive.
const FILE_MODE: u32 = 0o600;

/// The outcome of a create-only publish.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Published {
    /// The name was free and now holds the staged file.
    Created,
    /// The name was taken; the staged file was removed, the existing file left untouched.
    Taken,
}

/// A fresh staging name next to `target`: `<target>.partial-<16 hex>`.
pub(super) fn staging_path(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(format!("{STAGING_MARKER}{:016x}", rand::random::<u64>()));
    PathBuf::from(name)
}

/// Creates a staging file exclusively (never reusing an existing name).
pub(super) fn create_staging(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Creates `dir` and any missing ancestors, fsyncing each new directory's parent so the new
/// names are durable.
pub(super) fn create_dirs(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut cursor = Some(dir);
    while let Some(d) = cursor {
        if d.as_os_str().is_empty() || fs::symlink_metadata(d).is_ok() {
            break;
        }
        missing.push(d);
        cursor = d.parent();
    }
    for d in missing.into_iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => {}
            // Another upload created it between our check and now: fine.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
        if let Some(parent) = d.parent() {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// fsyncs a directory so that entries created or removed in it are durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `data` to a new staging file next to `target` and fsyncs it.
pub(super) fn write_staged(target: &Path, data: &[u8]) -> io::Result<PathBuf> {
    let staging = staging_path(target);
    let mut file = create_staging(&staging)?;
    let written = file.write_all(data).and_then(|()| file.sync_all());
    if let Err(e) = written {
        remove_quietly(&staging);
        return Err(e);
    }
    Ok(staging)
}

/// Publishes the (already fsynced) `staging` file as `target`, create-only, and removes the
/// staging name in every case. The caller fsyncs the directory afterwards.
pub(super) fn publish(staging: &Path, target: &Path) -> io::Result<Published> {
    let linked = fs::hard_link(staging, target);
    remove_quietly(staging);
    match linked {
        Ok(()) => Ok(Published::Created),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Published::Taken),
        Err(e) => Err(e),
    }
}

/// Removes a file, ignoring errors (cleanup of staging files on failure paths).
pub(super) fn remove_quietly(path: &Path) {
    if let Err(e) = fs::remove_file(path)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "could not remove staging file");
    }
}

/// Reads a file, mapping "absent" to `None`.
pub(super) fn read_optional(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(data) => Ok(Some(data)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes a file, mapping "absent" to `false`.
pub(super) fn remove_optional(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn publish_is_create_only_and_cleans_staging() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("obj");
        let first = write_staged(&target, b"first").unwrap();
        assert_eq!(publish(&first, &target).unwrap(), Published::Created);
        let second = write_staged(&target, b"second").unwrap();
        assert_eq!(publish(&second, &target).unwrap(), Published::Taken);
        assert_eq!(fs::read(&target).unwrap(), b"first");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "staging files left behind");
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, FILE_MODE);
    }

    #[test]
    fn create_dirs_makes_nested_directories_and_tolerates_existing() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b/c");
        create_dirs(&nested).unwrap();
        assert!(nested.is_dir());
        create_dirs(&nested).unwrap();
    }

    #[test]
    fn staging_names_are_unique_and_marked() {
        let a = staging_path(Path::new("/x/obj"));
        let b = staging_path(Path::new("/x/obj"));
        assert_ne!(a, b);
        assert!(a.to_string_lossy().starts_with("/x/obj.partial-"));
    }
}
