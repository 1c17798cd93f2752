//! The catalog's schema migrations: `migrations/postgres/` and `migrations/sqlite/` at the
//! repository root, embedded at compile time, applied by [`Catalog::migrate`]
//! (`celeriac migrate`).

use std::collections::BTreeSet;

use sqlx::Connection;
use sqlx::migrate::{Migrate, Migrator};

use crate::catalog::{Catalog, Pool, dispatch};
use crate::error::CatalogError;

/// The PostgreSQL migrations (`migrations/postgres/`).
pub static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");
/// The SQLite migrations (`migrations/sqlite/`).
pub static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");

/// sqlx's bookkeeping table (its default name).
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// One migration, by version and description (the file name after the version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationInfo {
    /// The version (the file name's leading number).
    pub version: i64,
    /// The description (the rest of the file name, `_` as spaces).
    pub description: String,
}

/// What [`Catalog::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Migrations applied by this call, oldest first.
    pub applied: Vec<MigrationInfo>,
    /// Migrations that were already in place before this call.
    pub already_applied: Vec<MigrationInfo>,
}

impl Catalog {
    /// Applies every pending migration and reports which ones this call applied. Safe when
    /// several processes migrate at once: the whole check-and-apply runs under sqlx's
    /// advisory lock on PostgreSQL, inside one `BEGIN IMMEDIATE` transaction on SQLite.
    pub async fn migrate(&self) -> Result<MigrationReport, CatalogError> {
        match &self.pool {
            Pool::Postgres(pool) => {
                let mut conn = pool.acquire().await.map_err(acquire_error)?;
                conn.lock().await.map_err(CatalogError::Migrate)?;
                // The migrator takes the same session lock again (advisory locks nest) and
                // releases its own hold; ours is released below whatever happened.
                let result = async {
                    let before = applied_versions(&mut *conn).await?;
                    POSTGRES_MIGRATOR
                        .run(&mut *conn)
                        .await
                        .map_err(CatalogError::Migrate)?;
                    Ok(report(&POSTGRES_MIGRATOR, &before))
                }
                .await;
                let unlocked = conn.unlock().await.map_err(CatalogError::Migrate);
                let report = result?;
                unlocked?;
                Ok(report)
            }
            Pool::Sqlite(pool) => {
                // SQLite has no advisory lock: one IMMEDIATE transaction takes the database's
                // write lock first, so the check and the migrations (savepoints inside it)
                // are one step that other migrators wait for (busy timeout).
                let mut conn = pool.acquire().await.map_err(acquire_error)?;
                let mut tx = conn
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(acquire_error)?;
                let before = applied_versions(&mut *tx).await?;
                SQLITE_MIGRATOR
                    .run(&mut *tx)
                    .await
                    .map_err(CatalogError::Migrate)?;
                tx.commit().await.map_err(acquire_error)?;
                Ok(report(&SQLITE_MIGRATOR, &before))
            }
        }
    }
}

impl Catalog {
    /// The migrations not applied yet, oldest first, without changing anything (no
    /// bookkeeping table is created): empty when the schema is current, every migration when
    /// the database was never migrated. For commands that must not migrate a database they
    /// were pointed at, and tell the operator to run `celeriac migrate` instead.
    pub async fn pending_migrations(&self) -> Result<Vec<MigrationInfo>, CatalogError> {
        let migrator = match &self.pool {
            Pool::Postgres(_) => &POSTGRES_MIGRATOR,
            Pool::Sqlite(_) => &SQLITE_MIGRATOR,
        };
        let rows: Result<Vec<i64>, sqlx::Error> = dispatch!(self, |pool, C| {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(pool)
                .await
        });
        let applied: BTreeSet<i64> = match rows {
            Ok(rows) => rows.into_iter().collect(),
            Err(sqlx::Error::Database(db))
                if is_missing_table(db.code().as_deref(), db.message()) =>
            {
                BTreeSet::new()
            }
            Err(e) => return Err(CatalogError::query("check migrations", e)),
        };
        Ok(report(migrator, &applied).applied)
    }
}

/// PostgreSQL's `undefined_table` (42P01); SQLite says `no such table` (code 1, generic).
fn is_missing_table(code: Option<&str>, message: &str) -> bool {
    code == Some("42P01") || message.starts_with("no such table")
}

fn acquire_error(source: sqlx::Error) -> CatalogError {
    CatalogError::Query {
        operation: "migrate",
        source,
    }
}

async fn applied_versions<C>(conn: &mut C) -> Result<BTreeSet<i64>, CatalogError>
where
    C: Migrate + ?Sized,
{
    conn.ensure_migrations_table(MIGRATIONS_TABLE)
        .await
        .map_err(CatalogError::Migrate)?;
    let applied = conn
        .list_applied_migrations(MIGRATIONS_TABLE)
        .await
        .map_err(CatalogError::Migrate)?;
    Ok(applied.into_iter().map(|m| m.version).collect())
}

fn report(migrator: &Migrator, before: &BTreeSet<i64>) -> MigrationReport {
    let mut out = MigrationReport {
        applied: Vec::new(),
        already_applied: Vec::new(),
    };
    for m in migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
    {
        let info = MigrationInfo {
            version: m.version,
            description: m.description.to_string(),
        };
        if before.contains(&m.version) {
            out.already_applied.push(info);
        } else {
            out.applied.push(info);
        }
    }
    out
}
