//! [`BackupMetadata`]: the typed shape of `backups_backup.metadata`. The platform reads
//! `files_collected` (an integer) and `file_categories` (category → file count); everything
//! else the run reports (bytes per category, skipped files, the secrets bundle's object keys
//! and checksum, timings) travels beside them as further keys.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::codec::JsonObject;
use crate::error::CatalogError;

/// The metadata of one backup row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackupMetadata {
    /// Files (and symlinks) collected into the backup.
    pub files_collected: u64,
    /// Files collected per category (`nginx`, `env`, `docker`, ...).
    pub file_categories: BTreeMap<String, u64>,
    /// The run report's other facts, kept under their own keys.
    #[serde(flatten)]
    pub other: JsonObject,
}

impl BackupMetadata {
    /// The JSON object to store (for [`crate::NewBackup::metadata`] /
    /// [`crate::BackupUpdate::metadata`]).
    pub fn to_object(&self) -> JsonObject {
        let mut object = self.other.clone();
        object.insert("files_collected".into(), Value::from(self.files_collected));
        object.insert(
            "file_categories".into(),
            Value::Object(
                self.file_categories
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(*v)))
                    .collect(),
            ),
        );
        object
    }

    /// Reads a stored object (e.g. [`crate::Backup::metadata`]); a missing or mistyped
    /// `files_collected` / `file_categories` is [`CatalogError::InvalidValue`].
    pub fn from_object(object: &JsonObject) -> Result<BackupMetadata, CatalogError> {
        serde_json::from_value(Value::Object(object.clone())).map_err(|e| {
            CatalogError::invalid(
                "backups_backup",
                "metadata",
                &e.to_string(),
                "metadata object with files_collected and file_categories",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_platforms_keys_are_always_present_and_typed() {
        let mut other = JsonObject::new();
        other.insert("timings_ms".into(), json!({"collect": 12}));
        let metadata = BackupMetadata {
            files_collected: 42,
            file_categories: [("nginx".to_owned(), 3), ("env".to_owned(), 1)].into(),
            other,
        };
        let object = metadata.to_object();
        assert_eq!(
            Value::Object(object.clone()),
            json!({
                "files_collected": 42,
                "file_categories": {"env": 1, "nginx": 3},
                "timings_ms": {"collect": 12},
            })
        );
        assert_eq!(BackupMetadata::from_object(&object).unwrap(), metadata);
        let empty = BackupMetadata::default().to_object();
        assert_eq!(
            Value::Object(empty),
            json!({"files_collected": 0, "file_categories": {}})
        );
    }

    #[test]
    fn a_stored_object_without_the_platforms_keys_is_a_typed_error() {
        let Value::Object(object) = json!({"file_categories": {}}) else {
            unreachable!("a literal object")
        };
        assert!(matches!(
            BackupMetadata::from_object(&object),
            Err(CatalogError::InvalidValue {
                column: "metadata",
                ..
            })
        ));
        let Value::Object(object) = json!({"files_collected": "many", "file_categories": {}})
        else {
            unreachable!("a literal object")
        };
        assert!(BackupMetadata::from_object(&object).is_err());
    }
}
