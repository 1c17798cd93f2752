//! [`Catalog`]: an open connection pool to the catalog database, PostgreSQL or SQLite.

use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::error::CatalogError;
use crate::url::CatalogUrl;

/// How long a query waits for a pooled connection (and SQLite for a lock) before failing with
/// a transient error.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` once per backend with `$pool` bound to the concrete pool and `$codec` to the
/// matching binding codec (`PgCodec` / `SqliteCodec`), so one query text serves both. The SQL
/// uses `$1, $2, …` placeholders, which both drivers accept.
macro_rules! dispatch {
    ($catalog:expr, |$pool:ident, $codec:ident| $body:expr) => {
        match &$catalog.pool {
            $crate::catalog::Pool::Postgres($pool) => {
                #[allow(unused_imports)]
                use $crate::codec::PgCodec as $codec;
                $body
            }
            $crate::catalog::Pool::Sqlite($pool) => {
                #[allow(unused_imports)]
                use $crate::codec::SqliteCodec as $codec;
                $body
            }
        }
    };
}
pub(crate) use dispatch;

/// The backup catalog: the `backups_backup`, `backups_backupcopy` and `backups_backupalert`
/// tables the platform's Django app reads. Cheap to clone (the pool is shared).
///
/// Operations live beside their table: `backups.rs`, `copies.rs`, `alerts.rs`; migrations in
/// `migrate.rs`.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub(crate) pool: Pool,
    url: CatalogUrl,
}

impl Catalog {
    /// Parses `url` and connects (see [`Catalog::connect`]).
    pub async fn open(url: &str) -> Result<Catalog, CatalogError> {
        Catalog::connect(&CatalogUrl::parse(url)?).await
    }

    /// Connects to the catalog at `url`. A SQLite file is created when missing and opened in
    /// WAL mode with foreign keys on. Nothing is migrated: call [`Catalog::migrate`].
    pub async fn connect(url: &CatalogUrl) -> Result<Catalog, CatalogError> {
        let connect_error = |source| CatalogError::Connect {
            url: url.to_string(),
            source,
        };
        // One direct attempt first: a pool retries until its timeout and then reports only
        // "timed out", hiding the cause (refused, unknown host, bad password).
        match url {
            CatalogUrl::Postgres(options) => PgConnection::connect_with(options)
                .await
                .map_err(connect_error)?
                .close()
                .await
                .map_err(connect_error)?,
            CatalogUrl::Sqlite(options) => SqliteConnection::connect_with(options)
                .await
                .map_err(connect_error)?
                .close()
                .await
                .map_err(connect_error)?,
        }
        let pool = match url {
            CatalogUrl::Postgres(options) => Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options.clone())
                    .await
                    .map_err(connect_error)?,
            ),
            CatalogUrl::Sqlite(options) => Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(
                        options
                            .clone()
                            .journal_mode(SqliteJournalMode::Wal)
                            .foreign_keys(true)
                            .busy_timeout(ACQUIRE_TIMEOUT),
                    )
                    .await
                    .map_err(connect_error)?,
            ),
        };
        Ok(Catalog {
            pool,
            url: url.clone(),
        })
    }

    /// Where the catalog lives (Display redacts the password).
    pub fn url(&self) -> &CatalogUrl {
        &self.url
    }

    /// Closes every pooled connection, waiting for the ones in use.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Postgres(pool) => pool.close().await,
            Pool::Sqlite(pool) => pool.close().await,
        }
    }
}
