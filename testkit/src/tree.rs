//! Temporary source trees with known contents, modes, mtimes and symlinks, for backup tests.

use std::fs::{self, File, FileTimes};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

pub use tempfile::TempDir;

/// One thing to create, relative to the tree's root.
#[derive(Debug, Clone)]
enum Node {
    File { contents: Vec<u8> },
    Dir,
    Symlink { target: PathBuf },
}

#[derive(Debug, Clone)]
struct Entry {
    path: PathBuf,
    node: Node,
    mode: Option<u32>,
    mtime: Option<SystemTime>,
}

/// Builds a tree of files, directories and symlinks in a fresh [`TempDir`].
///
/// [`mode`](Self::mode) and [`mtime`](Self::mtime) apply to the entry added just before them.
/// Parent directories are created as needed. Times are set before modes, and directories
/// after their contents, so the given values are what the tree ends up with; symlinks keep the
/// time they were created at (std cannot set a link's own times).
///
/// Note that the tests may run as root, which reads files whatever their mode: a mode of
/// `0o000` does not make a file unreadable there.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use celeriac_testkit::tree::SourceTree;
///
/// let tree = SourceTree::new()
///     .file("etc/app.toml", "port = 8080\n")
///     .mode(0o640)
///     .mtime(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
///     .dir("empty")
///     .symlink("current", "etc")
///     .build();
/// assert_eq!(std::fs::read_to_string(tree.path().join("current/app.toml")).unwrap(), "port = 8080\n");
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct SourceTree {
    entries: Vec<Entry>,
}

impl SourceTree {
    /// An empty tree.
    pub fn new() -> SourceTree {
        SourceTree::default()
    }

    /// Adds a regular file with `contents`.
    ///
    /// # Panics
    /// If `path` is absolute or contains `..` (it must stay inside the tree).
    pub fn file(self, path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> SourceTree {
        let contents = contents.as_ref().to_vec();
        self.push(path.as_ref(), Node::File { contents })
    }

    /// Adds a directory (possibly empty).
    ///
    /// # Panics
    /// If `path` is absolute or contains `..`.
    pub fn dir(self, path: impl AsRef<Path>) -> SourceTree {
        self.push(path.as_ref(), Node::Dir)
    }

    /// Adds a symlink at `path` pointing to `target`, stored verbatim (relative, absolute or
    /// dangling).
    ///
    /// # Panics
    /// If `path` is absolute or contains `..`.
    pub fn symlink(self, path: impl AsRef<Path>, target: impl AsRef<Path>) -> SourceTree {
        let target = target.as_ref().to_path_buf();
        self.push(path.as_ref(), Node::Symlink { target })
    }

    /// Sets the permission bits (e.g. `0o600`) of the entry added last.
    ///
    /// # Panics
    /// If no entry was added yet, or the last one is a symlink.
    pub fn mode(mut self, mode: u32) -> SourceTree {
        let last = self.last("mode");
        assert!(
            !matches!(last.node, Node::Symlink { .. }),
            "SourceTree::mode: symlinks have no mode of their own ({})",
            last.path.display()
        );
        last.mode = Some(mode);
        self
    }

    /// Sets the modification time of the entry added last.
    ///
    /// # Panics
    /// If no entry was added yet, or the last one is a symlink.
    pub fn mtime(mut self, mtime: SystemTime) -> SourceTree {
        let last = self.last("mtime");
        assert!(
            !matches!(last.node, Node::Symlink { .. }),
            "SourceTree::mtime: cannot set a symlink's own time ({})",
            last.path.display()
        );
        last.mtime = Some(mtime);
        self
    }

    /// Writes the tree into a new temporary directory, removed when the `TempDir` drops.
    ///
    /// # Panics
    /// If the temporary directory or any entry cannot be created.
    pub fn build(&self) -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix("celeriac-tree-")
            .tempdir()
            .unwrap_or_else(|e| panic!("SourceTree: creating a temp dir: {e}"));
        self.write_into(dir.path());
        dir
    }

    /// Writes the tree under `root`, which must exist.
    ///
    /// # Panics
    /// If any entry cannot be created.
    pub fn write_into(&self, root: &Path) {
        for entry in &self.entries {
            create(root, entry);
        }
        // Deepest paths first, so setting a child never disturbs a parent set earlier.
        let mut deepest_first: Vec<&Entry> = self.entries.iter().collect();
        deepest_first.sort_by_key(|e| std::cmp::Reverse(e.path.components().count()));
        for entry in &deepest_first {
            if let Some(mtime) = entry.mtime {
                set_mtime(&root.join(&entry.path), mtime);
            }
        }
        for entry in &deepest_first {
            if let Some(mode) = entry.mode {
                let path = root.join(&entry.path);
                fs::set_permissions(&path, fs::Permissions::from_mode(mode))
                    .unwrap_or_else(|e| panic!("SourceTree: chmod {}: {e}", path.display()));
            }
        }
    }

    fn push(mut self, path: &Path, node: Node) -> SourceTree {
        let inside = path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        assert!(
            inside && path.components().next().is_some(),
            "SourceTree: {} must be a relative path inside the tree",
            path.display()
        );
        self.entries.push(Entry {
            path: path.to_path_buf(),
            node,
            mode: None,
            mtime: None,
        });
        self
    }

    fn last(&mut self, what: &str) -> &mut Entry {
        self.entries
            .last_mut()
            .unwrap_or_else(|| panic!("SourceTree::{what}: add an entry first"))
    }
}

fn create(root: &Path, entry: &Entry) {
    let path = root.join(&entry.path);
    let fail = |e: std::io::Error| -> ! { panic!("SourceTree: creating {}: {e}", path.display()) };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| fail(e));
    }
    match &entry.node {
        Node::File { contents } => fs::write(&path, contents).unwrap_or_else(|e| fail(e)),
        Node::Dir => fs::create_dir_all(&path).unwrap_or_else(|e| fail(e)),
        Node::Symlink { target } => symlink(target, &path).unwrap_or_else(|e| fail(e)),
    }
}

fn set_mtime(path: &Path, mtime: SystemTime) {
    let set = File::open(path).and_then(|f| f.set_times(FileTimes::new().set_modified(mtime)));
    set.unwrap_or_else(|e| panic!("SourceTree: setting the mtime of {}: {e}", path.display()));
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, UNIX_EPOCH};

    use super::SourceTree;

    #[test]
    fn builds_files_dirs_and_symlinks_with_modes_and_times() {
        let old = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let older = UNIX_EPOCH + Duration::from_secs(987_654_321);
        let tree = SourceTree::new()
            .file("a/b/secret.env", b"KEY=value\n")
            .mode(0o600)
            .mtime(old)
            .dir("a")
            .mode(0o750)
            .mtime(older)
            .dir("empty")
            .symlink("a/link-rel", "b/secret.env")
            .symlink("abs-link", "/nonexistent/target")
            .build();
        let root = tree.path();

        let secret = root.join("a/b/secret.env");
        assert_eq!(std::fs::read(&secret).unwrap(), b"KEY=value\n");
        let meta = std::fs::metadata(&secret).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
        assert_eq!(meta.modified().unwrap(), old);

        let dir = std::fs::metadata(root.join("a")).unwrap();
        assert_eq!(dir.permissions().mode() & 0o7777, 0o750);
        assert_eq!(
            dir.modified().unwrap(),
            older,
            "children did not disturb the dir's time"
        );

        assert!(root.join("empty").is_dir());
        assert_eq!(
            std::fs::read_link(root.join("a/link-rel")).unwrap(),
            std::path::Path::new("b/secret.env")
        );
        assert_eq!(
            std::fs::read_link(root.join("abs-link")).unwrap(),
            std::path::Path::new("/nonexistent/target")
        );
        assert!(
            !root.join("abs-link").exists(),
            "dangling links are kept as given"
        );
    }

    #[test]
    #[should_panic(expected = "must be a relative path inside the tree")]
    fn refuses_paths_that_escape_the_tree() {
        let _ = SourceTree::new().file("../outside", "x");
    }

    #[test]
    #[should_panic(expected = "add an entry first")]
    fn mode_needs_an_entry() {
        let _ = SourceTree::new().mode(0o600);
    }
}
