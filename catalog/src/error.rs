//! [`CatalogError`]: what can go wrong talking to the catalog, with the data to tell cases apart.

use uuid::Uuid;

/// An error from the catalog. Display is one lowercase line without its cause; print the chain
/// (`{:#}` with anyhow) at the edge. No variant carries a password: URLs are redacted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The URL names neither PostgreSQL nor SQLite.
    #[error("unsupported catalog URL {url:?}: expected postgres://, postgresql:// or sqlite://")]
    UnsupportedUrl {
        /// The URL, password redacted.
        url: String,
    },
    /// The URL has a known scheme but does not parse.
    #[error("invalid catalog URL {url:?}")]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// What sqlx found wrong with it.
        #[source]
        source: sqlx::Error,
    },
    /// The database cannot be reached or refused the login.
    #[error("cannot connect to the catalog at {url}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// The connection error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying the migrations failed.
    #[error("cannot migrate the catalog")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A query failed for another reason than the ones below.
    #[error("catalog query failed: {operation}")]
    Query {
        /// What was being done (`insert backup`, `list backups`, ...).
        operation: &'static str,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
    /// The database refused a row by one of its constraints (CHECK, UNIQUE, foreign key).
    #[error("the catalog refused the row: constraint {constraint} ({operation})")]
    Constraint {
        /// What was being done.
        operation: &'static str,
        /// The constraint's name, as in `migrations/`.
        constraint: String,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
    /// Another backup already carries this Celery task id.
    #[error("celery task id {task_id:?} already belongs to another backup")]
    TaskIdTaken {
        /// The task id.
        task_id: String,
    },
    /// No backup with this id.
    #[error("backup {id} is not in the catalog")]
    BackupNotFound {
        /// The backup id.
        id: Uuid,
    },
    /// No alert with this id.
    #[error("alert {id} is not in the catalog")]
    AlertNotFound {
        /// The alert id.
        id: i64,
    },
    /// The configured administrator query is not usable.
    #[error("invalid administrator query: {why}")]
    InvalidAdminQuery {
        /// What is wrong with it.
        why: &'static str,
    },
    /// A lock file beside a SQLite catalog (the backup lock, beat's leader lock) cannot be
    /// used.
    #[error("cannot use the lock file {path}")]
    LockFile {
        /// The lock file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A held lock's PostgreSQL session failed or did not answer in time: the lock is (or will
    /// be, once the server notices) someone else's, so its holder must stop acting on it.
    #[error("the {lock} lock is lost: its database session does not answer")]
    LockLost {
        /// Which lock (`backup`, `beat leader`).
        lock: &'static str,
        /// The query error; `None` when the check timed out.
        #[source]
        source: Option<sqlx::Error>,
    },
    /// A stored value cannot be read as its Rust type (an unknown enum text, a malformed UUID,
    /// timestamp or JSON document, a negative size).
    #[error("{table}.{column} holds {value:?}, which is not a valid {expected}")]
    InvalidValue {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The text found (cut to 100 characters).
        value: String,
        /// What was expected there (`BackupStatus`, `uuid`, ...).
        expected: &'static str,
    },
}

impl CatalogError {
    /// Whether trying again later may succeed: lost connections, pool timeouts, serialization
    /// failures and a busy SQLite database are transient; everything else is permanent.
    pub fn is_transient(&self) -> bool {
        match self {
            CatalogError::Connect { source, .. } | CatalogError::Query { source, .. } => {
                is_transient_sqlx(source)
            }
            _ => false,
        }
    }

    /// Maps a query error: constraint violations become [`CatalogError::Constraint`].
    pub(crate) fn query(operation: &'static str, source: sqlx::Error) -> CatalogError {
        let constraint = source
            .as_database_error()
            .filter(|db| {
                matches!(
                    db.kind(),
                    sqlx::error::ErrorKind::CheckViolation
                        | sqlx::error::ErrorKind::UniqueViolation
                        | sqlx::error::ErrorKind::ForeignKeyViolation
                        | sqlx::error::ErrorKind::NotNullViolation
                )
            })
            .map(|db| {
                db.constraint()
                    .map_or_else(|| constraint_from_message(db.message()), str::to_owned)
            });
        match constraint {
            Some(constraint) => CatalogError::Constraint {
                operation,
                constraint,
                source,
            },
            None => CatalogError::Query { operation, source },
        }
    }

    pub(crate) fn invalid(
        table: &'static str,
        column: &'static str,
        value: &str,
        expected: &'static str,
    ) -> CatalogError {
        CatalogError::InvalidValue {
            table,
            column,
            value: value.chars().take(100).collect(),
            expected,
        }
    }
}

/// SQLite names no constraint in its error object; its message does:
/// `CHECK constraint failed: backups_backup_status_check`, `UNIQUE constraint failed: t.col`.
fn constraint_from_message(message: &str) -> String {
    message
        .split_once("constraint failed: ")
        .map_or(message, |(_, name)| name)
        .trim()
        .to_owned()
}

fn is_transient_sqlx(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            // 40001 serialization_failure, 40P01 deadlock_detected, 57P01 admin_shutdown,
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6).
            matches!(
                db.code().as_deref(),
                Some("40001" | "40P01" | "57P01" | "5" | "6")
            )
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_messages_name_the_constraint() {
        assert_eq!(
            constraint_from_message("CHECK constraint failed: backups_backup_status_check"),
            "backups_backup_status_check"
        );
        assert_eq!(
            constraint_from_message("UNIQUE constraint failed: backups_backup.celery_task_id"),
            "backups_backup.celery_task_id"
        );
    }

    #[test]
    fn pool_timeouts_are_transient_and_not_found_is_not() {
        let timeout = CatalogError::Query {
            operation: "get backup",
            source: sqlx::Error::PoolTimedOut,
        };
        assert!(timeout.is_transient());
        assert!(!CatalogError::BackupNotFound { id: Uuid::nil() }.is_transient());
        let row_not_found = CatalogError::Query {
            operation: "get backup",
            source: sqlx::Error::RowNotFound,
        };
        assert!(!row_not_found.is_transient());
    }
}
