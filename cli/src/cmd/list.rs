//! `celeriac list`: the backups of the catalog, newest first (id, created, status, size, files
//! collected, trigger); `--json` for scripts. The catalog is chosen as `cmd::database` says.

use std::fmt::Write as _;

use celeriac_catalog::{Backup, BackupStatus};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Args;
use serde_json::{Value, json};

use crate::cmd::database::CatalogArgs;
use crate::cmd::{runtime, status, stdout};

/// Flags of `celeriac list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only backups in this status (PENDING, IN_PROGRESS, COMPLETED, VERIFIED, PARTIAL, FAILED)
    #[arg(long, value_name = "STATUS")]
    status: Option<BackupStatus>,
    /// At most this many backups
    #[arg(long, value_name = "N", default_value_t = 20)]
    limit: u32,
    #[command(flatten)]
    catalog: CatalogArgs,
    /// Print the backups as a JSON array
    #[arg(long)]
    json: bool,
}

/// Lists the backups.
pub(crate) fn run(args: &ListArgs) -> anyhow::Result<u8> {
    let rows = runtime::block_on(async {
        let catalog = args.catalog.open().await?;
        let rows = catalog.list_backups(args.status, args.limit).await;
        catalog.close().await;
        anyhow::Ok(rows?)
    })??;
    if args.json {
        let items: Vec<Value> = rows.iter().map(summary_json).collect();
        stdout::write(&format!("{:#}\n", Value::Array(items)))?;
    } else {
        stdout::write(&table(&rows))?;
    }
    Ok(status::OK)
}

/// The platform's `files_collected`, when the run got that far.
pub(crate) fn files_collected(row: &Backup) -> Option<u64> {
    row.metadata.get("files_collected").and_then(Value::as_u64)
}

/// A time as JSON carries it: RFC 3339, UTC, microseconds.
pub(crate) fn json_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A time as people read it: `YYYY-MM-DD HH:MM:SS` UTC.
pub(crate) fn text_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// One backup as `list --json` prints it (and `show --json` starts from).
pub(crate) fn summary_json(row: &Backup) -> Value {
    json!({
        "id": row.id.to_string(),
        "created_at": json_time(row.created_at),
        "status": row.status.as_str(),
        "size": row.file_size,
        "files_collected": files_collected(row),
        "trigger": row.trigger.as_str(),
        "filename": row.filename,
    })
}

/// Bytes for people: `512 B`, `12.3 KiB`, `4.0 MiB`.
#[allow(
    clippy::cast_precision_loss,
    reason = "a display value; sizes far below 2^52 bytes"
)]
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

fn table(rows: &[Backup]) -> String {
    if rows.is_empty() {
        return "no backups in the catalog\n".to_owned();
    }
    let mut out = format!(
        "{:<36}  {:<19}  {:<11}  {:>10}  {:>5}  {}\n",
        "ID", "CREATED (UTC)", "STATUS", "SIZE", "FILES", "TRIGGER"
    );
    for row in rows {
        let files = files_collected(row).map_or_else(|| "-".to_owned(), |n| n.to_string());
        let _ = writeln!(
            out,
            "{:<36}  {:<19}  {:<11}  {:>10}  {:>5}  {}",
            row.id,
            text_time(row.created_at),
            row.status.as_str(),
            human_size(row.file_size),
            files,
            row.trigger.as_str()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(4 * 1024 * 1024), "4.0 MiB");
    }
}
