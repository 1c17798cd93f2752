//! Object names: the validated [`ObjectKey`] and [`ObjectPrefix`] newtypes, and the names this
//! crate reserves for sidecars and staging files.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Suffix of the `sha256sum` sidecar written next to every object.
pub const SIDECAR_SUFFIX: &str = ".sha256";

/// Marker in the name of a local staging file (`<name>.partial-<random>`).
pub(crate) const STAGING_MARKER: &str = ".partial-";

/// Longest accepted key, in bytes (S3 allows 1024; the store prefix and suffixes need room).
const MAX_KEY_LEN: usize = 512;

/// Longest accepted segment, in bytes (filesystems allow 255; staging names add 25).
const MAX_SEGMENT_LEN: usize = 200;

/// Why a string is not a valid [`ObjectKey`] or [`ObjectPrefix`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is empty.
    #[error("object key is empty")]
    Empty,
    /// The key is longer than the limit.
    #[error("object key is {len} bytes long, the limit is {max}")]
    TooLong {
        /// Length of the rejected key.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The key starts with `/`.
    #[error("object key must be relative")]
    Absolute,
    /// Two consecutive slashes, or a trailing slash.
    #[error("object key has an empty segment")]
    EmptySegment,
    /// A `.` or `..` segment.
    #[error("object key has a `.` or `..` segment")]
    DotSegment,
    /// A segment longer than the limit.
    #[error("object key segment is {len} bytes long, the limit is {max}")]
    SegmentTooLong {
        /// Length of the rejected segment.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A character outside `A-Z a-z 0-9 . _ - + = @ ,` and `/` (this rejects backslashes,
    /// control characters, spaces and non-ASCII).
    #[error("object key contains the disallowed character {ch:?}")]
    BadChar {
        /// The first disallowed character.
        ch: char,
    },
    /// The name is reserved for sidecars (`*.sha256`) or staging files (`*.partial-*`).
    #[error("object key uses a reserved name (`{SIDECAR_SUFFIX}` suffix or `{STAGING_MARKER}`)")]
    Reserved,
}

/// The name of an object inside a store: relative, `/`-separated, validated.
///
/// Keys are portable across every store kind: ASCII letters, digits, `. _ - + = @ ,` and `/`
/// between non-empty segments, no `.`/`..` segment, at most 512 bytes. Names ending in
/// `.sha256` (the sidecars) or containing `.partial-` (local staging files) are reserved.
///
/// ```
/// use celeriac_store::ObjectKey;
/// let key = ObjectKey::new("backups/2026/11/27/run.tar.gz.enc").unwrap();
/// assert_eq!(key.basename(), "run.tar.gz.enc");
/// assert!(ObjectKey::new("../etc/passwd").is_err());
/// assert!(ObjectKey::new("a\\b").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Validates `key`.
    pub fn new(key: impl Into<String>) -> Result<Self, KeyError> {
        let key = key.into();
        if key.is_empty() {
            return Err(KeyError::Empty);
        }
        validate_path(&key)?;
        if key.ends_with(SIDECAR_SUFFIX) || key.contains(STAGING_MARKER) {
            return Err(KeyError::Reserved);
        }
        Ok(Self(key))
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment (the file name).
    pub fn basename(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The name of this object's `sha256sum` sidecar (`<key>.sha256`).
    pub fn sidecar_name(&self) -> String {
        format!("{}{SIDECAR_SUFFIX}", self.0)
    }

    /// `true` when this key lies under `prefix`.
    pub fn is_under(&self, prefix: &ObjectPrefix) -> bool {
        prefix.0.is_empty()
            || self
                .0
                .strip_prefix(prefix.0.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ObjectKey {
    type Error = KeyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ObjectKey> for String {
    fn from(key: ObjectKey) -> Self {
        key.0
    }
}

impl std::str::FromStr for ObjectKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// A "directory" of keys for [`Store::list`](crate::Store::list): empty (everything) or a
/// key-like path whose objects lie below `<prefix>/`.
///
/// ```
/// use celeriac_store::{ObjectKey, ObjectPrefix};
/// let day = ObjectPrefix::new("backups/2026").unwrap();
/// assert!(ObjectKey::new("backups/2026/a.enc").unwrap().is_under(&day));
/// assert!(!ObjectKey::new("backups/20261/a.enc").unwrap().is_under(&day));
/// assert!(ObjectKey::new("x").unwrap().is_under(&ObjectPrefix::root()));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ObjectPrefix(String);

impl ObjectPrefix {
    /// The empty prefix: every object.
    pub fn root() -> Self {
        Self(String::new())
    }

    /// Validates `prefix` with the rules of [`ObjectKey`] (one trailing `/` is tolerated; an
    /// empty string is the root).
    pub fn new(prefix: impl Into<String>) -> Result<Self, KeyError> {
        let mut prefix = prefix.into();
        if prefix.ends_with('/') {
            prefix.pop();
        }
        if prefix.is_empty() {
            return Ok(Self::root());
        }
        validate_path(&prefix)?;
        if prefix.contains(STAGING_MARKER) {
            return Err(KeyError::Reserved);
        }
        Ok(Self(prefix))
    }

    /// The prefix without a trailing slash (empty for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `true` for the root prefix.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ObjectPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn validate_path(path: &str) -> Result<(), KeyError> {
    if path.len() > MAX_KEY_LEN {
        return Err(KeyError::TooLong {
            len: path.len(),
            max: MAX_KEY_LEN,
        });
    }
    if let Some(ch) = path.chars().find(|c| !is_allowed(*c)) {
        return Err(KeyError::BadChar { ch });
    }
    if path.starts_with('/') {
        return Err(KeyError::Absolute);
    }
    for segment in path.split('/') {
        match segment {
            "" => return Err(KeyError::EmptySegment),
            "." | ".." => return Err(KeyError::DotSegment),
            s if s.len() > MAX_SEGMENT_LEN => {
                return Err(KeyError::SegmentTooLong {
                    len: s.len(),
                    max: MAX_SEGMENT_LEN,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '=' | '@' | ',' | '/')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn accepts_typical_backup_keys() {
        for k in [
            "a",
            "backups/2026/11/27/0193c1e2-7f1a.tar.gz.enc",
            "reports/run=1,try@2+x.json",
            ".hidden/x",
        ] {
            assert!(ObjectKey::new(k).is_ok(), "{k}");
        }
    }

    #[test]
    fn rejects_unsafe_keys_with_typed_reasons() {
        let cases = [
            ("", KeyError::Empty),
            ("/abs", KeyError::Absolute),
            ("a//b", KeyError::EmptySegment),
            ("a/", KeyError::EmptySegment),
            ("a/../b", KeyError::DotSegment),
            ("./b", KeyError::DotSegment),
            ("..", KeyError::DotSegment),
            ("a\\b", KeyError::BadChar { ch: '\\' }),
            ("a b", KeyError::BadChar { ch: ' ' }),
            ("a\0b", KeyError::BadChar { ch: '\0' }),
            ("caf\u{e9}", KeyError::BadChar { ch: '\u{e9}' }),
            ("x.sha256", KeyError::Reserved),
            ("x.partial-1234", KeyError::Reserved),
        ];
        for (key, want) in cases {
            assert_eq!(ObjectKey::new(key), Err(want), "{key:?}");
        }
    }

    #[test]
    fn rejects_overlong_keys_and_segments() {
        let long_segment = "s".repeat(MAX_SEGMENT_LEN + 1);
        assert!(matches!(
            ObjectKey::new(long_segment),
            Err(KeyError::SegmentTooLong { .. })
        ));
        let long_key = vec!["s".repeat(100); 6].join("/");
        assert!(matches!(
            ObjectKey::new(long_key),
            Err(KeyError::TooLong { .. })
        ));
    }

    #[test]
    fn sidecar_and_basename() {
        let key = ObjectKey::new("a/b/c.enc").unwrap();
        assert_eq!(key.basename(), "c.enc");
        assert_eq!(key.sidecar_name(), "a/b/c.enc.sha256");
        assert_eq!(ObjectKey::new("top").unwrap().basename(), "top");
    }

    #[test]
    fn prefix_rules() {
        assert!(ObjectPrefix::new("").unwrap().is_root());
        assert_eq!(ObjectPrefix::new("a/b/").unwrap().as_str(), "a/b");
        assert!(ObjectPrefix::new("a//").is_err());
        assert!(ObjectPrefix::new("../a").is_err());
        let p = ObjectPrefix::new("a").unwrap();
        assert!(ObjectKey::new("a/x").unwrap().is_under(&p));
        assert!(!ObjectKey::new("a").unwrap().is_under(&p));
        assert!(!ObjectKey::new("ab/x").unwrap().is_under(&p));
    }

    #[test]
    fn serde_validates() {
        let ok: ObjectKey = serde_json_like("\"a/b\"").unwrap();
        assert_eq!(ok.as_str(), "a/b");
        assert!(serde_json_like("\"../x\"").is_err());
    }

    fn serde_json_like(s: &str) -> Result<ObjectKey, serde::de::value::Error> {
        use serde::de::IntoDeserializer;
        let inner = s.trim_matches('"').to_owned();
        ObjectKey::deserialize(inner.into_deserializer())
    }
}
