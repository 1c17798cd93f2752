//! A [`Collection`] as the source of its bundles' manifests: the entries of a bundle (for the
//! main bundle merged, in path order, with the moved-to-secrets placeholders) as manifest
//! entries, serialized straight into the tar by the manifest's writer
//! ([`crate::manifest::writer`]) without the JSON text or a `Vec<ManifestEntry>` being built.

use std::io::{self, Write};
use std::iter::Peekable;
use std::slice;

use serde::Serialize;

use crate::manifest::writer::append_manifest;
use crate::manifest::{
    Bundle, Classification, EntryJson, EntryType, Sha256Digest, Totals, serialize_manifest,
};
#[cfg(feature = "test-util")]
use crate::manifest::{Manifest, ManifestEntry};
use crate::write::collect::{Collection, Entry, EntryKind};

impl Collection {
    /// The entries of `bundle`.
    pub fn entries(&self, bundle: Bundle) -> &[Entry] {
        match bundle {
            Bundle::Main => &self.main,
            Bundle::Secrets => &self.secrets,
        }
    }

    /// The manifest of `bundle`. The main manifest also lists each secrets-bundle file or
    /// symlink that has no sanitized copy as `moved-to-secrets`, without size or digest. (The
    /// archive stage streams the same entries; this whole value is for tests.)
    #[cfg(feature = "test-util")]
    pub fn manifest(&self, bundle: Bundle) -> Manifest {
        let entries = Listed::new(self, bundle)
            .map(|(e, moved)| manifest_entry(e, moved))
            .collect();
        Manifest::new(bundle, entries)
    }
}

/// The manifest's entries in path order: each collected entry of the bundle, and (main bundle
/// only) each secrets-bundle file or symlink without a main entry of the same path, flagged as
/// moved. Both lists are sorted by path, so one merge pass does it.
struct Listed<'a> {
    own: Peekable<slice::Iter<'a, Entry>>,
    moved: Peekable<slice::Iter<'a, Entry>>,
}

impl<'a> Listed<'a> {
    fn new(collection: &'a Collection, bundle: Bundle) -> Self {
        let moved: &[Entry] = match bundle {
            Bundle::Main => &collection.secrets,
            Bundle::Secrets => &[],
        };
        Self {
            own: collection.entries(bundle).iter().peekable(),
            moved: moved.iter().peekable(),
        }
    }
}

impl<'a> Iterator for Listed<'a> {
    type Item = (&'a Entry, bool);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(&secret) = self.moved.peek() else {
                return self.own.next().map(|e| (e, false));
            };
            if secret.kind == EntryKind::Dir {
                self.moved.next();
                continue;
            }
            let Some(&own) = self.own.peek() else {
                return self.moved.next().map(|e| (e, true));
            };
            return Some(match own.path.cmp(&secret.path) {
                std::cmp::Ordering::Less => (self.own.next()?, false),
                std::cmp::Ordering::Greater => (self.moved.next()?, true),
                std::cmp::Ordering::Equal => {
                    // Present in main (its sanitized copy): not listed as moved.
                    self.moved.next();
                    (self.own.next()?, false)
                }
            });
        }
    }
}

fn parts(e: &Entry, moved: bool) -> (EntryType, Option<u64>, Option<Sha256Digest>, Option<&str>) {
    match (&e.kind, moved) {
        (EntryKind::File { .. }, true) => (EntryType::File, None, None, None),
        (EntryKind::File { size, sha256 }, false) => {
            (EntryType::File, Some(*size), Some(*sha256), None)
        }
        (EntryKind::Dir, _) => (EntryType::Dir, None, None, None),
        (EntryKind::Symlink { .. }, true) => (EntryType::Symlink, None, None, None),
        (EntryKind::Symlink { target }, false) => (EntryType::Symlink, None, None, Some(target)),
    }
}

fn classification(e: &Entry, moved: bool) -> Classification {
    if moved {
        Classification::MovedToSecrets
    } else {
        e.classification
    }
}

#[cfg(feature = "test-util")]
fn manifest_entry(e: &Entry, moved: bool) -> ManifestEntry {
    let (kind, size, sha256, target) = parts(e, moved);
    ManifestEntry {
        path: e.path.clone(),
        kind,
        category: e.category,
        classification: classification(e, moved),
        mode: e.mode,
        mtime: e.mtime,
        size,
        sha256,
        target: target.map(str::to_owned),
    }
}

fn entry_json(e: &Entry, moved: bool) -> EntryJson<'_> {
    let (kind, size, sha256, target) = parts(e, moved);
    EntryJson {
        path: e.path.as_str(),
        kind,
        category: e.category,
        classification: classification(e, moved),
        mode: e.mode,
        mtime: e.mtime,
        size,
        sha256,
        target,
    }
}

/// A bundle's manifest as a serializable view of the collection: the same JSON as
/// [`Manifest::to_json`] of [`Collection::manifest`].
pub(super) struct ManifestSource<'a> {
    collection: &'a Collection,
    bundle: Bundle,
    totals: Totals,
    /// Newest entry mtime: the manifest member's own mtime.
    pub(super) mtime: i64,
}

impl<'a> ManifestSource<'a> {
    pub(super) fn new(collection: &'a Collection, bundle: Bundle) -> Self {
        let mut totals = Totals::default();
        for (e, moved) in Listed::new(collection, bundle) {
            let (kind, size, _, _) = parts(e, moved);
            totals.add(kind, classification(e, moved), e.category, size);
        }
        let mtime = collection
            .entries(bundle)
            .iter()
            .map(|e| e.mtime)
            .max()
            .unwrap_or(0);
        Self {
            collection,
            bundle,
            totals,
            mtime,
        }
    }

    /// Appends `MANIFEST.json` to `tar` with `header`'s metadata; returns its digest.
    pub(super) fn append<W: Write>(
        &self,
        tar: &mut tar::Builder<W>,
        header: tar::Header,
    ) -> io::Result<Sha256Digest> {
        append_manifest(self, tar, header)
    }
}

impl Serialize for ManifestSource<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Entries<'b>(&'b ManifestSource<'b>);
        impl Serialize for Entries<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let listed = Listed::new(self.0.collection, self.0.bundle);
                s.collect_seq(listed.map(|(e, moved)| entry_json(e, moved)))
            }
        }
        serialize_manifest(s, self.bundle, &Entries(self), &self.totals)
    }
}
