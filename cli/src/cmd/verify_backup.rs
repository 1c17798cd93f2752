//! `celeriac verify ID`: re-reads every copy the catalog lists for a backup (size and SHA-256
//! against the row; `--deep` also decrypts and walks it), updates each copy row and the backup
//! row, and raises an `INTEGRITY_FAILURE` alert (warning) per copy that no longer matches.
//!
//! | copies | backup status | exit |
//! |---|---|---|
//! | every copy verified | `VERIFIED` (verified_at now) | 0 |
//! | some verified, the others never stored (their upload failed) | `PARTIAL` | 2 |
//! | a stored copy is corrupt or gone | `COMPLETED` + `INTEGRITY_FAILURE` per copy | 1 |
//! | a copy cannot be read (store unreachable, not configured) | unchanged | 1 |

use std::fmt::Write as _;

use celeriac_backup::{DeepOptions, VerifyError, verify_artifact};
use celeriac_catalog::{
    AlertType, Backup, BackupCopy, BackupStatus, BackupUpdate, Catalog, CatalogError, CopyStatus,
    JsonObject, NewAlert, NewCopy, Severity,
};
use celeriac_store::StoreError;
use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cmd::catalog_copies::{self, NamedStores};
use crate::cmd::status;

/// What re-reading one copy found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Finding {
    /// Size and SHA-256 match (and, with `--deep`, it decrypts and walks).
    Verified,
    /// The bytes differ from the record, or do not decrypt.
    Corrupt,
    /// A copy the catalog had as stored is gone.
    Missing,
    /// A copy whose upload had failed is still not there (not an integrity failure).
    NotStored,
    /// It could not be read: store unreachable or not configured.
    Unreadable,
}

impl Finding {
    fn is_integrity_failure(self) -> bool {
        matches!(self, Self::Corrupt | Self::Missing)
    }
}

/// One copy's result.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CopyCheck {
    store_name: String,
    object_key: String,
    finding: Finding,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
}

/// The whole verification.
#[derive(Debug, Clone)]
pub(crate) struct BackupCheck {
    /// The backup row afterwards.
    pub(crate) row: Backup,
    /// Per copy.
    pub(crate) copies: Vec<CopyCheck>,
    /// Whether the backup's status was left as it was (a copy could not be read).
    pub(crate) unchanged: bool,
}

impl BackupCheck {
    /// 0 every copy verified, 2 PARTIAL, 1 otherwise.
    pub(crate) fn exit_code(&self) -> u8 {
        if self.unchanged {
            return status::FAILURE;
        }
        match self.row.status {
            BackupStatus::Verified => status::OK,
            BackupStatus::Partial => status::PARTIAL,
            _ => status::FAILURE,
        }
    }

    /// The result as `verify ID --json` prints it.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.row.id.to_string(),
            "status": self.row.status.as_str(),
            "status_unchanged": self.unchanged,
            "copies": self.copies,
        })
    }

    /// The result for people.
    pub(crate) fn to_text(&self) -> String {
        let mut out = format!("backup {}: {}", self.row.id, self.row.status);
        if self.unchanged {
            out.push_str(" (unchanged: a copy could not be read)");
        }
        out.push('\n');
        for c in &self.copies {
            let finding = serde_json::to_value(c.finding)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<8} {:<10} {}",
                c.store_name, finding, c.object_key
            );
            if !c.error.is_empty() {
                let _ = writeln!(out, "           {}", c.error);
            }
        }
        out
    }
}

/// Verifies every copy of backup `id` and records what was found.
pub(crate) async fn verify_backup(
    catalog: &Catalog,
    id: Uuid,
    stores: &NamedStores,
    deep: Option<&DeepOptions>,
) -> anyhow::Result<BackupCheck> {
    let row = catalog
        .backup(id)
        .await?
        .ok_or(CatalogError::BackupNotFound { id })?;
    let copies: Vec<BackupCopy> = catalog
        .copies(id)
        .await?
        .into_iter()
        .filter(|c| c.status != CopyStatus::Deleted)
        .collect();
    if copies.is_empty() {
        anyhow::bail!(
            "backup {id} ({}) lists no stored copy to verify",
            row.status
        );
    }
    let only_local = catalog_copies::is_only_local(&copies);
    let mut checks = Vec::new();
    for copy in &copies {
        let (finding, error) = check_copy(copy, &row, stores, only_local, deep).await;
        record(catalog, copy, finding, &error).await?;
        if finding.is_integrity_failure() {
            catalog
                .raise_alert(&integrity_alert(&row, copy, finding, &error))
                .await?;
        }
        checks.push(CopyCheck {
            store_name: copy.store_name.clone(),
            object_key: copy.object_key.clone(),
            finding,
            error,
        });
    }
    let (update, unchanged) = backup_update(&checks);
    let row = match update {
        Some(update) => catalog.update_backup(id, &update).await?,
        None => row,
    };
    Ok(BackupCheck {
        row,
        copies: checks,
        unchanged,
    })
}

async fn check_copy(
    copy: &BackupCopy,
    row: &Backup,
    stores: &NamedStores,
    only_local: bool,
    deep: Option<&DeepOptions>,
) -> (Finding, String) {
    let located = catalog_copies::locate(copy, row, stores, only_local);
    if let Some(why) = located.missing {
        return (Finding::Unreadable, why);
    }
    let expected = catalog_copies::expected(copy);
    let mut last = None;
    for (store, key) in &located.candidates {
        // A candidate that does not hold the object is skipped when another one may.
        if located.candidates.len() > 1 && matches!(store.head(key).await, Ok(None)) {
            continue;
        }
        match verify_artifact(store.as_ref(), key, expected, deep).await {
            Ok(_) => return (Finding::Verified, String::new()),
            Err(err) => last = Some(err),
        }
    }
    let Some(err) = last else {
        return not_there(copy, format!("{} is not in its store", located.label));
    };
    let corrupt = err.is_corrupt();
    let gone = matches!(err, VerifyError::Store(StoreError::NotFound { .. }));
    let message = format!("{:#}", anyhow::Error::new(err));
    if corrupt {
        (Finding::Corrupt, message)
    } else if gone {
        not_there(copy, message)
    } else {
        (Finding::Unreadable, message)
    }
}

/// A copy that is not in its store: missing when the catalog had it stored, else never stored.
fn not_there(copy: &BackupCopy, message: String) -> (Finding, String) {
    match copy.status {
        CopyStatus::Pending | CopyStatus::Failed => (Finding::NotStored, message),
        _ => (Finding::Missing, message),
    }
}

async fn record(
    catalog: &Catalog,
    copy: &BackupCopy,
    finding: Finding,
    error: &str,
) -> Result<(), CatalogError> {
    let now = Utc::now();
    let status = match finding {
        Finding::Verified => CopyStatus::Verified,
        Finding::Corrupt => CopyStatus::Corrupt,
        Finding::Missing | Finding::NotStored => CopyStatus::Failed,
        Finding::Unreadable => copy.status,
    };
    let verified_at = match finding {
        Finding::Verified => Some(now),
        Finding::Unreadable => copy.verified_at,
        _ => None,
    };
    catalog
        .record_copy(&NewCopy {
            backup_id: copy.backup_id,
            store_name: copy.store_name.clone(),
            store_kind: copy.store_kind,
            object_key: copy.object_key.clone(),
            size: copy.size,
            sha256: copy.sha256.clone(),
            status,
            attempts: copy.attempts,
            error: error.to_owned(),
            at: now,
            verified_at,
            deleted_at: copy.deleted_at,
        })
        .await
        .map(|_| ())
}

fn integrity_alert(row: &Backup, copy: &BackupCopy, finding: Finding, error: &str) -> NewAlert {
    let what = match finding {
        Finding::Missing => "is missing",
        _ => "failed verification",
    };
    let mut details = JsonObject::new();
    details.insert("store".into(), Value::from(copy.store_name.clone()));
    details.insert("object_key".into(), Value::from(copy.object_key.clone()));
    details.insert("reason".into(), Value::from(error));
    details.insert("checked_by".into(), Value::from("celeriac verify"));
    NewAlert {
        alert_type: AlertType::IntegrityFailure,
        severity: Severity::Warning,
        backup_id: Some(row.id),
        message: format!(
            "the copy of backup {} in store {} ({}) {what}",
            row.id, copy.store_name, copy.object_key
        ),
        details,
        created_at: Utc::now(),
    }
}

/// The backup row's update, and whether its status is left unchanged.
fn backup_update(checks: &[CopyCheck]) -> (Option<BackupUpdate>, bool) {
    let now = Utc::now();
    if let Some(bad) = checks.iter().find(|c| c.finding.is_integrity_failure()) {
        let update = BackupUpdate {
            status: Some(BackupStatus::Completed),
            verified_at: Some(None),
            error_message: Some(format!(
                "copy in store {} ({}) failed verification: {}",
                bad.store_name, bad.object_key, bad.error
            )),
            ..BackupUpdate::default()
        };
        return (Some(update), false);
    }
    if checks.iter().any(|c| c.finding == Finding::Unreadable) {
        return (None, true);
    }
    let verified = checks
        .iter()
        .filter(|c| c.finding == Finding::Verified)
        .count();
    let status = if verified == checks.len() {
        BackupStatus::Verified
    } else if verified > 0 {
        BackupStatus::Partial
    } else {
        return (None, true);
    };
    let update = BackupUpdate {
        status: Some(status),
        verified_at: Some((status == BackupStatus::Verified).then_some(now)),
        error_message: (status == BackupStatus::Verified).then(String::new),
        ..BackupUpdate::default()
    };
    (Some(update), false)
}
