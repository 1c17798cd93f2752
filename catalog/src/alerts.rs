//! `backups_backupalert`: what someone must look at (a failed run, a corrupt copy, a denied
//! manual run, a missing backup), raised by the worker and resolved by people.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalog::{Catalog, dispatch};
use crate::codec::{Fields, JsonObject};
use crate::enums::{AlertType, Severity};
use crate::error::CatalogError;

const TABLE: &str = "backups_backupalert";

macro_rules! alert_columns {
    () => {
        "id, alert_type, severity, backup_id, message, details, created_at, resolved_at"
    };
}

/// An alert to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// What it is about.
    pub alert_type: AlertType,
    /// How urgent.
    pub severity: Severity,
    /// The backup concerned, if any (an `ACCESS_DENIED` alert has none).
    pub backup_id: Option<Uuid>,
    /// One line for people.
    pub message: String,
    /// Structured facts (stores, user id, reason, ...); never secrets.
    pub details: JsonObject,
    /// When it was raised.
    pub created_at: DateTime<Utc>,
}

/// An alert row as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Row id.
    pub id: i64,
    /// What it is about.
    pub alert_type: AlertType,
    /// How urgent.
    pub severity: Severity,
    /// The backup concerned, if any.
    pub backup_id: Option<Uuid>,
    /// One line for people.
    pub message: String,
    /// Structured facts.
    pub details: JsonObject,
    /// When it was raised.
    pub created_at: DateTime<Utc>,
    /// When someone resolved it.
    pub resolved_at: Option<DateTime<Utc>>,
}

impl Alert {
    pub(crate) fn from_fields<R: Fields>(row: &R) -> Result<Alert, CatalogError> {
        Ok(Alert {
            id: row.int(TABLE, "id")?,
            alert_type: row.enumeration(TABLE, "alert_type")?,
            severity: row.enumeration(TABLE, "severity")?,
            backup_id: row.opt_uuid(TABLE, "backup_id")?,
            message: row.text(TABLE, "message")?,
            details: row.json(TABLE, "details")?,
            created_at: row.time(TABLE, "created_at")?,
            resolved_at: row.opt_time(TABLE, "resolved_at")?,
        })
    }
}

/// Which alerts [`Catalog::alerts`] returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Only those about this backup.
    pub backup_id: Option<Uuid>,
    /// Only unresolved ones.
    pub open_only: bool,
}

impl Catalog {
    /// Raises an alert and returns it as stored.
    pub async fn raise_alert(&self, alert: &NewAlert) -> Result<Alert, CatalogError> {
        dispatch!(self, |pool, C| {
            let row = sqlx::query(concat!(
                "INSERT INTO backups_backupalert (alert_type, severity, backup_id, message, \
                 details, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
                alert_columns!()
            ))
            .bind(alert.alert_type.as_str())
            .bind(alert.severity.as_str())
            .bind(C::opt_id(alert.backup_id))
            .bind(&alert.message)
            .bind(C::json(&alert.details))
            .bind(C::time(alert.created_at))
            .fetch_one(pool)
            .await
            .map_err(|e| CatalogError::query("raise alert", e))?;
            Alert::from_fields(&row)
        })
    }

    /// Marks alert `id` resolved at `at` (an already resolved alert keeps its first time) and
    /// returns it.
    pub async fn resolve_alert(&self, id: i64, at: DateTime<Utc>) -> Result<Alert, CatalogError> {
        let row = dispatch!(self, |pool, C| {
            sqlx::query(concat!(
                "UPDATE backups_backupalert SET resolved_at = COALESCE(resolved_at, $2) \
                 WHERE id = $1 RETURNING ",
                alert_columns!()
            ))
            .bind(id)
            .bind(C::time(at))
            .fetch_optional(pool)
            .await
            .map_err(|e| CatalogError::query("resolve alert", e))?
            .map(|row| Alert::from_fields(&row))
            .transpose()?
        });
        row.ok_or(CatalogError::AlertNotFound { id })
    }

    /// Alerts matching `filter`, newest first.
    pub async fn alerts(&self, filter: AlertFilter) -> Result<Vec<Alert>, CatalogError> {
        dispatch!(self, |pool, C| {
            sqlx::query(concat!(
                "SELECT ",
                alert_columns!(),
                " FROM backups_backupalert \
                 WHERE ($1 IS NULL OR backup_id = $1) AND (NOT $2 OR resolved_at IS NULL) \
                 ORDER BY created_at DESC, id DESC"
            ))
            .bind(C::opt_id(filter.backup_id))
            .bind(filter.open_only)
            .fetch_all(pool)
            .await
            .map_err(|e| CatalogError::query("list alerts", e))?
            .iter()
            .map(Alert::from_fields)
            .collect()
        })
    }
}
