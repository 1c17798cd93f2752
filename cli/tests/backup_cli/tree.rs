//! Source trees for the binary tests: a private copy of the sample project, and snapshots
//! (content, mode, mtime, symlink target) to compare a restored tree with its source.

use std::collections::BTreeMap;
use std::fs::{File, FileTimes};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

/// The sample project shipped in the repository.
pub(crate) fn sample_project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample-project")
}

/// A copy of the sample project in a temp dir (symlinks kept as links, modes and mtimes kept),
/// with a few distinctive modes and mtimes so a restore has something to preserve.
pub(crate) fn sample_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&sample_project(), dir.path());
    let root = dir.path();
    set_mode(&root.join("nginx/nginx.conf"), 0o640);
    set_mtime(&root.join("nginx/nginx.conf"), 1_600_000_000);
    set_mtime(&root.join("docker-compose.yml"), 1_234_567_890);
    dir
}

fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let meta = std::fs::symlink_metadata(&from).unwrap();
        if meta.file_type().is_symlink() {
            symlink(std::fs::read_link(&from).unwrap(), &to).unwrap();
        } else if meta.is_dir() {
            copy_tree(&from, &to);
        } else {
            std::fs::copy(&from, &to).unwrap();
            set_mode(&to, meta.mode() & 0o7777);
            set_mtime(&to, meta.mtime());
        }
    }
}

pub(crate) fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub(crate) fn set_mtime(path: &Path, secs: i64) {
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap());
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_times(FileTimes::new().set_modified(at).set_accessed(at))
        .unwrap();
}

/// One entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// A regular file.
    File {
        content: Vec<u8>,
        mode: u32,
        mtime: i64,
    },
    /// A directory.
    Dir,
    /// A symlink and its target, verbatim.
    Link(PathBuf),
}

/// Every entry below `root`, by relative path.
pub(crate) fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let node = if meta.file_type().is_symlink() {
            Node::Link(std::fs::read_link(&path).unwrap())
        } else if meta.is_dir() {
            walk(root, &path, out);
            Node::Dir
        } else {
            Node::File {
                content: std::fs::read(&path).unwrap(),
                mode: meta.mode() & 0o7777,
                mtime: meta.mtime(),
            }
        };
        out.insert(rel, node);
    }
}
