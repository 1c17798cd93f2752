//! What a finished run means for the catalog: its final status, the row's fields, one copy row
//! per store and the alerts to raise. Pure: a report (or the run's error) in, rows out; the
//! recorder writes them. The statuses are the original system's:
//!
//! | run | status | alert |
//! |---|---|---|
//! | nothing collected, or no artifact made | `FAILED` | `BACKUP_FAILURE`, critical |
//! | no store holds a verified copy | `FAILED` | `BACKUP_FAILURE`, critical, naming the stores |
//! | a stored copy failed verification (size, SHA-256, decryption) | `COMPLETED` | `INTEGRITY_FAILURE`, warning |
//! | some stores, not all, hold verified copies (our addition) | `PARTIAL` | `BACKUP_FAILURE`, warning, naming the stores |
//! | a file holding secrets could not be read | `PARTIAL` | `BACKUP_FAILURE`, warning |
//! | every store holds verified copies | `VERIFIED` | none |

use std::collections::BTreeMap;
use std::path::PathBuf;

use celeriac_backup::BackupError;
use celeriac_backup::Bundle;
use celeriac_backup::{ArtifactReport, BackupReport, CopyErrorKind, CopyReport};
use celeriac_catalog::{
    AlertType, BackupMetadata, BackupStatus, BackupUpdate, CopyStatus, JsonObject, NewAlert,
    NewCopy, Severity, StoreKind,
};
use celeriac_error_chain::error_chain;
use celeriac_store::StoreId;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

/// Where each local store keeps its objects, to fill the row's `local_path` with a real path.
pub type LocalRoots = BTreeMap<StoreId, PathBuf>;

/// The catalog writes of one finished run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The final status.
    pub status: BackupStatus,
    /// The backup row's update (status, sizes, paths, metadata, times, error).
    pub update: BackupUpdate,
    /// One row per store.
    pub copies: Vec<NewCopy>,
    /// Alerts to raise.
    pub alerts: Vec<NewAlert>,
}

/// The outcome of a run that made no artifact (`error`): `FAILED`, a critical alert.
pub fn of_error(backup_id: Uuid, error: &BackupError, at: DateTime<Utc>) -> Outcome {
    let (message, reason) = match error {
        BackupError::NothingCollected { .. } => (
            format!("no configuration files found: {}", error_chain(error)),
            "nothing-collected",
        ),
        BackupError::Cancelled => ("the backup was cancelled".to_owned(), "cancelled"),
        _ => (
            format!("the backup failed: {}", error_chain(error)),
            "error",
        ),
    };
    failed_without_copies(
        backup_id,
        Severity::Critical,
        message,
        json!({ "reason": reason }),
        at,
    )
}

/// The outcome of a run that never started because another configuration backup held the
/// lock for longer than the run would wait: `FAILED`, a warning (nothing was stored).
pub fn of_busy(backup_id: Uuid, waited: std::time::Duration, at: DateTime<Utc>) -> Outcome {
    let message = format!(
        "another configuration backup was still running after waiting {}s; nothing was stored",
        waited.as_secs()
    );
    failed_without_copies(
        backup_id,
        Severity::Warning,
        message,
        json!({ "reason": "another-backup-running", "waited_seconds": waited.as_secs() }),
        at,
    )
}

/// `FAILED` with nothing stored and one `BACKUP_FAILURE` alert of `severity`.
fn failed_without_copies(
    backup_id: Uuid,
    severity: Severity,
    message: String,
    details: Value,
    at: DateTime<Utc>,
) -> Outcome {
    Outcome {
        status: BackupStatus::Failed,
        update: BackupUpdate {
            status: Some(BackupStatus::Failed),
            error_message: Some(message.clone()),
            // The platform reads these two keys on every row, failed ones too.
            metadata: Some(BackupMetadata::default().to_object()),
            completed_at: Some(Some(at)),
            verified_at: Some(None),
            ..BackupUpdate::default()
        },
        copies: Vec::new(),
        alerts: vec![alert(
            AlertType::BackupFailure,
            severity,
            backup_id,
            message,
            details,
            at,
        )],
    }
}

/// The outcome of a run that made its artifacts and tried every store.
pub fn of_report(
    backup_id: Uuid,
    report: &BackupReport,
    roots: &LocalRoots,
    at: DateTime<Utc>,
) -> Outcome {
    let main = report.artifact(Bundle::Main);
    let copies = copy_rows(backup_id, report, at);
    let (status, alerts) = judge(backup_id, report, &copies, at);
    let error_message = alerts
        .first()
        .map(|a| a.message.clone())
        .unwrap_or_default();
    let (r2_path, b2_path) = s3_paths(main);
    let update = BackupUpdate {
        status: Some(status),
        file_size: main.map(ArtifactReport::stored_bytes),
        checksum: main.map(|a| a.sha256.to_string()),
        key_id: main
            .and_then(|a| a.key_ids.first())
            .map(ToString::to_string),
        local_path: Some(local_path(main, roots)),
        r2_path: Some(r2_path),
        b2_path: Some(b2_path),
        metadata: Some(metadata(report).to_object()),
        error_message: Some(error_message),
        completed_at: Some(Some(at)),
        verified_at: Some((status == BackupStatus::Verified).then_some(at)),
        ..BackupUpdate::default()
    };
    Outcome {
        status,
        update,
        copies,
        alerts,
    }
}

/// The status of a run whose artifacts were made, and the alerts it raises.
fn judge(
    backup_id: Uuid,
    report: &BackupReport,
    copies: &[NewCopy],
    at: DateTime<Utc>,
) -> (BackupStatus, Vec<NewAlert>) {
    let corrupt: Vec<&NewCopy> = copies
        .iter()
        .filter(|c| c.status == CopyStatus::Corrupt)
        .collect();
    let failed: Vec<&NewCopy> = copies
        .iter()
        .filter(|c| matches!(c.status, CopyStatus::Failed | CopyStatus::Stored))
        .collect();
    let verified = copies
        .iter()
        .filter(|c| c.status == CopyStatus::Verified)
        .count();
    let missing_secrets = report.misses_secrets();

    let mut alerts = Vec::new();
    let names = |rows: &[&NewCopy]| {
        rows.iter()
            .map(|c| c.store_name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let store_details = |rows: &[&NewCopy]| {
        Value::Array(
            rows.iter()
                .map(|c| json!({"store": c.store_name, "key": c.object_key, "error": c.error}))
                .collect(),
        )
    };
    let status = if verified == 0 {
        let message = format!(
            "no store holds a verified copy (failed: {})",
            names(&failed)
        );
        alerts.push(alert(
            AlertType::BackupFailure,
            Severity::Critical,
            backup_id,
            message,
            json!({ "reason": "all-stores-failed", "stores": store_details(&failed) }),
            at,
        ));
        BackupStatus::Failed
    } else if !corrupt.is_empty() {
        alerts.push(alert(
            AlertType::IntegrityFailure,
            Severity::Warning,
            backup_id,
            format!("a stored copy failed verification in {}", names(&corrupt)),
            json!({ "stores": store_details(&corrupt) }),
            at,
        ));
        BackupStatus::Completed
    } else if !failed.is_empty() {
        alerts.push(alert(
            AlertType::BackupFailure,
            Severity::Warning,
            backup_id,
            format!(
                "{} of {} stores hold no verified copy: {}",
                failed.len(),
                copies.len(),
                names(&failed)
            ),
            json!({ "reason": "some-stores-failed", "stores": store_details(&failed) }),
            at,
        ));
        BackupStatus::Partial
    } else if missing_secrets {
        alerts.push(alert(
            AlertType::BackupFailure,
            Severity::Warning,
            backup_id,
            "a file holding secrets could not be read: the secrets bundle is incomplete".to_owned(),
            json!({ "reason": "missing-secret-file" }),
            at,
        ));
        BackupStatus::Partial
    } else {
        BackupStatus::Verified
    };
    (status, alerts)
}

/// One row per store: its main-archive copy's key, size and digest; its status the worst of
/// its artifacts' copies.
fn copy_rows(backup_id: Uuid, report: &BackupReport, at: DateTime<Utc>) -> Vec<NewCopy> {
    let Some(main) = report.artifact(Bundle::Main) else {
        return Vec::new();
    };
    main.copies
        .iter()
        .map(|copy| {
            let all: Vec<&CopyReport> = report
                .artifacts
                .iter()
                .filter_map(|a| a.copy(copy.store.as_str()))
                .collect();
            let status = all
                .iter()
                .map(|c| copy_status(c))
                .max_by_key(|s| severity(*s))
                .unwrap_or(CopyStatus::Failed);
            let error = all
                .iter()
                .find_map(|c| c.error.as_ref())
                .map(|e| e.message.clone())
                .unwrap_or_default();
            NewCopy {
                backup_id,
                store_name: copy.store.to_string(),
                store_kind: store_kind(copy.kind),
                object_key: copy.key.to_string(),
                size: main.stored_bytes(),
                sha256: main.sha256.to_string(),
                status,
                attempts: all.iter().map(|c| c.attempts).max().unwrap_or(0),
                error,
                at,
                verified_at: (status == CopyStatus::Verified).then_some(at),
                deleted_at: None,
            }
        })
        .collect()
}

/// A copy's status from its report.
fn copy_status(copy: &CopyReport) -> CopyStatus {
    if copy.is_verified() {
        return CopyStatus::Verified;
    }
    match copy.error.as_ref().map(|e| e.kind) {
        Some(
            CopyErrorKind::SizeMismatch | CopyErrorKind::ChecksumMismatch | CopyErrorKind::Corrupt,
        ) => CopyStatus::Corrupt,
        _ if copy.is_stored() => CopyStatus::Stored,
        _ => CopyStatus::Failed,
    }
}

/// Which of two copy states of one store is worse.
fn severity(status: CopyStatus) -> u8 {
    match status {
        CopyStatus::Verified => 0,
        CopyStatus::Pending => 1,
        CopyStatus::Stored => 2,
        CopyStatus::Deleted => 3,
        CopyStatus::Failed => 4,
        CopyStatus::Corrupt => 5,
    }
}

fn store_kind(kind: celeriac_store::StoreKind) -> StoreKind {
    match kind {
        celeriac_store::StoreKind::S3 => StoreKind::S3,
        // The memory store exists for tests; it keeps objects in the process like a local one.
        _ => StoreKind::Local,
    }
}

/// The first verified local copy's path on disk (its root joined with the key), else "".
fn local_path(main: Option<&ArtifactReport>, roots: &LocalRoots) -> String {
    main.into_iter()
        .flat_map(|a| &a.copies)
        .filter(|c| c.is_verified())
        .find_map(|c| roots.get(&c.store).map(|root| root.join(c.key.as_str())))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The platform's `r2_path` and `b2_path`: the keys of the stores named `r2` and `b2`; other S3
/// stores fill the columns left empty, in configuration order. Only verified copies count.
fn s3_paths(main: Option<&ArtifactReport>) -> (String, String) {
    let s3: Vec<&CopyReport> = main
        .into_iter()
        .flat_map(|a| &a.copies)
        .filter(|c| c.is_verified() && c.kind == celeriac_store::StoreKind::S3)
        .collect();
    let named = |name: &str| {
        s3.iter()
            .find(|c| c.store.as_str() == name)
            .map(|c| c.key.to_string())
    };
    let mut others = s3
        .iter()
        .filter(|c| !matches!(c.store.as_str(), "r2" | "b2"))
        .map(|c| c.key.to_string());
    let r2 = named("r2").or_else(|| others.next()).unwrap_or_default();
    let b2 = named("b2").or_else(|| others.next()).unwrap_or_default();
    (r2, b2)
}

/// `files_collected` and `file_categories` where the platform reads them, and the rest of the
/// report's facts beside them (no secret is in a report), as the report's JSON (its stable form)
/// has them.
fn metadata(report: &BackupReport) -> BackupMetadata {
    let json = to_value(report);
    let collection = &json["collection"];
    let mut other = JsonObject::new();
    let mut put = |key: &str, value: Value| {
        other.insert(key.to_owned(), value);
    };
    for key in [
        "bytes",
        "categories",
        "skipped",
        "left_out",
        "secrets_suspected",
        "file_list_sha256",
    ] {
        put(key, collection[key].clone());
    }
    put("timings", json["timings"].clone());
    put("stores", json["stores"].clone());
    if let Some(main) = report.artifact(Bundle::Main) {
        put("main", artifact_facts(main));
    }
    if let Some(secrets) = report.artifact(Bundle::Secrets) {
        put("secrets_bundle", artifact_facts(secrets));
    }
    BackupMetadata {
        files_collected: report.files_collected(),
        file_categories: report.file_categories().collect(),
        other,
    }
}

/// An artifact's name, sizes, digest, key ids and object keys per store.
fn artifact_facts(a: &ArtifactReport) -> Value {
    json!({
        "filename": a.file_name,
        "entries": a.entries,
        "sizes": to_value(a)["sizes"].clone(),
        "sha256": a.sha256.to_string(),
        "key_ids": a.key_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "keys": a.copies.iter().map(|c| (c.store.to_string(), Value::from(c.key.to_string()))).collect::<serde_json::Map<_, _>>(),
    })
}

fn to_value(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn alert(
    alert_type: AlertType,
    severity: Severity,
    backup_id: Uuid,
    message: String,
    details: Value,
    at: DateTime<Utc>,
) -> NewAlert {
    NewAlert {
        alert_type,
        severity,
        backup_id: Some(backup_id),
        message,
        details: match details {
            Value::Object(map) => map,
            _ => JsonObject::new(),
        },
        created_at: at,
    }
}
