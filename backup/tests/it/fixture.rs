//! Test fixtures: copies of the sample project, tree snapshots (content, modes, mtimes, symlink
//! targets) for byte-for-byte comparison, and shortcuts for collect → archive → extract.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use celeriac_backup::Bundle;
use celeriac_backup::CollectSpec;
use celeriac_backup::internals::CommitPolicy;
use celeriac_backup::internals::RawCollectConfig;
use celeriac_backup::internals::RawRoot;
use celeriac_backup::internals::{
    ArchiveOptions, ExtractOptions, ExtractSummary, Staging, commit, extract, write_archive,
};
use celeriac_backup::internals::{Collection, collect};

/// The sample project shipped in the repository.
pub(crate) fn sample_project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample-project")
}

/// Copies `src` into `dst` (created), keeping symlinks as symlinks and permission bits.
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let meta = std::fs::symlink_metadata(&from)?;
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if meta.is_dir() {
            copy_tree(&from, &to)?;
        } else {
            std::fs::copy(&from, &to)?;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
    }
    Ok(())
}

/// A copy of the sample project in a temp dir, with the noise git cannot hold added
/// (`.git/`, `__pycache__/`).
pub(crate) fn sample_copy() -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    copy_tree(&sample_project(), dir.path())?;
    let git = dir.path().join(".git");
    std::fs::create_dir_all(git.join("hooks"))?;
    std::fs::write(git.join("config"), "[core]\n")?;
    std::fs::write(git.join("hooks/docker-compose.yml"), "services: {}\n")?;
    let cache = dir.path().join("app/settings/__pycache__");
    std::fs::create_dir_all(&cache)?;
    std::fs::write(cache.join("base.cpython-311.pyc"), b"\x00junk")?;
    std::fs::write(cache.join("settings.py"), "junk")?;
    Ok(dir)
}

/// One node of a tree snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    File {
        mode: u32,
        mtime: i64,
        content: Vec<u8>,
    },
    Dir {
        mode: u32,
        mtime: i64,
    },
    Symlink {
        target: String,
        mtime: i64,
    },
}

/// Every path below `root` (relative, `/`-separated) with its node.
pub(crate) fn snapshot(root: &Path) -> Result<BTreeMap<String, Node>> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out)?;
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let rel = path.strip_prefix(root)?.to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(&path)?;
        let node = if meta.file_type().is_symlink() {
            Node::Symlink {
                target: std::fs::read_link(&path)?.to_string_lossy().into_owned(),
                mtime: meta.mtime(),
            }
        } else if meta.is_dir() {
            walk(root, &path, out)?;
            Node::Dir {
                mode: meta.mode() & 0o7777,
                mtime: meta.mtime(),
            }
        } else {
            Node::File {
                mode: meta.mode() & 0o7777,
                mtime: meta.mtime(),
                content: std::fs::read(&path)?,
            }
        };
        out.insert(rel, node);
    }
    Ok(())
}

/// Sets the mtime of `path` (not following a symlink) to `secs`.
pub(crate) fn set_mtime(path: &Path, secs: i64) -> Result<()> {
    let t = rustix::fs::Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let times = rustix::fs::Timestamps {
        last_access: t,
        last_modification: t,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &times,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .with_context(|| format!("utimensat {}", path.display()))?;
    Ok(())
}

/// A spec with one root and the defaults.
pub(crate) fn spec_for(root: &Path) -> Result<CollectSpec> {
    Ok(CollectSpec::try_from(RawCollectConfig {
        roots: vec![RawRoot::new(root)],
        ..Default::default()
    })?)
}

/// Collects `root` with the default rules.
pub(crate) fn collect_dir(root: &Path) -> Result<Collection> {
    Ok(collect(&spec_for(root)?)?)
}

/// Small gzip blocks so that modest test data spans several blocks and threads.
pub(crate) fn small_blocks() -> ArchiveOptions {
    let mut opts = ArchiveOptions::default();
    opts.gzip.block_size = 32 * 1024;
    opts.gzip.threads = std::num::NonZeroUsize::new(3).expect("3 is not zero");
    opts
}

/// The `tar.gz` of one bundle.
pub(crate) fn archive(collection: &Collection, bundle: Bundle) -> Result<Vec<u8>> {
    Ok(write_archive(collection, bundle, Vec::new(), &small_blocks())?.0)
}

/// Gunzips (single member) into the tar bytes.
pub(crate) fn gunzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out)?;
    Ok(out)
}

/// Extracts `tar_gz` into a fresh `target` (staging beside it) and commits.
pub(crate) fn restore(
    tar_gz: &[u8],
    target: &Path,
    opts: &ExtractOptions,
) -> Result<ExtractSummary> {
    let parent = target.parent().context("target has a parent")?;
    let staging = Staging::create_in(parent)?;
    let summary = extract(tar_gz, &staging, opts)?;
    commit(staging, target, CommitPolicy::NewOrEmpty)?;
    Ok(summary)
}

/// Names directly in `dir`, sorted (to check that nothing appeared beside a target).
pub(crate) fn listing(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_>>()?;
    names.sort();
    Ok(names)
}
