//! `MANIFEST.json`, its one home: the first member of every archive, listing each entry with its
//! type, category, mode, size, SHA-256 and classification, plus totals. This file owns the types,
//! their JSON form and their validation; `writer` writes the tar member, `index` (with
//! `index/parse.rs`) reads it back from a stream into a compact validated index, `path` owns
//! [`ArchivePath`] and link resolution, `category` the [`Category`].

mod category;
mod chunked;
mod index;
mod path;
pub(crate) mod writer;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use index::{ManifestEntryRef, ManifestIndex};
pub(crate) use path::collision_key;
pub(crate) use path::resolve_link;
pub use path::{ArchivePath, LinkProblem, PathProblem};
pub(crate) use path::{MAX_LINK_HOPS, resolve_through_links};

pub use category::Category;

/// Member name of the manifest; always the first entry of the tar.
pub(crate) const MANIFEST_NAME: &str = "MANIFEST.json";
/// Value of the manifest's `format` field.
pub(crate) const MANIFEST_FORMAT: &str = "celeriac-manifest";
/// Current manifest format version; readers refuse any other.
pub(crate) const MANIFEST_VERSION: u32 = 1;

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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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
    #[serde(deserialize_with = "octal_mode::deserialize")]
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Content length of files; absent for others and for moved-to-secrets entries.
    #[serde(default)]
    pub size: Option<u64>,
    /// Content digest of files; absent for others and for moved-to-secrets entries, since a
    /// digest of a low-entropy secret can be guessed offline.
    #[serde(default)]
    pub sha256: Option<Sha256Digest>,
    /// Link target of symlinks, exactly as stored in the tar.
    #[serde(default)]
    pub target: Option<String>,
}

/// The JSON form of one entry, borrowed: the single definition of how an entry is written,
/// shared by [`ManifestEntry`], [`ManifestIndex`] and the archive stage (which writes the
/// manifest straight from the collection).
#[derive(Serialize)]
pub(crate) struct EntryJson<'a> {
    pub(crate) path: &'a str,
    #[serde(rename = "type")]
    pub(crate) kind: EntryType,
    pub(crate) category: Option<Category>,
    pub(crate) classification: Classification,
    #[serde(serialize_with = "octal_mode::serialize")]
    pub(crate) mode: u32,
    pub(crate) mtime: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sha256: Option<Sha256Digest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) target: Option<&'a str>,
}

impl Serialize for ManifestEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        EntryJson {
            path: self.path.as_str(),
            kind: self.kind,
            category: self.category,
            classification: self.classification,
            mode: self.mode,
            mtime: self.mtime,
            size: self.size,
            sha256: self.sha256,
            target: self.target.as_deref(),
        }
        .serialize(s)
    }
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
    #[cfg_attr(
        not(feature = "test-util"),
        allow(
            dead_code,
            reason = "used by the tests through `internals` (test-util)"
        )
    )]
    /// Totals of `entries`.
    pub fn of(entries: &[ManifestEntry]) -> Self {
        let mut t = Self::default();
        for e in entries {
            t.add(e.kind, e.classification, e.category, e.size);
        }
        t
    }

    /// Counts one more entry. Sizes add up saturating: a hostile manifest cannot overflow
    /// them (it then fails the totals check).
    pub(crate) fn add(
        &mut self,
        kind: EntryType,
        classification: Classification,
        category: Option<Category>,
        size: Option<u64>,
    ) {
        if classification == Classification::MovedToSecrets {
            self.moved_to_secrets += 1;
            return;
        }
        match kind {
            EntryType::File => {
                self.files += 1;
                self.bytes = self.bytes.saturating_add(size.unwrap_or(0));
                if let Some(c) = category {
                    *self.by_category.entry(c).or_default() += 1;
                }
            }
            EntryType::Dir => self.dirs += 1,
            EntryType::Symlink => self.symlinks += 1,
        }
    }
}

#[cfg_attr(
    not(feature = "test-util"),
    allow(
        dead_code,
        reason = "used by the tests through `internals` (test-util)"
    )
)]
/// The parsed `MANIFEST.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always `"celeriac-manifest"`.
    pub format: String,
    /// Always `1` (`MANIFEST_VERSION`) for this reader.
    pub version: u32,
    /// Main archive or secrets bundle.
    pub bundle: Bundle,
    /// Entries sorted by path.
    pub entries: Vec<ManifestEntry>,
    /// Totals over `entries`.
    pub totals: Totals,
}

/// Writes a manifest's JSON object from borrowed parts: the fields, names and order of
/// [`Manifest`]'s derived form, for the writers that stream entries instead of holding a
/// `Vec<ManifestEntry>` (the archive stage and [`ManifestIndex`]).
pub(crate) fn serialize_manifest<S: serde::Serializer>(
    s: S,
    bundle: Bundle,
    entries: &impl Serialize,
    totals: &Totals,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct as _;
    let mut st = s.serialize_struct("Manifest", 5)?;
    st.serialize_field("format", MANIFEST_FORMAT)?;
    st.serialize_field("version", &MANIFEST_VERSION)?;
    st.serialize_field("bundle", &bundle)?;
    st.serialize_field("entries", entries)?;
    st.serialize_field("totals", totals)?;
    st.end()
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
    /// The names and link targets add up to more than the compact index holds (4 GiB).
    #[error("manifest names exceed {limit} bytes")]
    NamesTooLarge {
        /// The limit.
        limit: u64,
    },
}

#[cfg_attr(
    not(feature = "test-util"),
    allow(
        dead_code,
        reason = "used by the tests through `internals` (test-util)"
    )
)]
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

    /// Parses and validates untrusted manifest bytes (through [`ManifestIndex::from_reader`]).
    ///
    /// # Errors
    /// Any [`ManifestError`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, ManifestError> {
        ManifestIndex::from_reader(bytes).map(|index| index.to_manifest())
    }

    /// Checks the invariants readers rely on: known format and version, unique paths, entries
    /// only below directories, fields consistent with type and classification, symlink targets
    /// that resolve to members of this archive, and matching totals.
    ///
    /// # Errors
    /// The first broken invariant.
    pub fn validate(&self) -> Result<(), ManifestError> {
        ManifestIndex::of(self).map(drop)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
pub(crate) mod tests {
    use super::*;

    /// A plain project file entry holding `data` (shared with the index's tests).
    pub(crate) fn file(path: &str, data: &[u8]) -> ManifestEntry {
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
