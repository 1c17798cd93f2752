//! How values travel to and from each backend. PostgreSQL has native `uuid`, `timestamptz` and
//! `jsonb`; on SQLite the catalog stores what Django's SQLite backend stores (32 hex digits,
//! `YYYY-MM-DD HH:MM:SS.ffffff` UTC text, JSON text), so the same Django models read both.
//!
//! Binding goes through `PgCodec` / `SqliteCodec` (picked per backend by `dispatch!` in
//! `catalog.rs`); reading goes through [`Fields`], implemented for both row types, so the row
//! decoders in `backups.rs`, `copies.rs` and `alerts.rs` are written once.

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::enums::UnknownValue;
use crate::error::CatalogError;

/// A JSON object, as stored in `metadata` and `details`.
pub type JsonObject = Map<String, Value>;

/// Drops sub-microsecond digits: PostgreSQL keeps microseconds, so both backends store exactly
/// the same instant.
pub(crate) fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = t.nanosecond();
    t.with_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}

const SQLITE_TIME: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// Binding for PostgreSQL: native types.
pub(crate) struct PgCodec;

impl PgCodec {
    pub(crate) fn id(id: Uuid) -> Uuid {
        id
    }
    pub(crate) fn opt_id(id: Option<Uuid>) -> Option<Uuid> {
        id
    }
    pub(crate) fn time(t: DateTime<Utc>) -> DateTime<Utc> {
        to_micros(t)
    }
    pub(crate) fn opt_time(t: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        t.map(to_micros)
    }
    pub(crate) fn json(v: &JsonObject) -> Json<JsonObject> {
        Json(v.clone())
    }
    pub(crate) fn opt_json(v: Option<&JsonObject>) -> Option<Json<JsonObject>> {
        v.map(Self::json)
    }
}

/// Binding for SQLite: Django's text encodings.
pub(crate) struct SqliteCodec;

impl SqliteCodec {
    pub(crate) fn id(id: Uuid) -> String {
        id.simple().to_string()
    }
    pub(crate) fn opt_id(id: Option<Uuid>) -> Option<String> {
        id.map(Self::id)
    }
    pub(crate) fn time(t: DateTime<Utc>) -> String {
        to_micros(t).format(SQLITE_TIME).to_string()
    }
    pub(crate) fn opt_time(t: Option<DateTime<Utc>>) -> Option<String> {
        t.map(Self::time)
    }
    pub(crate) fn json(v: &JsonObject) -> String {
        Value::Object(v.clone()).to_string()
    }
    pub(crate) fn opt_json(v: Option<&JsonObject>) -> Option<String> {
        v.map(Self::json)
    }
}

/// Reading typed values from a row of either backend. Every getter names its table and column
/// so a bad value is reported where it lives.
pub(crate) trait Fields {
    fn text(&self, table: &'static str, column: &'static str) -> Result<String, CatalogError>;
    fn opt_text(
        &self,
        table: &'static str,
        column: &'static str,
    ) -> Result<Option<String>, CatalogError>;
    fn int(&self, table: &'static str, column: &'static str) -> Result<i64, CatalogError>;
    fn opt_int(
        &self,
        table: &'static str,
        column: &'static str,
    ) -> Result<Option<i64>, CatalogError>;
    fn uuid(&self, table: &'static str, column: &'static str) -> Result<Uuid, CatalogError>;
    fn opt_uuid(
        &self,
        table: &'static str,
        column: &'static str,
    ) -> Result<Option<Uuid>, CatalogError>;
    fn time(
        &self,
        table: &'static str,
        column: &'static str,
    ) -> Result<DateTime<Utc>, CatalogError>;
    fn opt_time(
        &self,
        table: &'static str,
        column: &'static str,
    ) -> Result<Option<DateTime<Utc>>, CatalogError>;
    fn json(&self, table: &'static str, column: &'static str) -> Result<JsonObject, CatalogError>;

    /// A text column holding one of a text enum's values.
    fn enumeration<T>(&self, table: &'static str, column: &'static str) -> Result<T, CatalogError>
    where
        T: FromStr<Err = UnknownValue>,
    {
        let text = self.text(table, column)?;
        text.parse::<T>()
            .map_err(|e| CatalogError::invalid(table, column, &text, e.kind))
    }

    /// A non-negative integer column (sizes, counts).
    fn unsigned(&self, table: &'static str, column: &'static str) -> Result<u64, CatalogError> {
        let n = self.int(table, column)?;
        u64::try_from(n).map_err(|_| CatalogError::invalid(table, column, &n.to_string(), "u64"))
    }
}

fn read_error(source: sqlx::Error) -> CatalogError {
    CatalogError::Query {
        operation: "read a catalog row",
        source,
    }
}

fn object(
    table: &'static str,
    column: &'static str,
    value: Value,
) -> Result<JsonObject, CatalogError> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(CatalogError::invalid(
            table,
            column,
            &other.to_string(),
            "JSON object",
        )),
    }
}

/// Getters whose Rust type is the same on both backends.
macro_rules! common_fields {
    () => {
        fn text(&self, _: &'static str, column: &'static str) -> Result<String, CatalogError> {
            self.try_get(column).map_err(read_error)
        }
        fn opt_text(
            &self,
            _: &'static str,
            column: &'static str,
        ) -> Result<Option<String>, CatalogError> {
            self.try_get(column).map_err(read_error)
        }
        fn int(&self, _: &'static str, column: &'static str) -> Result<i64, CatalogError> {
            self.try_get(column).map_err(read_error)
        }
        fn opt_int(
            &self,
            _: &'static str,
            column: &'static str,
        ) -> Result<Option<i64>, CatalogError> {
            self.try_get(column).map_err(read_error)
        }
    };
}

impl Fields for PgRow {
    common_fields!();

    fn uuid(&self, _: &'static str, column: &'static str) -> Result<Uuid, CatalogError> {
        self.try_get(column).map_err(read_error)
    }
    fn opt_uuid(
        &self,
        _: &'static str,
        column: &'static str,
    ) -> Result<Option<Uuid>, CatalogError> {
        self.try_get(column).map_err(read_error)
    }
    fn time(&self, _: &'static str, column: &'static str) -> Result<DateTime<Utc>, CatalogError> {
        self.try_get(column).map_err(read_error)
    }
    fn opt_time(
        &self,
        _: &'static str,
        column: &'static str,
    ) -> Result<Option<DateTime<Utc>>, CatalogError> {
        self.try_get(column).map_err(read_error)
    }
    fn json(&self, table: &'static str, column: &'static str) -> Result<JsonObject, CatalogError> {
        let Json(value): Json<Value> = self.try_get(column).map_err(read_error)?;
        object(table, column, value)
    }
}

fn parse_uuid(table: &'static str, column: &'static str, text: &str) -> Result<Uuid, CatalogError> {
    Uuid::try_parse(text).map_err(|_| CatalogError::invalid(table, column, text, "uuid"))
}

fn parse_time(
    table: &'static str,
    column: &'static str,
    text: &str,
) -> Result<DateTime<Utc>, CatalogError> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .map(|t| t.and_utc())
        .or_else(|_| DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)))
        .map_err(|_| CatalogError::invalid(table, column, text, "UTC timestamp"))
}

impl Fields for SqliteRow {
    common_fields!();

    fn uuid(&self, table: &'static str, column: &'static str) -> Result<Uuid, CatalogError> {
        parse_uuid(table, column, &self.text(table, column)?)
    }
    fn opt_uuid(
        &self,
        table: &'static str,
        column: &'static str,
    ) -> Result<Option<Uuid>, CatalogError> {
        self.opt_text(table, column)?
            .map(|t| parse_uuid(table, column, &t))
            .transpose()
    }
    fn time(
        &self,
        table: &'static str,
        column: &'static str,
    ) -> Result<DateTime<Utc>, CatalogError> {
        parse_time(table, column, &self.text(table, column)?)
    }
    fn opt_time(
        &self,
        table: &'static str,
        column: &'static str,
    ) -> Result<Option<DateTime<Utc>>, CatalogError> {
        self.opt_text(table, column)?
            .map(|t| parse_time(table, column, &t))
            .transpose()
    }
    fn json(&self, table: &'static str, column: &'static str) -> Result<JsonObject, CatalogError> {
        let text = self.text(table, column)?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|_| CatalogError::invalid(table, column, &text, "JSON object"))?;
        object(table, column, value)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn sqlite_times_are_djangos_format_and_sort_as_text() {
        let t = Utc
            .with_ymd_and_hms(2026, 12, 3, 2, 0, 7)
            .single()
            .expect("valid")
            .with_nanosecond(123_456_789)
            .expect("valid");
        assert_eq!(SqliteCodec::time(t), "2026-12-03 02:00:07.123456");
        let whole = t.with_nanosecond(0).expect("valid");
        assert_eq!(SqliteCodec::time(whole), "2026-12-03 02:00:07.000000");
        assert!(SqliteCodec::time(whole) < SqliteCodec::time(t));
        assert_eq!(
            parse_time("t", "c", "2026-12-03 02:00:07.123456").expect("parses"),
            to_micros(t)
        );
        assert_eq!(
            parse_time("t", "c", "2026-12-03T02:00:07Z").expect("rfc3339 parses"),
            whole
        );
        assert!(matches!(
            parse_time("t", "c", "yesterday"),
            Err(CatalogError::InvalidValue { column: "c", .. })
        ));
    }

    #[test]
    fn sqlite_ids_are_djangos_32_hex_digits() {
        let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let text = SqliteCodec::id(id);
        assert_eq!(text, "0123456789abcdef0123456789abcdef");
        assert_eq!(parse_uuid("t", "id", &text).expect("parses"), id);
    }
}
