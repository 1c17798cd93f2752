//! `celeriac show ID`: one backup of the catalog: its row, its copies per store (status,
//! verified_at), the platform's `files_collected` and `file_categories`, and the open alerts
//! about it; `--json` for scripts. An unknown id exits 1; a malformed one is a usage error (64).

use std::fmt::Write as _;

use celeriac_backup::BackupId;
use celeriac_catalog::{Alert, AlertFilter, Backup, BackupCopy, CatalogError};
use clap::Args;
use serde_json::{Value, json};

use crate::cmd::database::CatalogArgs;
use crate::cmd::list::{files_collected, human_size, json_time, summary_json, text_time};
use crate::cmd::{runtime, status, stdout};

/// Flags of `celeriac show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The backup's id (a UUID, as `celeriac list` prints it)
    #[arg(value_name = "ID")]
    id: BackupId,
    #[command(flatten)]
    catalog: CatalogArgs,
    /// Print the backup as one JSON object
    #[arg(long)]
    json: bool,
}

/// A backup with its copies and open alerts, as read from the catalog.
pub(crate) struct Detail {
    pub(crate) row: Backup,
    pub(crate) copies: Vec<BackupCopy>,
    pub(crate) alerts: Vec<Alert>,
}

/// Reads backup `id` with its copies and open alerts; an unknown id is
/// [`CatalogError::BackupNotFound`].
pub(crate) async fn detail(
    catalog: &celeriac_catalog::Catalog,
    id: uuid::Uuid,
) -> Result<Detail, CatalogError> {
    let row = catalog
        .backup(id)
        .await?
        .ok_or(CatalogError::BackupNotFound { id })?;
    let copies = catalog.copies(id).await?;
    let alerts = catalog
        .alerts(AlertFilter {
            backup_id: Some(id),
            open_only: true,
        })
        .await?;
    Ok(Detail {
        row,
        copies,
        alerts,
    })
}

/// Shows the backup.
pub(crate) fn run(args: &ShowArgs) -> anyhow::Result<u8> {
    let id = *args.id.as_uuid();
    let detail = runtime::block_on(async {
        let catalog = args.catalog.open().await?;
        let detail = detail(&catalog, id).await;
        catalog.close().await;
        anyhow::Ok(detail?)
    })??;
    if args.json {
        stdout::write(&format!("{:#}\n", detail_json(&detail)))?;
    } else {
        stdout::write(&text(&detail))?;
    }
    Ok(status::OK)
}

fn opt_time(at: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    at.map_or(Value::Null, |t| Value::String(json_time(t)))
}

/// The platform's `file_categories` (an empty object when the run did not get that far).
fn file_categories(row: &Backup) -> Value {
    row.metadata
        .get("file_categories")
        .filter(|v| v.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}))
}

fn detail_json(d: &Detail) -> Value {
    let row = &d.row;
    let mut out = summary_json(row);
    if let Value::Object(map) = &mut out {
        let more = json!({
            "backup_type": row.backup_type.as_str(),
            "checksum": row.checksum,
            "key_id": row.key_id,
            "local_path": row.local_path,
            "r2_path": row.r2_path,
            "b2_path": row.b2_path,
            "celery_task_id": row.celery_task_id,
            "initiated_by_id": row.initiated_by_id,
            "error_message": row.error_message,
            "started_at": opt_time(row.started_at),
            "completed_at": opt_time(row.completed_at),
            "verified_at": opt_time(row.verified_at),
            "file_categories": file_categories(row),
            "copies": d.copies.iter().map(copy_json).collect::<Vec<_>>(),
            "open_alerts": d.alerts.iter().map(alert_json).collect::<Vec<_>>(),
        });
        if let Value::Object(more) = more {
            map.extend(more);
        }
    }
    out
}

fn copy_json(c: &BackupCopy) -> Value {
    json!({
        "store_name": c.store_name,
        "store_kind": c.store_kind.as_str(),
        "object_key": c.object_key,
        "size": c.size,
        "sha256": c.sha256,
        "status": c.status.as_str(),
        "attempts": c.attempts,
        "error": c.error,
        "updated_at": json_time(c.updated_at),
        "verified_at": opt_time(c.verified_at),
    })
}

fn alert_json(a: &Alert) -> Value {
    json!({
        "id": a.id,
        "alert_type": a.alert_type.as_str(),
        "severity": a.severity.as_str(),
        "message": a.message,
        "created_at": json_time(a.created_at),
    })
}

fn text(d: &Detail) -> String {
    let row = &d.row;
    let mut out = format!("backup {}  {}\n", row.id, row.status);
    let _ = writeln!(out, "  file       {}", row.filename);
    let _ = writeln!(
        out,
        "  created    {} UTC, trigger {}",
        text_time(row.created_at),
        row.trigger
    );
    for (label, at) in [
        ("completed", row.completed_at),
        ("verified", row.verified_at),
    ] {
        if let Some(at) = at {
            let _ = writeln!(out, "  {label:<10} {} UTC", text_time(at));
        }
    }
    if row.file_size > 0 {
        let _ = writeln!(
            out,
            "  size       {} ({} bytes), sha256 {}, key {}",
            human_size(row.file_size),
            row.file_size,
            row.checksum,
            row.key_id
        );
    }
    if let Some(files) = files_collected(row) {
        let categories: Vec<String> = file_categories(row)
            .as_object()
            .map(|m| m.iter().map(|(k, v)| format!("{k} {v}")).collect())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  files      {files} collected ({})",
            categories.join(", ")
        );
    }
    if !row.error_message.is_empty() {
        let _ = writeln!(out, "  error      {}", row.error_message);
    }
    if d.copies.is_empty() {
        out.push_str("copies: none\n");
    } else {
        out.push_str("copies:\n");
    }
    for c in &d.copies {
        let when = c.verified_at.map_or_else(
            || "never verified".to_owned(),
            |t| format!("verified {} UTC", text_time(t)),
        );
        let _ = writeln!(
            out,
            "  {:<8} {:<5} {:<8} {when}  {}",
            c.store_name, c.store_kind, c.status, c.object_key
        );
        if !c.error.is_empty() {
            let _ = writeln!(out, "           error: {}", c.error);
        }
    }
    if !d.alerts.is_empty() {
        out.push_str("open alerts:\n");
        for a in &d.alerts {
            let _ = writeln!(
                out,
                "  {} {} {} UTC: {}",
                a.severity,
                a.alert_type,
                text_time(a.created_at),
                a.message
            );
        }
    }
    out
}
