//! `MANIFEST.json`: the first member of every archive, listing each entry with its type, category,
//! mode, size, SHA-256 and classification, plus totals. Owns its JSON form and its validation.

mod path;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

pub use path::{ArchivePath, LinkProblem, PathProblem, resolve_link};

use crate::spec::Category;

/// Member name of the manifest; always the first entry of the tar.
pub const MANIFEST_NAME: &str = "MANIFEST.json";
/// Value of the manifest's `format` field.
pub const MANIFEST_FORMAT: &str = "celeriac-manifest";
/// Current manifest format version; readers refuse any other.
pub const MANIFEST_VERSION: u32 = 1;

/// Which of the two archives of a backup this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bundle {
    /// The main archive: plain and sanitized files only.
    Main,
    /// The secrets bundle: real `.env` files and private keys, encrypted under its own key.
    Secrets,
}

/// What kind of filesystem object an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryType {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link whose target stays inside the archive.
    Symlink,
}

/// How an entry's content relates to the source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Classification {
    /// Stored as found.
    Plain,
    /// A `.env` with its values redacted; the real file is in the secrets bundle.
    Sanitized,
    /// Not in this archive: the file is in the secrets bundle. No size or digest is recorded.
    MovedToSecrets,
    /// Stored as found, inside the secrets bundle.
    Secret,
}

/// The SHA-256 digest type shared with the stores (`celeriac_store::Sha256Digest`): shown and
/// serialized as 64 lowercase hex digits.
pub use celeriac_store::Sha256Digest;

/// Permission bits, written as an octal string (`"0644"`) for people reading the manifest.
mod octal_mode {
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(
        clippy::trivially_copy_pass_by_ref,
        reason = "serde's serialize_with signature"
    )]
    pub(super) fn serialize<S: Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{mode:04o}"))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let s = String::deserialize(d)?;
        match u32::from_str_radix(&s, 8) {
            Ok(mode) if mode <= 0o7777 => Ok(mode),
            _ => Err(serde::de::Error::custom(
                "mode must be octal, at most 07777",
            )),
        }
    }
}

/// One member (or one moved-to-secrets placeholder) of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// Member name.
    pub path: ArchivePath,
    /// File, directory or symlink.
    #[serde(rename = "type")]
    pub kind: EntryType,
    /// The collection rule's category; `None` for directories.
    pub category: Option<Category>,
    /// How the content relates to the source.
    pub classification: Classification,
    /// Permission bits as collected (extraction clears setuid, setgid and sticky).
    #[serde(with = "octal_mode")]
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Content length of files; absent for others and for moved-to-secrets entries.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size: Option<u64>,
    /// Content digest of files; absent for others and for moved-to-secrets entries, since a
    /// digest of a low-entropy secret can be guessed offline.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha256: Option<Sha256Digest>,
    /// Link target of symlinks, exactly as stored in the tar.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target: Option<String>,
}

impl ManifestEntry {
    /// Whether the entry is a member of this archive (rather than a moved-to-secrets placeholder).
    pub fn is_member(&self) -> bool {
        self.classification != Classification::MovedToSecrets
    }
}

/// Totals over the entries, recomputed and checked by readers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    /// Regular files stored in this archive.
    pub files: u64,
    /// Directories stored.
    pub dirs: u64,
    /// Symlinks stored.
    pub symlinks: u64,
    /// Sum of stored file sizes.
    pub bytes: u64,
    /// Entries listed as moved to the secrets bundle.
    pub moved_to_secrets: u64,
    /// Stored files per category.
    pub by_category: BTreeMap<Category, u64>,
}

impl Totals {
    /// Totals of `entries`.
    pub fn of(entries: &[ManifestEntry]) -> Self {
        let mut t = Self::default();
        for e in entries {
            if !e.is_member() {
                t.moved_to_secrets += 1;
                continue;
            }
            match e.kind {
                EntryType::File => {
                    t.files += 1;
                    t.bytes += e.size.unwrap_or(0);
                    if let Some(c) = e.category {
                        *t.by_category.entry(c).or_default() += 1;
                    }
                }
                EntryType::Dir => t.dirs += 1,
                EntryType::Symlink => t.symlinks += 1,
            }
        }
        t
    }
}

/// The parsed `MANIFEST.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// Always [`MANIFEST_VERSION`] for this reader.
    pub version: u32,
    /// Main archive or secrets bundle.
    pub bundle: Bundle,
    /// Entries sorted by path.
    pub entries: Vec<ManifestEntry>,
    /// Totals over `entries`.
    pub totals: Totals,
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not valid JSON for this schema.
    #[error("manifest is not valid json")]
    Json {
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The `format` field is not ours.
    #[error("unknown manifest format {format:?}")]
    UnknownFormat {
        /// The value found.
        format: String,
    },
    /// The `version` field is not one this reader understands.
    #[error("unsupported manifest version {version}")]
    UnsupportedVersion {
        /// The value found.
        version: u32,
    },
    /// Two entries share a path (after Unicode normalisation).
    #[error("manifest lists {path} twice")]
    DuplicatePath {
        /// The repeated path.
        path: ArchivePath,
    },
    /// An entry sits below a listed entry that is not a directory.
    #[error("manifest entry {path} lies below non-directory {ancestor}")]
    AncestorNotDir {
        /// The entry.
        path: ArchivePath,
        /// Its listed ancestor that is a file or symlink.
        ancestor: ArchivePath,
    },
    /// An entry's fields do not fit its type and classification.
    #[error("manifest entry {path} is inconsistent: {what}")]
    Inconsistent {
        /// The entry.
        path: ArchivePath,
        /// Which rule it breaks.
        what: &'static str,
    },
    /// A symlink entry's target is unacceptable.
    #[error("manifest symlink {path} is refused: {problem}")]
    BadLink {
        /// The symlink.
        path: ArchivePath,
        /// Why.
        problem: LinkProblem,
    },
    /// The totals do not match the entries.
    #[error("manifest totals do not match its entries")]
    TotalsMismatch,
}

impl Manifest {
    /// A manifest for `bundle` over `entries` (sorted here), with computed totals.
    pub fn new(bundle: Bundle, mut entries: Vec<ManifestEntry>) -> Self {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let totals = Totals::of(&entries);
        Self {
            format: MANIFEST_FORMAT.to_owned(),
            version: MANIFEST_VERSION,
            bundle,
            entries,
            totals,
        }
    }

    /// Pretty JSON with a trailing newline; deterministic for equal manifests.
    ///
    /// # Panics
    /// Never: every field serializes to JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out =
            serde_json::to_vec_pretty(self).expect("manifest serialization is infallible");
        out.push(b'\n');
        out
    }

    /// Parses and validates untrusted manifest bytes.
    ///
    /// # Errors
    /// Any [`ManifestError`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, ManifestError> {
        let manifest: Self =
            serde_json::from_slice(bytes).map_err(|source| ManifestError::Json { source })?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks the invariants readers rely on: known format and version, unique paths, entries
    /// only below directories, fields consistent with type and classification, symlink targets
    /// that resolve to members of this archive, and matching totals.
    ///
    /// # Errors
    /// The first broken invariant.
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.format != MANIFEST_FORMAT {
            return Err(ManifestError::UnknownFormat {
                format: self.format.clone(),
            });
        }
        if self.version != MANIFEST_VERSION {
            return Err(ManifestError::UnsupportedVersion {
                version: self.version,
            });
        }
        let index = self.index()?;
        for entry in &self.entries {
            for ancestor in entry.path.ancestors() {
                if let Some(&i) = index.get(&ancestor.collision_key())
                    && self.entries[i].kind != EntryType::Dir
                {
                    return Err(ManifestError::AncestorNotDir {
                        path: entry.path.clone(),
                        ancestor,
                    });
                }
            }
            check_fields(entry)?;
            if entry.kind == EntryType::Symlink && entry.is_member() {
                self.check_link(entry, &index)?;
            }
        }
        if Totals::of(&self.entries) != self.totals {
            return Err(ManifestError::TotalsMismatch);
        }
        Ok(())
    }

    /// Entry position by collision key.
    ///
    /// # Errors
    /// [`ManifestError::DuplicatePath`].
    pub(crate) fn index(&self) -> Result<HashMap<String, usize>, ManifestError> {
        let mut index = HashMap::with_capacity(self.entries.len());
        for (i, entry) in self.entries.iter().enumerate() {
            if index.insert(entry.path.collision_key(), i).is_some() {
                return Err(ManifestError::DuplicatePath {
                    path: entry.path.clone(),
                });
            }
        }
        Ok(index)
    }

    fn check_link(
        &self,
        entry: &ManifestEntry,
        index: &HashMap<String, usize>,
    ) -> Result<(), ManifestError> {
        let bad = |problem| ManifestError::BadLink {
            path: entry.path.clone(),
            problem,
        };
        let target = entry.target.as_deref().unwrap_or_default();
        let resolved = resolve_link(&entry.path, target).map_err(bad)?;
        match index.get(&resolved.collision_key()) {
            Some(&i) if self.entries[i].is_member() => Ok(()),
            Some(_) => Err(bad(LinkProblem::TargetElsewhere)),
            None => Err(bad(LinkProblem::TargetNotMember)),
        }
    }
}

fn check_fields(e: &ManifestEntry) -> Result<(), ManifestError> {
    let bad = |what| {
        Err(ManifestError::Inconsistent {
            path: e.path.clone(),
            what,
        })
    };
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
    if (e.kind == EntryType::Dir) == e.category.is_some() {
        return bad("category is required for files and symlinks and forbidden for directories");
    }
    if e.kind == EntryType::Dir && e.classification != Classification::Plain {
        return bad("directories are always plain");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use super::*;

    fn file(path: &str, data: &[u8]) -> ManifestEntry {
        ManifestEntry {
            path: ArchivePath::parse(path).unwrap(),
            kind: EntryType::File,
            category: Some(Category::Project),
            classification: Classification::Plain,
            mode: 0o644,
            mtime: 1,
            size: Some(data.len() as u64),
            sha256: Some(Sha256Digest::of(data)),
            target: None,
        }
    }

    #[test]
    fn json_round_trip_and_mode_is_octal() {
        let m = Manifest::new(Bundle::Main, vec![file("b", b"x"), file("a", b"")]);
        let json = m.to_json();
        assert!(String::from_utf8_lossy(&json).contains("\"mode\": \"0644\""));
        let back = Manifest::from_json(&json).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.entries[0].path.as_str(), "a");
    }

    #[test]
    fn validation_catches_duplicates_and_bad_totals() {
        let mut m = Manifest::new(Bundle::Main, vec![file("a", b"1")]);
        m.entries.push(file("a", b"2"));
        m.totals = Totals::of(&m.entries);
        assert!(matches!(
            m.validate(),
            Err(ManifestError::DuplicatePath { .. })
        ));
        let mut m = Manifest::new(Bundle::Main, vec![file("a", b"1")]);
        m.totals.bytes = 99;
        assert!(matches!(m.validate(), Err(ManifestError::TotalsMismatch)));
    }

    #[test]
    fn nfd_and_nfc_spellings_collide() {
        let m = Manifest::new(
            Bundle::Main,
            vec![file("caf\u{e9}", b""), file("cafe\u{301}", b"")],
        );
        assert!(matches!(
            m.validate(),
            Err(ManifestError::DuplicatePath { .. })
        ));
    }
}
