//! Building a [`ManifestIndex`] and validating it: per-entry field rules and running totals as
//! entries arrive ([`Builder`]), then, once all are in, format and version, unique names (NFC),
//! ancestors that are directories, link targets that are members, and totals ([`Parsed`]).

use std::borrow::Cow;

use super::super::chunked::{ArenaFull, ChunkedVec, NameArena};
use super::super::{
    ArchivePath, Bundle, Classification, EntryType, LinkProblem, MANIFEST_FORMAT, MANIFEST_VERSION,
    ManifestEntry, ManifestError, Sha256Digest, Totals, collision_key, resolve_link,
    resolve_through_links,
};
use super::{MAX_TARGET_LEN, ManifestEntryRef, ManifestIndex, Slot};

/// Entries as they arrive: field checks, running totals, the arena and the slots.
#[derive(Default)]
pub(super) struct Builder {
    names: NameArena,
    slots: ChunkedVec<Slot>,
    totals: Totals,
}

impl Builder {
    pub(super) fn push(&mut self, e: &ManifestEntry) -> Result<(), ManifestError> {
        check_fields(e)?;
        self.totals
            .add(e.kind, e.classification, e.category, e.size);
        let path = e.path.as_str();
        let target = e.target.as_deref().unwrap_or_default();
        let key = match collision_key(path) {
            Cow::Owned(key) if key != path => Some(key),
            _ => None,
        };
        let too_large = |_| ManifestError::NamesTooLarge {
            limit: u64::from(u32::MAX),
        };
        let start = self
            .names
            .push(&[path, target, key.as_deref().unwrap_or_default()])
            .map_err(too_large)?;
        let short = |n: usize| u16::try_from(n).map_err(|_| too_large(ArenaFull));
        self.slots.push(Slot {
            start,
            path_len: short(path.len())?,
            target_len: short(target.len())?,
            key_len: short(key.as_ref().map_or(0, String::len))?,
            mode: u16::try_from(e.mode).map_err(|_| inconsistent(e, "mode out of range"))?,
            kind: e.kind,
            category: e.category,
            classification: e.classification,
            size: e.size.unwrap_or(0),
            mtime: e.mtime,
            sha256: e.sha256.unwrap_or(Sha256Digest::from_bytes([0; 32])),
        });
        Ok(())
    }
}

fn inconsistent(e: &ManifestEntry, what: &'static str) -> ManifestError {
    ManifestError::Inconsistent {
        path: e.path.clone(),
        what,
    }
}

fn check_fields(e: &ManifestEntry) -> Result<(), ManifestError> {
    let bad = |what| Err(inconsistent(e, what));
    if e.mode > 0o7777 {
        return bad("mode out of range");
    }
    let file = e.kind == EntryType::File;
    let member = e.is_member();
    if (file && member) != e.size.is_some() || (file && member) != e.sha256.is_some() {
        return bad("size and sha256 are required for stored files and forbidden otherwise");
    }
    if (e.kind == EntryType::Symlink && member) != e.target.is_some() {
        return bad("target is required for stored symlinks and forbidden otherwise");
    }
    if e.target.as_ref().is_some_and(|t| t.len() > MAX_TARGET_LEN) {
        return bad("target longer than 4096 bytes");
    }
    if (e.kind == EntryType::Dir) == e.category.is_some() {
        return bad("category is required for files and symlinks and forbidden for directories");
    }
    if e.kind == EntryType::Dir && e.classification != Classification::Plain {
        return bad("directories are always plain");
    }
    Ok(())
}

/// The top-level fields once the JSON is read.
pub(super) struct Parsed {
    pub(super) format: String,
    pub(super) version: u32,
    pub(super) bundle: Bundle,
    pub(super) builder: Builder,
    pub(super) totals: Totals,
}

impl Parsed {
    pub(super) fn finish(self) -> Result<ManifestIndex, ManifestError> {
        if self.format != MANIFEST_FORMAT {
            return Err(ManifestError::UnknownFormat {
                format: self.format,
            });
        }
        if self.version != MANIFEST_VERSION {
            return Err(ManifestError::UnsupportedVersion {
                version: self.version,
            });
        }
        let Builder {
            mut names,
            mut slots,
            totals,
        } = self.builder;
        names.shrink_to_fit();
        slots.shrink_to_fit();
        let count = u32::try_from(slots.len()).map_err(|_| ManifestError::NamesTooLarge {
            limit: u64::from(u32::MAX),
        })?;
        let mut index = ManifestIndex {
            bundle: self.bundle,
            totals: self.totals,
            names,
            slots,
            by_key: (0..count).collect(),
        };
        let mut by_key = std::mem::take(&mut index.by_key);
        by_key.sort_by(|&a, &b| index.key(index.slot(a)).cmp(index.key(index.slot(b))));
        index.by_key = by_key;
        index.check_structure()?;
        if totals != index.totals {
            return Err(ManifestError::TotalsMismatch);
        }
        Ok(index)
    }
}

impl ManifestIndex {
    /// Unique keys, ancestors that are directories, member link targets.
    fn check_structure(&self) -> Result<(), ManifestError> {
        let mut duplicate: Option<u32> = None;
        for pair in self.by_key.windows(2) {
            if self.key(self.slot(pair[0])) == self.key(self.slot(pair[1])) {
                duplicate = Some(duplicate.map_or(pair[1], |d| d.min(pair[1])));
            }
        }
        if let Some(at) = duplicate.and_then(|i| self.get(i as usize)) {
            return Err(ManifestError::DuplicatePath {
                path: at.archive_path(),
            });
        }
        for entry in self.entries() {
            self.check_ancestors(entry)?;
            if entry.kind() == EntryType::Symlink && entry.is_member() {
                self.check_link(entry)?;
            }
        }
        Ok(())
    }

    fn check_ancestors(&self, entry: ManifestEntryRef<'_>) -> Result<(), ManifestError> {
        let path = entry.path();
        for (at, _) in path.match_indices('/') {
            // A name in NFC has NFC prefixes ('/' never composes): no need to normalise.
            let ancestor_key = if entry.slot.key_len == 0 {
                Cow::Borrowed(&path[..at])
            } else {
                collision_key(&path[..at])
            };
            if let Some(listed) = self.find_key(&ancestor_key)
                && listed.kind() != EntryType::Dir
            {
                return Err(ManifestError::AncestorNotDir {
                    path: entry.archive_path(),
                    ancestor: ArchivePath::parse(&path[..at])
                        .expect("a prefix of a valid path at a separator is valid"),
                });
            }
        }
        Ok(())
    }

    fn check_link(&self, entry: ManifestEntryRef<'_>) -> Result<(), ManifestError> {
        let path = entry.archive_path();
        let bad = |problem| ManifestError::BadLink {
            path: path.clone(),
            problem,
        };
        let target = entry.target().unwrap_or_default();
        let resolved = resolve_link(&path, target).map_err(bad)?;
        resolve_through_links(&path, target, |at| {
            let at = ArchivePath::parse(at).ok()?;
            self.find(&at)
                .filter(|e| e.kind() == EntryType::Symlink)
                .and_then(|e| e.target())
        })
        .map_err(bad)?;
        match self.find(&resolved) {
            Some(target) if target.is_member() => Ok(()),
            Some(_) => Err(bad(LinkProblem::TargetElsewhere)),
            None => Err(bad(LinkProblem::TargetNotMember)),
        }
    }
}
