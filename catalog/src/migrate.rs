//! The catalog's schema migrations: `migrations/postgres/` and `migrations/sqlite/` at the
//! repository root, embedded at compile time, applied by [`Catalog::migrate`]
//! (`celeriac migrate`).

use std::collections::BTreeSet;

use sqlx::migrate::{Migrate, Migrator};

use crate::catalog::{Catalog, Pool};
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
    /// Applies every pending migration (under sqlx's migration lock, so concurrent callers
    /// are safe) and reports which ones this call applied.
    pub async fn migrate(&self) -> Result<MigrationReport, CatalogError> {
        match &self.pool {
            Pool::Postgres(pool) => {
                let before = applied_versions(pool).await?;
                POSTGRES_MIGRATOR
                    .run(pool)
                    .await
                    .map_err(CatalogError::Migrate)?;
                Ok(report(&POSTGRES_MIGRATOR, &before))
            }
            Pool::Sqlite(pool) => {
                let before = applied_versions(pool).await?;
                SQLITE_MIGRATOR
                    .run(pool)
                    .await
                    .map_err(CatalogError::Migrate)?;
                Ok(report(&SQLITE_MIGRATOR, &before))
            }
        }
    }
}

async fn applied_versions<DB>(pool: &sqlx::Pool<DB>) -> Result<BTreeSet<i64>, CatalogError>
where
    DB: sqlx::Database,
    DB::Connection: Migrate,
{
    let mut conn = pool.acquire().await.map_err(|source| CatalogError::Query {
        operation: "read applied migrations",
        source,
    })?;
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
