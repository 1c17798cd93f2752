//! The directory walk: visits each root through directory fds (never following a symlink),
//! prunes excluded directories, and yields rule-matched files and symlinks plus the metadata of
//! every directory it entered. Special files that match a rule become recorded skips.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{FileType, Stat};

use crate::beneath::{
    file_type, list_dir, open_dir_at, permissions, read_head_at, read_link_at, stat_at,
};
use crate::config::spec::{CollectSpec, RootSpec};
use crate::manifest::Category;
use crate::manifest::{ArchivePath, MANIFEST_NAME};
use crate::report::{SkipReason, SpecialKind};
use crate::write::classify::{MANIFEST_HEAD, is_kubernetes_manifest};

/// Deepest directory nesting the walk enters.
const MAX_DEPTH: usize = 256;

/// Ownership, permissions and mtime of a collected object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) mode: u32,
    pub(crate) mtime: i64,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

impl Meta {
    pub(crate) fn of(stat: &Stat) -> Self {
        Self {
            mode: permissions(stat),
            mtime: stat.st_mtime,
            uid: stat.st_uid,
            gid: stat.st_gid,
        }
    }
}

/// A rule-matched file or symlink found by the walk.
#[derive(Debug)]
pub(super) struct Candidate {
    pub(super) root: usize,
    /// Path in the archive (prefix + the path below the root).
    pub(super) path: ArchivePath,
    /// Where the path below the root starts in `path` (one name allocation per candidate).
    rel_at: usize,
    pub(super) category: Category,
    pub(super) meta: Meta,
    pub(super) kind: CandidateKind,
}

#[derive(Debug)]
pub(super) enum CandidateKind {
    File,
    Symlink { target: Vec<u8> },
}

impl Candidate {
    /// The path below the root.
    pub(super) fn rel(&self) -> &str {
        &self.path.as_str()[self.rel_at..]
    }
}

/// A problem met during the walk: the collector applies the policy to it.
#[derive(Debug)]
pub(super) struct WalkProblem {
    pub(super) path: String,
    pub(super) reason: SkipReason,
    pub(super) source: Option<io::Error>,
}

/// Everything the walk found.
#[derive(Debug, Default)]
pub(super) struct Walked {
    pub(super) candidates: Vec<Candidate>,
    pub(super) dirs: HashMap<ArchivePath, Meta>,
    pub(super) problems: Vec<WalkProblem>,
    pub(super) left_out: crate::report::LeftOut,
}

/// Walks one root.
pub(super) struct RootWalk<'a> {
    pub(super) spec: &'a CollectSpec,
    pub(super) root: usize,
    pub(super) prefix: Option<&'a ArchivePath>,
    pub(super) root_spec: &'a RootSpec,
    pub(super) out: &'a mut Walked,
    /// Reused buffer for reading the start of YAML files.
    pub(super) head_buf: Option<Vec<u8>>,
}

impl RootWalk<'_> {
    /// Records the root's own metadata under its prefix, then walks it.
    pub(super) fn run(&mut self, root_fd: &OwnedFd) -> io::Result<()> {
        let stat = rustix::fs::fstat(root_fd)?;
        if let Some(prefix) = self.prefix {
            let meta = Meta::of(&stat);
            for ancestor in prefix.ancestors() {
                self.out.dirs.insert(
                    ancestor,
                    Meta {
                        mode: 0o755,
                        uid: 0,
                        gid: 0,
                        ..meta
                    },
                );
            }
            self.out.dirs.insert(prefix.clone(), meta);
        }
        self.dir(root_fd, None, 0);
        Ok(())
    }

    fn problem(&mut self, rel: &str, reason: SkipReason, source: Option<io::Error>) {
        let path = self.root_spec.path.join(rel).display().to_string();
        self.out.problems.push(WalkProblem {
            path,
            reason,
            source,
        });
    }

    fn dir(&mut self, fd: &OwnedFd, rel: Option<&ArchivePath>, depth: usize) {
        let names = match list_dir(fd) {
            Ok(names) => names,
            Err(e) => {
                let shown = rel.map_or(String::new(), ToString::to_string);
                self.problem(&shown, SkipReason::from_io(&e), Some(e));
                return;
            }
        };
        for name in names {
            self.name(fd, rel, OsStr::from_bytes(&name), depth);
        }
    }

    fn name(&mut self, dir: &OwnedFd, parent: Option<&ArchivePath>, name: &OsStr, depth: usize) {
        let lossy_rel = match parent {
            Some(p) => format!("{p}/{}", name.to_string_lossy()),
            None => name.to_string_lossy().into_owned(),
        };
        let lossy_path = match self.prefix {
            Some(p) => format!("{p}/{lossy_rel}"),
            None => lossy_rel.clone(),
        };
        if self.spec.is_excluded(&lossy_path) {
            return;
        }
        let mut category = self
            .spec
            .category_in_root(self.root_spec, &lossy_rel, &lossy_path);
        let stat = match stat_at(dir, name) {
            Ok(stat) => stat,
            Err(e) => {
                if category.is_some() {
                    self.problem(&lossy_rel, SkipReason::from_io(&e), Some(e));
                }
                return;
            }
        };
        let kind = file_type(&stat);
        if kind == FileType::RegularFile && category.is_none() && self.is_manifest(dir, name) {
            category = Some(Category::Kubernetes);
        }
        if kind != FileType::Directory && category.is_none() {
            if kind == FileType::RegularFile && self.spec.looks_like_config(&lossy_path) {
                self.out.left_out.add(lossy_path);
            }
            return;
        }
        let (Ok(rel), Ok(path)) = (
            ArchivePath::parse(&lossy_rel),
            ArchivePath::under(self.prefix, &lossy_rel),
        ) else {
            self.problem(&lossy_rel, SkipReason::UnsupportedName, None);
            return;
        };
        if name.to_str().is_none() {
            self.problem(&lossy_rel, SkipReason::UnsupportedName, None);
            return;
        }
        match (kind, category) {
            (FileType::Directory, _) => self.subdir(dir, name, &rel, path, depth),
            (_, None) => {}
            (FileType::RegularFile | FileType::Symlink, Some(_))
                if path.as_str() == MANIFEST_NAME =>
            {
                self.problem(&lossy_rel, SkipReason::ReservedName, None);
            }
            (FileType::RegularFile, Some(category)) => {
                self.push(&rel, path, category, &stat, CandidateKind::File);
            }
            (FileType::Symlink, Some(category)) => match read_link_at(dir, name) {
                Ok(target) => self.push(
                    &rel,
                    path,
                    category,
                    &stat,
                    CandidateKind::Symlink { target },
                ),
                Err(e) => self.problem(&lossy_rel, SkipReason::from_io(&e), Some(e)),
            },
            (other, Some(_)) => {
                self.problem(
                    &lossy_rel,
                    SkipReason::SpecialFile {
                        kind: SpecialKind::of(other),
                    },
                    None,
                );
            }
        }
    }

    /// A `*.yaml`/`*.yml` that no name rule took but whose content is a Kubernetes object
    /// (kubernetes/examples keeps its manifests in folders of any name). Unreadable: not one
    /// here; the collector would report it if a rule had taken it.
    fn is_manifest(&mut self, dir: &OwnedFd, name: &OsStr) -> bool {
        let is_yaml = std::path::Path::new(name)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        if !is_yaml {
            return false;
        }
        let head = self.head_buf.get_or_insert_with(|| vec![0; MANIFEST_HEAD]);
        read_head_at(dir, name, head)
            .is_ok_and(|n| head.get(..n).is_some_and(is_kubernetes_manifest))
    }

    fn push(
        &mut self,
        rel: &ArchivePath,
        path: ArchivePath,
        category: Category,
        stat: &Stat,
        kind: CandidateKind,
    ) {
        let meta = Meta::of(stat);
        self.out.candidates.push(Candidate {
            root: self.root,
            rel_at: path.as_str().len() - rel.as_str().len(),
            path,
            category,
            meta,
            kind,
        });
    }

    fn subdir(
        &mut self,
        dir: &OwnedFd,
        name: &OsStr,
        rel: &ArchivePath,
        path: ArchivePath,
        depth: usize,
    ) {
        if depth >= MAX_DEPTH {
            self.problem(rel.as_str(), SkipReason::TooDeep, None);
            return;
        }
        let fd = match open_dir_at(dir, name) {
            Ok(fd) => fd,
            Err(e) => {
                self.problem(rel.as_str(), SkipReason::from_io(&e), Some(e));
                return;
            }
        };
        match rustix::fs::fstat(&fd) {
            Ok(stat) => {
                self.out.dirs.insert(path, Meta::of(&stat));
            }
            Err(e) => {
                let e = io::Error::from(e);
                self.problem(rel.as_str(), SkipReason::from_io(&e), Some(e));
                return;
            }
        }
        self.dir(&fd, Some(rel), depth + 1);
    }
}
