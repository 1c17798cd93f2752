//! Store identity: the [`StoreId`] name (`local`, `r2`, `b2`) and the [`StoreKind`] enum.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid [`StoreId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store id must be 1 to 64 characters of a-z, 0-9, `-` or `_`")]
pub struct StoreIdError;

/// The operator-facing name of a store (`local`, `r2`, `b2`), carried by every error and
/// report line. Lowercase ASCII letters, digits, `-` and `_`, 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StoreId(String);

impl StoreId {
    /// Validates `id`.
    pub fn new(id: impl Into<String>) -> Result<Self, StoreIdError> {
        let id = id.into();
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok { Ok(Self(id)) } else { Err(StoreIdError) }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl TryFrom<String> for StoreId {
    type Error = StoreIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<StoreId> for String {
    fn from(id: StoreId) -> Self {
        id.0
    }
}

/// What a store is built on. Recorded with each copy so that restore and repair know how to
/// reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum StoreKind {
    /// A directory on a local (or mounted) filesystem.
    Local,
    /// An S3-compatible object store (Cloudflare R2, Backblaze B2, AWS S3, ...).
    S3,
    /// The in-memory store of the `test-util` feature.
    Memory,
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Local => "local",
            Self::S3 => "s3",
            Self::Memory => "memory",
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn store_id_validation() {
        for ok in ["local", "r2", "b2", "off-site_2"] {
            assert!(StoreId::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "R2", "a b", "a/b", &"x".repeat(65)] {
            assert!(StoreId::new(bad).is_err(), "{bad}");
        }
    }
}
