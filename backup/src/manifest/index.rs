//! [`ManifestIndex`]: the validated, compact read-side form of `MANIFEST.json`, built while the
//! JSON streams in (no JSON text and no `Vec<ManifestEntry>` is ever held). Owns the manifest's
//! validation rules.
//!
//! ```text
//! JSON reader ─► one ManifestEntry at a time ─► field checks, totals ─► Slot (64 bytes)
//!                                                                      + names arena (path, target, NFC key)
//! end of JSON ─► format, version ─► positions sorted by collision key ─► unique paths,
//!                ancestors are directories, link targets are members, totals match
//! ```
//!
//! Per entry the index keeps one 64-byte slot, its name bytes (plus the link target and, for a
//! name that is not in NFC, its NFC form) and a 4-byte position in the key order. Slots and
//! names grow in fixed chunks ([`super::chunked`]), so a large manifest carries no doubling slack.

mod builder;
mod parse;

use std::fmt;
use std::io::Read;

use serde::Serialize;

use builder::{Builder, Parsed};
use parse::TopVisitor;

use super::chunked::{ChunkedVec, NameArena};
use super::{
    ArchivePath, Bundle, Category, Classification, EntryJson, EntryType, MANIFEST_FORMAT,
    MANIFEST_VERSION, Manifest, ManifestEntry, ManifestError, Sha256Digest, Totals, collision_key,
};

/// Longest link target accepted (Linux `PATH_MAX`; `symlink(2)` refuses longer ones).
const MAX_TARGET_LEN: usize = ArchivePath::MAX_LEN;

/// One entry's fixed-size facts; its names live in the arena at `start`: the path, then the
/// link target, then the NFC collision key when it differs from the path.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Slot {
    start: u32,
    path_len: u16,
    target_len: u16,
    /// 0: the path is its own collision key.
    key_len: u16,
    mode: u16,
    kind: EntryType,
    category: Option<Category>,
    classification: Classification,
    /// Content length; meaningful for stored files only.
    size: u64,
    mtime: i64,
    /// Content digest; meaningful for stored files only.
    sha256: Sha256Digest,
}

/// A validated manifest, held compactly: about 70 bytes per entry plus its name (a parsed
/// [`Manifest`] holds several times that). Read it through [`ManifestIndex::entries`];
/// [`ManifestIndex::to_manifest`] gives the owned form. Serializes exactly as [`Manifest`].
#[derive(Clone, PartialEq, Eq)]
pub struct ManifestIndex {
    bundle: Bundle,
    totals: Totals,
    names: NameArena,
    slots: ChunkedVec<Slot>,
    /// Entry positions ordered by collision key.
    by_key: Vec<u32>,
}

/// One entry of a `ManifestIndex`, borrowed.
#[derive(Clone, Copy)]
pub struct ManifestEntryRef<'a> {
    index: &'a ManifestIndex,
    slot: &'a Slot,
    position: usize,
}

impl<'a> ManifestEntryRef<'a> {
    /// Position in the manifest.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Member name (validated as an `ArchivePath`).
    pub fn path(&self) -> &'a str {
        self.index.name(self.slot.start, self.slot.path_len)
    }

    test_util_pub! {
        /// Member name as an owned `ArchivePath`.
        ///
        /// # Panics
        /// Never: every name was validated when the index was built.
        fn archive_path(&self) -> ArchivePath {
            ArchivePath::parse(self.path()).expect("index names are validated archive paths")
        }
    }

    test_util_pub! {
        /// File, directory or symlink.
        fn kind(&self) -> EntryType {
            self.slot.kind
        }
    }

    test_util_pub! {
        /// The collection rule's category; `None` for directories.
        fn category(&self) -> Option<Category> {
            self.slot.category
        }
    }

    test_util_pub! {
        /// How the content relates to the source.
        fn classification(&self) -> Classification {
            self.slot.classification
        }
    }

    /// Permission bits.
    pub fn mode(&self) -> u32 {
        u32::from(self.slot.mode)
    }

    /// Modification time, seconds since the epoch.
    pub fn mtime(&self) -> i64 {
        self.slot.mtime
    }

    /// Whether the entry is a member of this archive (not a moved-to-secrets placeholder).
    pub fn is_member(&self) -> bool {
        self.slot.classification != Classification::MovedToSecrets
    }

    fn stored_file(&self) -> bool {
        self.slot.kind == EntryType::File && self.is_member()
    }

    /// Content length of stored files.
    pub fn size(&self) -> Option<u64> {
        self.stored_file().then_some(self.slot.size)
    }

    /// Content digest of stored files.
    pub fn sha256(&self) -> Option<Sha256Digest> {
        self.stored_file().then_some(self.slot.sha256)
    }

    /// Link target of stored symlinks.
    pub fn target(&self) -> Option<&'a str> {
        (self.slot.kind == EntryType::Symlink && self.is_member()).then(|| {
            let start = self.slot.start + u32::from(self.slot.path_len);
            self.index.name(start, self.slot.target_len)
        })
    }

    test_util_pub! {
        /// The owned form.
        fn to_entry(self) -> ManifestEntry {
            ManifestEntry {
                path: self.archive_path(),
                kind: self.kind(),
                category: self.category(),
                classification: self.classification(),
                mode: self.mode(),
                mtime: self.mtime(),
                size: self.size(),
                sha256: self.sha256(),
                target: self.target().map(str::to_owned),
            }
        }
    }

    fn json(&self) -> EntryJson<'a> {
        EntryJson {
            path: self.path(),
            kind: self.kind(),
            category: self.category(),
            classification: self.classification(),
            mode: self.mode(),
            mtime: self.mtime(),
            size: self.size(),
            sha256: self.sha256(),
            target: self.target(),
        }
    }
}

/// Shows no digest: a digest of a low-entropy secret can be guessed.
impl fmt::Debug for ManifestEntryRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManifestEntryRef")
            .field("path", &self.path())
            .field("kind", &self.kind())
            .field("classification", &self.classification())
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ManifestIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManifestIndex")
            .field("bundle", &self.bundle)
            .field("entries", &self.slots.len())
            .field("totals", &self.totals)
            .finish_non_exhaustive()
    }
}

impl ManifestIndex {
    /// Parses and validates an untrusted manifest from `reader`, one entry at a time. Read
    /// errors surface as [`ManifestError::Json`] with an I/O category
    /// (`serde_json::Error::io_error_kind`).
    ///
    /// # Errors
    /// Any [`ManifestError`].
    pub fn from_reader<R: Read>(reader: R) -> Result<Self, ManifestError> {
        let mut de = serde_json::Deserializer::from_reader(reader);
        let mut refused = None;
        let parsed = serde::Deserializer::deserialize_map(
            &mut de,
            TopVisitor {
                refused: &mut refused,
            },
        );
        if let Some(e) = refused {
            return Err(e);
        }
        let parsed = parsed.map_err(|source| ManifestError::Json { source })?;
        de.end().map_err(|source| ManifestError::Json { source })?;
        parsed.finish()
    }

    #[cfg_attr(
        not(feature = "test-util"),
        allow(
            dead_code,
            reason = "used by the tests through `internals` (test-util)"
        )
    )]
    /// Validates an owned manifest into an index.
    ///
    /// # Errors
    /// Any [`ManifestError`] except [`ManifestError::Json`].
    pub fn of(manifest: &Manifest) -> Result<Self, ManifestError> {
        let mut builder = Builder::default();
        for entry in &manifest.entries {
            builder.push(entry)?;
        }
        Parsed {
            format: manifest.format.clone(),
            version: manifest.version,
            bundle: manifest.bundle,
            builder,
            totals: manifest.totals.clone(),
        }
        .finish()
    }

    /// Main archive or secrets bundle.
    pub fn bundle(&self) -> Bundle {
        self.bundle
    }

    /// The (checked) totals.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    #[cfg_attr(
        not(feature = "test-util"),
        allow(
            dead_code,
            reason = "used by the tests through `internals` (test-util)"
        )
    )]
    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.slots.len() == 0
    }

    /// The entry at `position`.
    pub fn get(&self, position: usize) -> Option<ManifestEntryRef<'_>> {
        self.slots.get(position).map(|slot| ManifestEntryRef {
            index: self,
            slot,
            position,
        })
    }

    /// The entries in manifest (path) order.
    ///
    /// # Panics
    /// Never: every position below the length has a slot.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = ManifestEntryRef<'_>> {
        (0..self.slots.len()).map(|position| ManifestEntryRef {
            index: self,
            slot: self
                .slots
                .get(position)
                .expect("positions below the length have slots"),
            position,
        })
    }

    /// The entry whose name has the same NFC form as `path`.
    pub fn find(&self, path: &ArchivePath) -> Option<ManifestEntryRef<'_>> {
        self.find_key(&collision_key(path.as_str()))
    }

    #[cfg_attr(
        not(feature = "test-util"),
        allow(
            dead_code,
            reason = "used by the tests through `internals` (test-util)"
        )
    )]
    /// The owned form.
    pub fn to_manifest(&self) -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT.to_owned(),
            version: MANIFEST_VERSION,
            bundle: self.bundle,
            entries: self.entries().map(ManifestEntryRef::to_entry).collect(),
            totals: self.totals.clone(),
        }
    }

    fn name(&self, start: u32, len: u16) -> &str {
        self.names.get(start, usize::from(len))
    }

    fn slot(&self, position: u32) -> &Slot {
        self.slots
            .get(position as usize)
            .expect("key positions index the slots")
    }

    fn key(&self, slot: &Slot) -> &str {
        if slot.key_len == 0 {
            return self.name(slot.start, slot.path_len);
        }
        let start = slot.start + u32::from(slot.path_len) + u32::from(slot.target_len);
        self.name(start, slot.key_len)
    }

    fn find_key(&self, key: &str) -> Option<ManifestEntryRef<'_>> {
        let at = self
            .by_key
            .binary_search_by(|&i| self.key(self.slot(i)).cmp(key))
            .ok()?;
        self.get(self.by_key[at] as usize)
    }
}

impl Serialize for ManifestIndex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Entries<'a>(&'a ManifestIndex);
        impl Serialize for Entries<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.entries().map(|e| e.json()))
            }
        }
        super::serialize_manifest(s, self.bundle, &Entries(self), &self.totals)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use super::*;
    use crate::manifest::tests::file;

    fn dir(path: &str) -> ManifestEntry {
        ManifestEntry {
            kind: EntryType::Dir,
            category: None,
            size: None,
            sha256: None,
            mode: 0o755,
            ..file(path, b"")
        }
    }

    fn link(path: &str, target: &str) -> ManifestEntry {
        ManifestEntry {
            kind: EntryType::Symlink,
            size: None,
            sha256: None,
            target: Some(target.to_owned()),
            ..file(path, b"")
        }
    }

    fn sample() -> Manifest {
        let moved = ManifestEntry {
            classification: Classification::MovedToSecrets,
            size: None,
            sha256: None,
            ..file("conf/.env", b"")
        };
        Manifest::new(
            Bundle::Main,
            vec![
                dir("conf"),
                file("conf/a.conf", b"a"),
                link("conf/b.conf", "a.conf"),
                moved,
                file("caf\u{e9}/x", b"x"),
                dir("caf\u{e9}"),
            ],
        )
    }

    #[test]
    fn streams_to_the_same_manifest_and_json() {
        let m = sample();
        let json = m.to_json();
        let index = ManifestIndex::from_reader(json.as_slice()).unwrap();
        assert_eq!(index.to_manifest(), m);
        let mut again = serde_json::to_vec_pretty(&index).unwrap();
        again.push(b'\n');
        assert_eq!(again, json);
        let b = index.entries().find(|e| e.path() == "conf/b.conf").unwrap();
        assert_eq!(
            (b.target(), b.size(), b.sha256()),
            (Some("a.conf"), None, None)
        );
        let a = index.get(b.position() - 1).unwrap();
        assert_eq!(a.sha256(), Some(Sha256Digest::of(b"a")));
    }

    #[test]
    fn finds_by_nfc_form() {
        let index = ManifestIndex::of(&sample()).unwrap();
        let nfd = ArchivePath::parse("cafe\u{301}/x").unwrap();
        assert_eq!(index.find(&nfd).unwrap().path(), "caf\u{e9}/x");
        assert!(index.find(&ArchivePath::parse("cafe/x").unwrap()).is_none());
    }

    #[test]
    fn nfd_names_keep_their_spelling_and_collide() {
        let m = Manifest::new(Bundle::Main, vec![file("cafe\u{301}", b"")]);
        let index = ManifestIndex::of(&m).unwrap();
        assert_eq!(index.get(0).unwrap().path(), "cafe\u{301}");
        let nfc = ArchivePath::parse("caf\u{e9}").unwrap();
        assert_eq!(index.find(&nfc).unwrap().position(), 0);
    }

    #[test]
    fn refusals_are_manifest_errors_not_json_errors() {
        let mut m = sample();
        m.entries[1].size = None;
        let json = serde_json::to_vec(&m).unwrap();
        assert!(matches!(
            ManifestIndex::from_reader(json.as_slice()),
            Err(ManifestError::Inconsistent { .. })
        ));
        let mut m = sample();
        m.entries.push(file("conf/a.conf/below", b""));
        m.totals = Totals::of(&m.entries);
        assert!(matches!(
            ManifestIndex::of(&m),
            Err(ManifestError::AncestorNotDir { .. })
        ));
    }

    /// A crafted (authenticated) archive whose link resolves outside the restore root only
    /// through another link is refused before anything is extracted.
    #[test]
    fn a_link_escaping_through_another_link_is_refused() {
        let m = Manifest::new(
            Bundle::Main,
            vec![
                dir("docker"),
                file("docker/x.conf", b"x"),
                dir("docker/a"),
                dir("docker/a/b"),
                dir("docker/a/b/c"),
                link("docker/a/b/c/up", "../../../../docker"),
                link("docker/a/b/c/evil", "up/../../../../../docker/x.conf"),
            ],
        );
        assert!(matches!(
            ManifestIndex::of(&m),
            Err(ManifestError::BadLink {
                problem: crate::manifest::LinkProblem::EscapesThroughLinks,
                ..
            })
        ));
    }

    #[test]
    fn the_first_duplicate_in_manifest_order_is_named() {
        let mut m = Manifest::new(Bundle::Main, vec![file("b", b"1"), file("a", b"1")]);
        m.entries.push(file("b", b"2"));
        m.entries.push(file("a", b"2"));
        m.totals = Totals::of(&m.entries);
        match ManifestIndex::of(&m) {
            Err(ManifestError::DuplicatePath { path }) => assert_eq!(path.as_str(), "b"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_shape_errors() {
        let cases: [&[u8]; 4] = [
            br#"{"format":"celeriac-manifest"}"#,
            br#"{"format":"x","format":"y"}"#,
            br#"{"format":"celeriac-manifest","extra":1}"#,
            b"[]",
        ];
        for case in cases {
            assert!(
                matches!(
                    ManifestIndex::from_reader(case),
                    Err(ManifestError::Json { .. })
                ),
                "{}",
                String::from_utf8_lossy(case)
            );
        }
        let mut json = sample().to_json();
        json.extend_from_slice(b"{}");
        assert!(matches!(
            ManifestIndex::from_reader(json.as_slice()),
            Err(ManifestError::Json { .. })
        ));
    }

    #[test]
    fn slot_stays_small() {
        assert!(std::mem::size_of::<Slot>() <= 64);
    }
}
