//! Artifact naming: [`ArtifactName`] gives every artifact the name the platform's original
//! backup system gives it, under a per-backup folder so keys stay unique and create-only.
//!
//! ```text
//! <prefix>/<YYYY>/<MM>/<DD>/<backup id>/backup_configuration_<YYYYMMDD>_<HHMMSS>.tar.gz.enc          main archive
//! <prefix>/<YYYY>/<MM>/<DD>/<backup id>/backup_configuration_<YYYYMMDD>_<HHMMSS>.secrets.tar.gz.enc  secrets bundle
//! ```
//!
//! The kind of backup is in the file name (and the default prefix), not in a folder of its own:
//! keys stay short (about 110 bytes under the default prefix), well inside every store's limit.
//!
//! All parts are UTC and come from the run's start. The file name is the catalog row's
//! `filename` (the platform reads it); the folder carries the backup id, so two runs in the same
//! second never share a key, and the two artifacts of one run sit side by side. The same key is
//! used in every store (each store may add its own prefix, e.g. an S3 store's `prefix`).

use std::fmt;

use celeriac_store::{ObjectKey, ObjectPrefix};
use chrono::{DateTime, Datelike as _, NaiveDateTime, Utc};

use crate::config::address_error::AddressError;
use crate::id::BackupId;
use crate::manifest::Bundle;

/// File-name suffix of every artifact (a `tar.gz` inside the celeriac envelope, see
/// `docs/artifact-format.md`).
pub(crate) const ARTIFACT_SUFFIX: &str = ".tar.gz.enc";

/// Marker between the time and the suffix in a secrets bundle's name.
pub(crate) const SECRETS_MARKER: &str = ".secrets";

/// What every artifact's file name starts with.
pub(crate) const FILE_STEM: &str = "backup_configuration_";

const TIME_FORMAT: &str = "%Y%m%d_%H%M%S";
/// `YYYYMMDD_HHMMSS`.
const TIME_LEN: usize = 15;

/// The name of one artifact: when its backup started, which backup, which bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArtifactName {
    /// Start of the backup, whole seconds, UTC.
    pub created: DateTime<Utc>,
    /// The backup run.
    pub backup_id: BackupId,
    /// Main archive or secrets bundle.
    pub bundle: Bundle,
}

impl ArtifactName {
    /// The name of `bundle` of backup `backup_id` started at `created` (sub-seconds dropped).
    pub fn new(backup_id: BackupId, created: DateTime<Utc>, bundle: Bundle) -> Self {
        let created = DateTime::from_timestamp(created.timestamp(), 0).unwrap_or(created);
        Self {
            created,
            backup_id,
            bundle,
        }
    }

    /// The same backup's other bundle.
    #[must_use]
    pub fn with_bundle(self, bundle: Bundle) -> Self {
        Self { bundle, ..self }
    }

    /// `backup_configuration_20261127_073409.tar.gz.enc` (or `….secrets.tar.gz.enc`).
    pub fn file_name(&self) -> String {
        let marker = match self.bundle {
            Bundle::Main => "",
            Bundle::Secrets => SECRETS_MARKER,
        };
        format!(
            "{FILE_STEM}{}{marker}{ARTIFACT_SUFFIX}",
            self.created.format(TIME_FORMAT)
        )
    }

    /// The run's folder, without a trailing slash: `<prefix>/<YYYY>/<MM>/<DD>/<backup id>`.
    pub fn folder(&self, prefix: &ObjectPrefix) -> String {
        let date = format!(
            "{:04}/{:02}/{:02}/{}",
            self.created.year(),
            self.created.month(),
            self.created.day(),
            self.backup_id
        );
        if prefix.is_root() {
            date
        } else {
            format!("{prefix}/{date}")
        }
    }

    /// `<folder>/<file name>`.
    ///
    /// # Errors
    /// `AddressError::Key` if the prefix leaves no room for the name (over 512 bytes).
    pub fn object_key(&self, prefix: &ObjectPrefix) -> Result<ObjectKey, AddressError> {
        let text = format!("{}/{}", self.folder(prefix), self.file_name());
        ObjectKey::new(text.clone()).map_err(|source| AddressError::Key { text, source })
    }

    /// Parses the last two segments of a key or path: `<backup id>/<file name>`.
    ///
    /// # Errors
    /// `AddressError::NotArtifactName`.
    pub fn parse(path: &str) -> Result<Self, AddressError> {
        let malformed = || AddressError::NotArtifactName {
            name: path.to_owned(),
        };
        let mut segments = path.rsplit('/');
        let (Some(file_name), Some(folder)) = (segments.next(), segments.next()) else {
            return Err(malformed());
        };
        let stem = file_name
            .strip_prefix(FILE_STEM)
            .and_then(|s| s.strip_suffix(ARTIFACT_SUFFIX))
            .ok_or_else(malformed)?;
        let (time, bundle) = match stem.strip_suffix(SECRETS_MARKER) {
            Some(time) => (time, Bundle::Secrets),
            None => (stem, Bundle::Main),
        };
        if time.len() != TIME_LEN {
            return Err(malformed());
        }
        let created = NaiveDateTime::parse_from_str(time, TIME_FORMAT)
            .map_err(|_| malformed())?
            .and_utc();
        let backup_id = folder.parse::<BackupId>().map_err(|_| malformed())?;
        let name = Self::new(backup_id, created, bundle);
        // Only the canonical spelling (lowercase hyphenated uuid) is a name.
        if name.file_name() != file_name || name.backup_id.to_string() != folder {
            return Err(malformed());
        }
        Ok(name)
    }

    /// Parses the end of `key` (see [`ArtifactName::parse`]).
    ///
    /// # Errors
    /// `AddressError::NotArtifactName`.
    pub fn from_key(key: &ObjectKey) -> Result<Self, AddressError> {
        Self::parse(key.as_str())
    }

    /// The key of `bundle`'s artifact of the same backup as `key`, next to it (same folder).
    ///
    /// # Errors
    /// `AddressError` when `key` does not end in an artifact name.
    pub fn sibling_key(key: &ObjectKey, bundle: Bundle) -> Result<ObjectKey, AddressError> {
        let name = Self::from_key(key)?.with_bundle(bundle);
        let dir = key
            .as_str()
            .strip_suffix(key.basename())
            .unwrap_or_default();
        let text = format!("{dir}{}", name.file_name());
        ObjectKey::new(text.clone()).map_err(|source| AddressError::Key { text, source })
    }
}

impl fmt::Display for ArtifactName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file_name())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use super::*;

    const ID: &str = "019ac4a1-52e3-7a10-8f00-0123456789ab";

    fn sample() -> ArtifactName {
        let at = DateTime::parse_from_rfc3339("2026-11-27T07:34:09.731Z")
            .unwrap()
            .with_timezone(&Utc);
        ArtifactName::new(ID.parse().unwrap(), at, Bundle::Main)
    }

    #[test]
    fn keys_follow_the_original_systems_names() {
        let name = sample();
        let key = name
            .object_key(&ObjectPrefix::new("celeriac").unwrap())
            .unwrap();
        assert_eq!(
            key.as_str(),
            format!("celeriac/2026/11/27/{ID}/backup_configuration_20261127_073409.tar.gz.enc")
        );
        let secrets = name.with_bundle(Bundle::Secrets);
        assert_eq!(
            secrets.object_key(&ObjectPrefix::root()).unwrap().as_str(),
            format!("2026/11/27/{ID}/backup_configuration_20261127_073409.secrets.tar.gz.enc")
        );
        assert_eq!(
            ArtifactName::sibling_key(&key, Bundle::Secrets)
                .unwrap()
                .basename(),
            secrets.file_name()
        );
    }

    #[test]
    fn names_parse_back_and_reject_anything_else() {
        let name = sample();
        for bundle in [Bundle::Main, Bundle::Secrets] {
            let n = name.with_bundle(bundle);
            let key = n.object_key(&ObjectPrefix::root()).unwrap();
            assert_eq!(ArtifactName::from_key(&key).unwrap(), n);
            assert_eq!(
                ArtifactName::parse(&format!("{ID}/{}", n.file_name())).unwrap(),
                n
            );
        }
        for bad in [
            "",
            "backup_configuration_20261127_073409.tar.gz.enc",
            "x/backup_configuration_20261127_073409.tar.gz.enc",
            &format!("{ID}/backup_configuration_20261127_073409.tar.gz"),
            &format!("{ID}/backup_configuration_20261127T073409.tar.gz.enc"),
            &format!("{ID}/backup_configuration_20261327_073409.tar.gz.enc"),
            &format!("{ID}/backup_configuration_20261127_073409.other.tar.gz.enc"),
            &format!(
                "{}/backup_configuration_20261127_073409.tar.gz.enc",
                ID.to_uppercase()
            ),
        ] {
            assert!(ArtifactName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_sort_by_day_and_names_by_time() {
        let a = sample();
        let later = ArtifactName::new(
            BackupId::new_at(a.created + chrono::Duration::seconds(1)),
            a.created + chrono::Duration::seconds(1),
            Bundle::Main,
        );
        assert!(a.file_name() < later.file_name());
    }
}
