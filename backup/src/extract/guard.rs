//! The per-entry guards: every tar entry must be an allowed type with a safe, unique name, agree
//! with the ustar/PAX size, be listed in the manifest with the same type, size, mode and link
//! target, and stay within the limits. Completeness against the manifest is checked at the end.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use super::{EntryProblem, ExtractError, Limits, RejectedType};
use crate::manifest::{ArchivePath, EntryType, MANIFEST_NAME, Manifest, ManifestEntry};

/// What the guards established about an accepted entry.
pub(super) struct Accepted {
    /// Position in the manifest.
    pub(super) index: usize,
    /// The validated name.
    pub(super) path: ArchivePath,
    /// Content length (files only; 0 otherwise).
    pub(super) size: u64,
}

/// The state of the checks over one archive.
pub(super) struct Plan<'m> {
    manifest: &'m Manifest,
    index: HashMap<String, usize>,
    seen: Vec<bool>,
    names: HashSet<String>,
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
    pub(super) fn new(manifest: &'m Manifest, limits: &Limits) -> Result<Self, ExtractError> {
        if manifest.entries.len() as u64 > limits.max_entries {
            return Err(ExtractError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        for e in &manifest.entries {
            if let Some(size) = e.size.filter(|&s| s > limits.max_file_bytes) {
                return Err(refuse(
                    e.path.as_str(),
                    EntryProblem::TooLarge {
                        size,
                        limit: limits.max_file_bytes,
                    },
                ));
            }
        }
        if manifest.totals.bytes > limits.max_total_bytes {
            return Err(ExtractError::TotalTooLarge {
                limit: limits.max_total_bytes,
            });
        }
        let index = manifest
            .index()
            .map_err(|source| ExtractError::Manifest { source })?;
        let mut names = HashSet::new();
        names.insert(MANIFEST_NAME.to_owned());
        Ok(Self {
            manifest,
            index,
            seen: vec![false; manifest.entries.len()],
            names,
            entries: 0,
            total: 0,
            limits: limits.clone(),
        })
    }

    /// The manifest entry at `index`.
    pub(super) fn entry(&self, index: usize) -> &'m ManifestEntry {
        &self.manifest.entries[index]
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
        if !self.names.insert(path.collision_key()) {
            return Err(refuse(&raw, EntryProblem::Duplicate));
        }
        let index = match self.index.get(&path.collision_key()) {
            Some(&i) if self.manifest.entries[i].is_member() => i,
            _ => return Err(refuse(&raw, EntryProblem::NotInManifest)),
        };
        let listed = &self.manifest.entries[index];
        if listed.kind != kind {
            return Err(refuse(
                &raw,
                EntryProblem::TypeMismatch {
                    listed: listed.kind,
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
        let expected = listed.size.unwrap_or(0);
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
        if mode != listed.mode {
            return Err(refuse(&raw, EntryProblem::ModeMismatch));
        }
        if kind == EntryType::Symlink {
            let target = entry
                .link_name_bytes()
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default();
            if listed.target.as_deref().map(str::as_bytes) != Some(target.as_slice()) {
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
            .entries
            .iter()
            .zip(&self.seen)
            .filter(|(e, seen)| e.is_member() && !**seen)
            .map(|(e, _)| e.path.clone());
        match missing.next() {
            None => Ok(()),
            Some(first) => Err(ExtractError::MissingEntries {
                count: 1 + missing.count() as u64,
                first,
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
