//! The dead man's switch: is the newest `VERIFIED` backup recent enough? When it is older than
//! the allowed age (or there is none) one `BACKUP_MISSING` alert (critical) is raised and stays open while the gap lasts;
//! the first check that finds a recent backup again resolves it, re-arming the switch.
//!
//! Run it from outside the worker too (`celeriac check` from cron or a health probe): a switch
//! that only the possibly-dead worker can pull is no switch.

use celeriac_catalog::{AlertFilter, AlertType, Catalog, CatalogError, NewAlert, Severity};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

/// What a check found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Freshness {
    /// The newest `VERIFIED` backup, if any.
    pub newest: Option<Uuid>,
    /// When it was made.
    pub newest_at: Option<DateTime<Utc>>,
    /// Its age in seconds at the check (`None` without one).
    pub age_seconds: Option<i64>,
    /// The allowed age in seconds.
    pub max_age_seconds: i64,
    /// Older than allowed, or none at all.
    pub stale: bool,
    /// This check raised the `BACKUP_MISSING` alert.
    pub raised: bool,
    /// Open `BACKUP_MISSING` alerts this check resolved.
    pub resolved: usize,
}

/// Checks the newest `VERIFIED` backup against `max_age` at `now`, raising or resolving the
/// `BACKUP_MISSING` alert.
///
/// # Errors
/// [`CatalogError`].
pub async fn check_freshness(
    catalog: &Catalog,
    max_age: Duration,
    now: DateTime<Utc>,
) -> Result<Freshness, CatalogError> {
    let newest = catalog.latest_verified().await?;
    let age = newest.as_ref().map(|b| now - b.created_at);
    let stale = age.is_none_or(|age| age > max_age);
    let open: Vec<_> = catalog
        .alerts(AlertFilter {
            backup_id: None,
            open_only: true,
        })
        .await?
        .into_iter()
        .filter(|a| a.alert_type == AlertType::BackupMissing)
        .collect();
    let mut report = Freshness {
        newest: newest.as_ref().map(|b| b.id),
        newest_at: newest.as_ref().map(|b| b.created_at),
        age_seconds: age.map(|a| a.num_seconds()),
        max_age_seconds: max_age.num_seconds(),
        stale,
        raised: false,
        resolved: 0,
    };
    if stale && open.is_empty() {
        let message = match &newest {
            Some(b) => format!(
                "no VERIFIED backup for {} hours (the newest, {}, is from {}); allowed: {} hours",
                age.map_or(0, |a| a.num_hours()),
                b.id,
                b.created_at.to_rfc3339(),
                max_age.num_hours()
            ),
            None => "no VERIFIED backup has ever been recorded".to_owned(),
        };
        let details = json!({
            "newest_backup_id": report.newest.map(|id| id.to_string()),
            "newest_at": report.newest_at.map(|t| t.to_rfc3339()),
            "max_age_hours": max_age.num_hours(),
        });
        catalog
            .raise_alert(&NewAlert {
                alert_type: AlertType::BackupMissing,
                severity: Severity::Critical,
                backup_id: None,
                message,
                details: details.as_object().cloned().unwrap_or_default(),
                created_at: now,
            })
            .await?;
        report.raised = true;
        tracing::error!(newest = ?report.newest, "dead man's switch: backups are missing");
    } else if !stale {
        for alert in &open {
            catalog.resolve_alert(alert.id, now).await?;
            report.resolved += 1;
        }
    }
    Ok(report)
}
