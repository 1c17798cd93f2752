//! Addressing stores and artifacts on the command line and in the config file:
//! [`StoreTarget`] (`local:PATH`, `s3:NAME`) and [`ArtifactAddress`] (`s3:NAME/KEY`,
//! `local:PATH` or a plain path).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use celeriac_store::{LocalStore, ObjectKey, StoreId};

pub use super::address_error::AddressError;

/// Where a backup writes one copy: a local directory or an S3 store named in the config file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StoreTarget {
    /// `local:PATH`: a directory (created on first write).
    Local {
        /// The directory.
        path: PathBuf,
    },
    /// `s3:NAME`: the `[stores.NAME]` table of the config file.
    S3 {
        /// The store's name.
        name: StoreId,
    },
}

impl FromStr for StoreTarget {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(path) = text.strip_prefix("local:") {
            if path.is_empty() {
                return Err(AddressError::EmptyPath { text: text.into() });
            }
            return Ok(Self::Local { path: path.into() });
        }
        if let Some(name) = text.strip_prefix("s3:") {
            let name = StoreId::new(name).map_err(|source| AddressError::StoreName {
                text: text.into(),
                source,
            })?;
            return Ok(Self::S3 { name });
        }
        Err(AddressError::UnknownScheme { text: text.into() })
    }
}

/// `backup.stores` entries are read as targets straight from the config file, so a bad one is
/// refused with its line and column and nobody parses `local:` strings again later.
impl<'de> serde::Deserialize<'de> for StoreTarget {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(|e: AddressError| {
            serde::de::Error::custom(format!("invalid entry in `backup.stores`: {e}"))
        })
    }
}

impl fmt::Display for StoreTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local { path } => write!(f, "local:{}", path.display()),
            Self::S3 { name } => write!(f, "s3:{name}"),
        }
    }
}

/// One stored artifact: a file on a local filesystem, or an object in a configured S3 store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ArtifactAddress {
    /// `PATH` or `local:PATH`: the artifact file itself (its `PATH.sha256` sidecar next to it).
    Local {
        /// The file.
        path: PathBuf,
    },
    /// `s3:NAME/KEY`: object `KEY` (below the store's own prefix) in `[stores.NAME]`.
    S3 {
        /// The store's name.
        store: StoreId,
        /// The object key.
        key: ObjectKey,
    },
}

impl ArtifactAddress {
    /// For a local address: a [`LocalStore`] (store id `local`) and a key, so the artifact is
    /// read like any stored object. When the file sits in its backup's folder
    /// (`…/<backup id>/backup_configuration_….tar.gz.enc`) the store is rooted above that folder
    /// and the key keeps it, so the name still tells which backup the file belongs to; otherwise
    /// the store is the file's directory and the key its name.
    ///
    /// # Errors
    /// [`AddressError::Key`] when the file name is not a valid object key.
    pub fn local_store(path: &Path) -> Result<(LocalStore, ObjectKey), AddressError> {
        let text = path.display().to_string();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| AddressError::EmptyPath { text: text.clone() })?;
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        let folder = parent
            .and_then(Path::file_name)
            .map(|f| f.to_string_lossy().into_owned())
            .map(|folder| format!("{folder}/{name}"))
            .filter(|named| crate::config::naming::ArtifactName::parse(named).is_ok());
        let (name, dir) = match folder {
            Some(named) => (
                named,
                parent
                    .and_then(Path::parent)
                    .filter(|p| !p.as_os_str().is_empty()),
            ),
            None => (name, parent),
        };
        let dir = dir.unwrap_or(Path::new("."));
        let key = ObjectKey::new(name).map_err(|source| AddressError::Key { text, source })?;
        let id = StoreId::new("local").map_err(|source| AddressError::StoreName {
            text: "local".into(),
            source,
        })?;
        Ok((LocalStore::new(id, dir), key))
    }

    /// The object key's (or the file's) last segment.
    pub fn file_name(&self) -> Option<String> {
        match self {
            Self::Local { path } => path.file_name().map(|n| n.to_string_lossy().into_owned()),
            Self::S3 { key, .. } => Some(key.basename().to_owned()),
        }
    }
}

impl FromStr for ArtifactAddress {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = text.strip_prefix("s3:") {
            let (name, key) = rest
                .split_once('/')
                .ok_or_else(|| AddressError::MissingKey { text: text.into() })?;
            let store = StoreId::new(name).map_err(|source| AddressError::StoreName {
                text: text.into(),
                source,
            })?;
            if key.is_empty() {
                return Err(AddressError::MissingKey { text: text.into() });
            }
            let key = ObjectKey::new(key).map_err(|source| AddressError::Key {
                text: text.into(),
                source,
            })?;
            return Ok(Self::S3 { store, key });
        }
        let path = text.strip_prefix("local:").unwrap_or(text);
        if path.is_empty() {
            return Err(AddressError::EmptyPath { text: text.into() });
        }
        Ok(Self::Local { path: path.into() })
    }
}

impl fmt::Display for ArtifactAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local { path } => write!(f, "{}", path.display()),
            Self::S3 { store, key } => write!(f, "s3:{store}/{key}"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use celeriac_store::Store as _;

    use super::*;

    #[test]
    fn store_targets_parse_and_print() {
        let local: StoreTarget = "local:/var/backups/celeriac".parse().unwrap();
        assert_eq!(
            local,
            StoreTarget::Local {
                path: "/var/backups/celeriac".into()
            }
        );
        assert_eq!(local.to_string(), "local:/var/backups/celeriac");
        let s3: StoreTarget = "s3:r2".parse().unwrap();
        assert_eq!(s3.to_string(), "s3:r2");
        for bad in ["", "r2", "local:", "s3:", "s3:R2", "ftp:x", "s3:a/b"] {
            assert!(bad.parse::<StoreTarget>().is_err(), "{bad}");
        }
    }

    #[test]
    fn artifact_addresses_parse_and_print() {
        let s3: ArtifactAddress = "s3:b2/celeriac/2026/11/27/x.tar.gz.enc".parse().unwrap();
        let ArtifactAddress::S3 { store, key } = &s3 else {
            panic!("{s3:?}")
        };
        assert_eq!(
            (store.as_str(), key.as_str()),
            ("b2", "celeriac/2026/11/27/x.tar.gz.enc")
        );
        assert_eq!(s3.to_string(), "s3:b2/celeriac/2026/11/27/x.tar.gz.enc");
        assert_eq!(s3.file_name().as_deref(), Some("x.tar.gz.enc"));
        let plain: ArtifactAddress = "/b/x.tar.gz.enc".parse().unwrap();
        let prefixed: ArtifactAddress = "local:/b/x.tar.gz.enc".parse().unwrap();
        assert_eq!(plain, prefixed);
        for bad in ["", "local:", "s3:b2", "s3:b2/", "s3:B2/x", "s3:b2/../x"] {
            assert!(bad.parse::<ArtifactAddress>().is_err(), "{bad}");
        }
    }

    #[test]
    fn local_artifact_opens_as_a_store() {
        let (store, key) = ArtifactAddress::local_store(Path::new("/b/day/x.tar.gz.enc")).unwrap();
        assert_eq!(store.root(), Path::new("/b/day"));
        assert_eq!(key.as_str(), "x.tar.gz.enc");
        assert_eq!(store.id().as_str(), "local");
        assert!(ArtifactAddress::local_store(Path::new("/b/bad name")).is_err());
        let id = "019ac4a1-52e3-7a10-8f00-0123456789ab";
        let file = format!("/b/2026/11/27/{id}/backup_configuration_20261127_073409.tar.gz.enc");
        let (store, key) = ArtifactAddress::local_store(Path::new(&file)).unwrap();
        assert_eq!(store.root(), Path::new("/b/2026/11/27"));
        assert_eq!(
            key.as_str(),
            format!("{id}/backup_configuration_20261127_073409.tar.gz.enc")
        );
    }
}
