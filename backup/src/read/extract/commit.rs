//! Moving a fully validated staging tree into its target. By default the target must be new or
//! an empty directory; merging into an existing tree never replaces anything and checks every
//! conflict before the first move.

use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::{CWD, RenameFlags};

use super::{ExtractError, FsOp, Staging};

/// How `commit` treats an existing target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CommitPolicy {
    /// The target must not exist (it is created) or be an empty directory.
    #[default]
    NewOrEmpty,
    #[cfg_attr(
        not(feature = "test-util"),
        allow(
            dead_code,
            reason = "used by the tests through `internals` (test-util)"
        )
    )]
    /// Move staged entries into an existing tree, descending into directories both have;
    /// refuse before moving anything if any staged path already exists as a non-directory.
    MergeNoReplace,
}

/// What [`commit`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSummary {
    /// The target directory.
    pub target: PathBuf,
    /// Renames performed (a renamed directory counts once).
    pub moved: u64,
}

fn fs(op: FsOp, path: &Path) -> impl FnOnce(io::Error) -> ExtractError + '_ {
    move |source| ExtractError::Staging {
        op,
        path: path.display().to_string(),
        source,
    }
}

/// Moves the staged tree into `target` (on the same filesystem: each move is a rename that
/// refuses to replace an existing name), then removes the staging directory.
///
/// # Errors
/// [`ExtractError::TargetNotEmpty`], [`ExtractError::Conflict`] or [`ExtractError::Staging`];
/// on error the staging directory is removed unless part of it was already moved.
pub fn commit(
    mut staging: Staging,
    target: &Path,
    policy: CommitPolicy,
) -> Result<CommitSummary, ExtractError> {
    match std::fs::symlink_metadata(target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir(target).map_err(fs(FsOp::CreateDir, target))?;
        }
        Err(e) => return Err(fs(FsOp::Open, target)(e)),
        Ok(meta) if !meta.is_dir() => {
            return Err(ExtractError::TargetNotEmpty {
                path: target.to_path_buf(),
            });
        }
        Ok(_) => {
            let empty = std::fs::read_dir(target)
                .map_err(fs(FsOp::Open, target))?
                .next()
                .is_none();
            if !empty && policy == CommitPolicy::NewOrEmpty {
                return Err(ExtractError::TargetNotEmpty {
                    path: target.to_path_buf(),
                });
            }
        }
    }
    let source = staging.path().to_path_buf();
    check_conflicts(&source, target)?;
    staging.disarm();
    let moved = merge(&source, target)?;
    std::fs::remove_dir_all(&source).map_err(fs(FsOp::Remove, &source))?;
    Ok(CommitSummary {
        target: target.to_path_buf(),
        moved,
    })
}

fn children(dir: &Path) -> Result<Vec<PathBuf>, ExtractError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(fs(FsOp::Open, dir))? {
        names.push(entry.map_err(fs(FsOp::Open, dir))?.file_name().into());
    }
    names.sort();
    Ok(names)
}

/// Walks the staged tree against the target: a staged name may be absent from the target, or be
/// a real directory on both sides (then descend); anything else is a conflict.
fn check_conflicts(from: &Path, to: &Path) -> Result<(), ExtractError> {
    for name in children(from)? {
        let (src, dst) = (from.join(&name), to.join(&name));
        match std::fs::symlink_metadata(&dst) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(fs(FsOp::Open, &dst)(e)),
            Ok(meta) => {
                let src_meta = std::fs::symlink_metadata(&src).map_err(fs(FsOp::Open, &src))?;
                if !(meta.is_dir() && src_meta.is_dir()) {
                    return Err(ExtractError::Conflict { path: dst });
                }
                check_conflicts(&src, &dst)?;
            }
        }
    }
    Ok(())
}

fn merge(from: &Path, to: &Path) -> Result<u64, ExtractError> {
    let mut moved = 0;
    for name in children(from)? {
        let (src, dst) = (from.join(&name), to.join(&name));
        match rustix::fs::renameat_with(CWD, &src, CWD, &dst, RenameFlags::NOREPLACE) {
            Ok(()) => moved += 1,
            Err(rustix::io::Errno::EXIST) if dst.is_dir() && !dst.is_symlink() => {
                moved += merge(&src, &dst)?;
            }
            Err(rustix::io::Errno::EXIST) => return Err(ExtractError::Conflict { path: dst }),
            Err(e) => return Err(fs(FsOp::Rename, &dst)(e.into())),
        }
    }
    Ok(moved)
}
