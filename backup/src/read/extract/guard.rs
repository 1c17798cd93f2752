//! The per-entry guards: every tar entry must be an allowed type with a safe, unique name, agree
//! with the ustar/PAX size, be listed in the manifest with the same type, size, mode and link
//! target, and stay within the limits. Completeness against the manifest is checked at the end.

use std::io::Read;

use super::{EntryProblem, ExtractError, RejectedType};
use crate::config::limits::Limits;
use crate::manifest::{
    ArchivePath, EntryType, MANIFEST_NAME, ManifestEntryRef, ManifestIndex, collision_key,
};

/// What the guards established about an accepted entry.
pub(super) struct Accepted {
    /// Position in the manifest.
    pub(super) index: usize,
    /// The validated name.
    pub(super) path: ArchivePath,
    /// Content length (files only; 0 otherwise).
    pub(super) size: u64,
}

/// The state of the checks over one archive. A member name is unique when its manifest entry
/// was not seen before (every accepted member has one; the manifest's names are unique).
pub(super) struct Plan<'m> {
    manifest: &'m ManifestIndex,
    seen: Vec<bool>,
    entries: u64,
    total: u64,
    limits: Limits,
}

fn refuse(path: impl Into<String>, problem: EntryProblem) -> ExtractError {
    ExtractError::Entry {
        path: path.into(),
        problem,
    }
}

impl<'m> Plan<'m> {
    /// Checks the manifest against the limits before any entry is read.
    pub(super) fn new(manifest: &'m ManifestIndex, limits: &Limits) -> Result<Self, ExtractError> {
        if manifest.len() as u64 > limits.max_entries {
            return Err(ExtractError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        for e in manifest.entries() {
            if let Some(size) = e.size().filter(|&s| s > limits.max_file_bytes) {
                return Err(refuse(
                    e.path(),
                    EntryProblem::TooLarge {
                        size,
                        limit: limits.max_file_bytes,
                    },
                ));
            }
        }
        if manifest.totals().bytes > limits.max_total_bytes {
            return Err(ExtractError::TotalTooLarge {
                limit: limits.max_total_bytes,
            });
        }
        Ok(Self {
            manifest,
            seen: vec![false; manifest.len()],
            entries: 0,
            total: 0,
            limits: limits.clone(),
        })
    }

    /// The manifest entry at `index`.
    ///
    /// # Panics
    /// Never for an index from [`Plan::accept`].
    pub(super) fn entry(&self, index: usize) -> ManifestEntryRef<'m> {
        self.manifest
            .get(index)
            .expect("accepted entries have a manifest position")
    }

    /// Runs every guard on one tar entry (its data is not read here).
    pub(super) fn accept<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<Accepted, ExtractError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(ExtractError::TooManyEntries {
                limit: self.limits.max_entries,
            });
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = ArchivePath::from_tar_bytes(&entry.path_bytes())
            .map_err(|p| refuse(&raw, EntryProblem::UnsafePath(p)))?;
        let kind = allowed_type(entry.header().entry_type())
            .map_err(|t| refuse(&raw, EntryProblem::RejectedType(t)))?;
        check_pax(entry).map_err(|p| refuse(&raw, p))?;
        let listed = match self.manifest.find(&path) {
            _ if collision_key(path.as_str()) == MANIFEST_NAME => {
                return Err(refuse(&raw, EntryProblem::Duplicate));
            }
            Some(e) if self.seen[e.position()] => {
                return Err(refuse(&raw, EntryProblem::Duplicate));
            }
            Some(e) if e.is_member() => e,
            _ => return Err(refuse(&raw, EntryProblem::NotInManifest)),
        };
        let index = listed.position();
        if listed.kind() != kind {
            return Err(refuse(
                &raw,
                EntryProblem::TypeMismatch {
                    listed: listed.kind(),
                    found: kind,
                },
            ));
        }
        let size = entry.size();
        if kind == EntryType::File && size > self.limits.max_file_bytes {
            return Err(refuse(
                &raw,
                EntryProblem::TooLarge {
                    size,
                    limit: self.limits.max_file_bytes,
                },
            ));
        }
        let expected = listed.size().unwrap_or(0);
        if size != expected {
            return Err(refuse(
                &raw,
                EntryProblem::SizeMismatch {
                    listed: expected,
                    found: size,
                },
            ));
        }
        let mode = entry
            .header()
            .mode()
            .map_err(|_| refuse(&raw, EntryProblem::BadHeader))?
            & 0o7777;
        if mode != listed.mode() {
            return Err(refuse(&raw, EntryProblem::ModeMismatch));
        }
        if kind == EntryType::Symlink {
            let target = entry
                .link_name_bytes()
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default();
            if listed.target().map(str::as_bytes) != Some(target.as_slice()) {
                return Err(refuse(&raw, EntryProblem::LinkTargetMismatch));
            }
        }
        self.total += size;
        if self.total > self.limits.max_total_bytes {
            return Err(ExtractError::TotalTooLarge {
                limit: self.limits.max_total_bytes,
            });
        }
        self.seen[index] = true;
        Ok(Accepted { index, path, size })
    }

    /// Every member the manifest lists must have been seen.
    pub(super) fn ensure_complete(&self) -> Result<(), ExtractError> {
        let mut missing = self
            .manifest
            .entries()
            .zip(&self.seen)
            .filter(|(e, seen)| e.is_member() && !**seen)
            .map(|(e, _)| e);
        match missing.next() {
            None => Ok(()),
            Some(first) => Err(ExtractError::MissingEntries {
                count: 1 + missing.count() as u64,
                first: first.archive_path(),
            }),
        }
    }
}

fn allowed_type(t: tar::EntryType) -> Result<EntryType, RejectedType> {
    Err(match t {
        tar::EntryType::Regular => return Ok(EntryType::File),
        tar::EntryType::Directory => return Ok(EntryType::Dir),
        tar::EntryType::Symlink => return Ok(EntryType::Symlink),
        tar::EntryType::Link => RejectedType::Hardlink,
        tar::EntryType::Char => RejectedType::CharDevice,
        tar::EntryType::Block => RejectedType::BlockDevice,
        tar::EntryType::Fifo => RejectedType::Fifo,
        tar::EntryType::Continuous => RejectedType::Contiguous,
        tar::EntryType::GNUSparse => RejectedType::Sparse,
        tar::EntryType::XGlobalHeader => RejectedType::PaxGlobalHeader,
        other => RejectedType::Other(other.as_byte()),
    })
}

/// Refuses PAX sparse records and any disagreement between the ustar and effective sizes
/// (the CVE-2026-33055 / TARmageddon parser differential).
fn check_pax<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<(), EntryProblem> {
    let ustar = entry
        .header()
        .entry_size()
        .map_err(|_| EntryProblem::BadHeader)?;
    if ustar != entry.size() {
        return Err(EntryProblem::PaxSizeDisagreement {
            ustar,
            effective: entry.size(),
        });
    }
    if let Some(extensions) = entry
        .pax_extensions()
        .map_err(|_| EntryProblem::BadHeader)?
    {
        for ext in extensions {
            let ext = ext.map_err(|_| EntryProblem::BadHeader)?;
            if ext.key_bytes().starts_with(b"GNU.sparse") {
                return Err(EntryProblem::RejectedType(RejectedType::Sparse));
            }
        }
    }
    Ok(())
}
