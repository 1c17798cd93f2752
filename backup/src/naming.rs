//! Artifact naming: [`ArtifactName`] gives every artifact a deterministic, create-only,
//! sortable object key.
//!
//! ```text
//! <prefix>/<YYYY>/<MM>/<DD>/<YYYYMMDD>T<HHMMSS>Z-<backup uuid v7>.tar.gz.cbk           main archive
//! <prefix>/<YYYY>/<MM>/<DD>/<YYYYMMDD>T<HHMMSS>Z-<backup uuid v7>-secrets.tar.gz.cbk   secrets bundle
//! ```
//!
//! All parts are UTC. Keys sort by time (the date directories, then the timestamp, then the
//! UUIDv7, which is time-ordered too); the two artifacts of one run sit side by side; the same
//! key is used in every store (each store may add its own prefix, e.g. an S3 store's `prefix`).

use std::fmt;

use celeriac_store::{KeyError, ObjectKey, ObjectPrefix};
use chrono::{DateTime, Datelike as _, NaiveDateTime, Utc};

use crate::id::BackupId;
use crate::manifest::Bundle;

/// File-name suffix of every artifact (a `tar.gz` inside the celeriac envelope, see
/// `docs/artifact-format.md`).
pub const ARTIFACT_SUFFIX: &str = ".tar.gz.cbk";

/// Marker between the backup id and the suffix in a secrets bundle's name.
pub const SECRETS_MARKER: &str = "-secrets";

const TIME_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// `YYYYMMDDTHHMMSSZ`.
const TIME_LEN: usize = 16;

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

/// Why a file name or key is not an artifact name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name does not have the `<time>-<uuid>[-secrets].tar.gz.cbk` shape.
    #[error("{name:?} is not an artifact name (<YYYYMMDD>T<HHMMSS>Z-<uuid>[-secrets].tar.gz.cbk)")]
    Malformed {
        /// The name as given.
        name: String,
    },
    /// The prefix makes the key invalid.
    #[error("artifact key is invalid")]
    Key(#[source] KeyError),
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

    /// `20261127T073409Z-<uuid>.tar.gz.cbk` (or `…-secrets.tar.gz.cbk`).
    pub fn file_name(&self) -> String {
        let marker = match self.bundle {
            Bundle::Main => "",
            Bundle::Secrets => SECRETS_MARKER,
        };
        format!(
            "{}-{}{marker}{ARTIFACT_SUFFIX}",
            self.created.format(TIME_FORMAT),
            self.backup_id
        )
    }

    /// `<prefix>/<YYYY>/<MM>/<DD>/<file name>`.
    ///
    /// # Errors
    /// [`NameError::Key`] if the prefix leaves no room for the name (over 512 bytes).
    pub fn object_key(&self, prefix: &ObjectPrefix) -> Result<ObjectKey, NameError> {
        let date = format!(
            "{:04}/{:02}/{:02}",
            self.created.year(),
            self.created.month(),
            self.created.day()
        );
        let key = if prefix.is_root() {
            format!("{date}/{}", self.file_name())
        } else {
            format!("{prefix}/{date}/{}", self.file_name())
        };
        ObjectKey::new(key).map_err(NameError::Key)
    }

    /// Parses a file name (the last segment of a key or path).
    ///
    /// # Errors
    /// [`NameError::Malformed`].
    pub fn parse(file_name: &str) -> Result<Self, NameError> {
        let malformed = || NameError::Malformed {
            name: file_name.to_owned(),
        };
        let stem = file_name
            .strip_suffix(ARTIFACT_SUFFIX)
            .ok_or_else(malformed)?;
        let (stem, bundle) = match stem.strip_suffix(SECRETS_MARKER) {
            Some(stem) => (stem, Bundle::Secrets),
            None => (stem, Bundle::Main),
        };
        let (time, id) = (stem.get(..TIME_LEN), stem.get(TIME_LEN + 1..));
        let (Some(time), Some(id)) = (time, id) else {
            return Err(malformed());
        };
        if stem.as_bytes()[TIME_LEN] != b'-' {
            return Err(malformed());
        }
        let created = NaiveDateTime::parse_from_str(time, TIME_FORMAT)
            .map_err(|_| malformed())?
            .and_utc();
        let backup_id = id.parse::<BackupId>().map_err(|_| malformed())?;
        let name = Self::new(backup_id, created, bundle);
        // Only the canonical spelling (lowercase hyphenated uuid) is a name.
        if name.file_name() != file_name {
            return Err(malformed());
        }
        Ok(name)
    }

    /// Parses the last segment of `key`.
    ///
    /// # Errors
    /// [`NameError::Malformed`].
    pub fn from_key(key: &ObjectKey) -> Result<Self, NameError> {
        Self::parse(key.basename())
    }
}

impl fmt::Display for ArtifactName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file_name())
    }
}

/// The key of the other bundle of the same backup, next to `key` (same directory).
///
/// # Errors
/// [`NameError`] when `key` does not end in an artifact name.
pub fn sibling_key(key: &ObjectKey, bundle: Bundle) -> Result<ObjectKey, NameError> {
    let name = ArtifactName::from_key(key)?.with_bundle(bundle);
    let dir = key
        .as_str()
        .strip_suffix(key.basename())
        .unwrap_or_default();
    ObjectKey::new(format!("{dir}{}", name.file_name())).map_err(NameError::Key)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use super::*;

    fn sample() -> ArtifactName {
        let at = DateTime::parse_from_rfc3339("2026-11-27T07:34:09.731Z")
            .unwrap()
            .with_timezone(&Utc);
        let id: BackupId = "019ac4a1-52e3-7a10-8f00-0123456789ab".parse().unwrap();
        ArtifactName::new(id, at, Bundle::Main)
    }

    #[test]
    fn keys_follow_the_documented_layout() {
        let name = sample();
        let key = name
            .object_key(&ObjectPrefix::new("celeriac").unwrap())
            .unwrap();
        assert_eq!(
            key.as_str(),
            "celeriac/2026/11/27/20261127T073409Z-019ac4a1-52e3-7a10-8f00-0123456789ab.tar.gz.cbk"
        );
        let secrets = name.with_bundle(Bundle::Secrets);
        assert_eq!(
            secrets.object_key(&ObjectPrefix::root()).unwrap().as_str(),
            "2026/11/27/20261127T073409Z-019ac4a1-52e3-7a10-8f00-0123456789ab-secrets.tar.gz.cbk"
        );
        assert_eq!(
            sibling_key(&key, Bundle::Secrets).unwrap().basename(),
            secrets.file_name()
        );
    }

    #[test]
    fn names_parse_back_and_reject_anything_else() {
        let name = sample();
        for bundle in [Bundle::Main, Bundle::Secrets] {
            let n = name.with_bundle(bundle);
            assert_eq!(ArtifactName::parse(&n.file_name()).unwrap(), n);
        }
        for bad in [
            "",
            "x.tar.gz.cbk",
            "20261127T073409Z-019ac4a1-52e3-7a10-8f00-0123456789ab.tar.gz",
            "20261127T073409Z_019ac4a1-52e3-7a10-8f00-0123456789ab.tar.gz.cbk",
            "20261127T073409Z-019AC4A1-52E3-7A10-8F00-0123456789AB.tar.gz.cbk",
            "20261327T073409Z-019ac4a1-52e3-7a10-8f00-0123456789ab.tar.gz.cbk",
        ] {
            assert!(ArtifactName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_sort_by_time() {
        let a = sample();
        let later = ArtifactName::new(
            BackupId::new_at(a.created + chrono::Duration::seconds(1)),
            a.created + chrono::Duration::seconds(1),
            Bundle::Main,
        );
        assert!(a.file_name() < later.file_name());
    }
}
