//! PostgreSQL for tests: a fresh database per test, dropped when the test is done.
//!
//! The server comes from `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! the same variable `#[sqlx::test]` reads, so both styles work side by side: use
//! `#[sqlx::test(migrator = "…")]` for plain pool tests, and [`TestDatabase`] when a test needs
//! the database's URL (e.g. to hand it to a worker in another process) or several databases.

use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection};
use uuid::Uuid;

use crate::service::{env_or, redact_url, unavailable};

/// The server URL (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`); its
/// database is only used to create and drop the per-test ones.
///
/// # Panics
/// If the variable is set to invalid UTF-8.
pub fn database_url() -> String {
    env_or(
        "DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    )
}

/// A database named `celeriac_test_<uuid>` that exists for one test.
///
/// Dropping it drops the database (`DROP DATABASE … WITH (FORCE)`, which also ends open
/// connections) on a helper thread; [`TestDatabase::drop_database`] does the same explicitly.
///
/// ```no_run
/// # async fn demo() {
/// use celeriac_testkit::db::TestDatabase;
///
/// let db = TestDatabase::create().await;
/// sqlx::query("CREATE TABLE t (id int)").execute(db.pool()).await.unwrap();
/// // hand `db.url()` to a process under test; the database is dropped with `db`
/// # }
/// ```
pub struct TestDatabase {
    name: String,
    /// The server URL the database was created from (for dropping it).
    server_url: String,
    /// The test database's own URL.
    url: String,
    pool: PgPool,
    dropped: bool,
}

impl TestDatabase {
    /// Creates a fresh, empty database on the server at [`database_url`].
    ///
    /// # Panics
    /// If PostgreSQL cannot be reached (naming it and how to start it) or refuses to create it.
    pub async fn create() -> TestDatabase {
        TestDatabase::create_on(&database_url()).await
    }

    /// Creates a fresh database and runs `migrator` on it.
    ///
    /// # Panics
    /// As [`TestDatabase::create`], or if a migration fails.
    pub async fn create_migrated(migrator: &Migrator) -> TestDatabase {
        let db = TestDatabase::create().await;
        if let Err(e) = migrator.run(&db.pool).await {
            panic!("migrating test database {}: {e}", db.name);
        }
        db
    }

    /// Creates a fresh database on the server at `server_url`.
    ///
    /// # Panics
    /// As [`TestDatabase::create`].
    pub async fn create_on(server_url: &str) -> TestDatabase {
        let name = format!("celeriac_test_{}", Uuid::new_v4().simple());
        let mut admin = admin_connection(server_url).await;
        let create = format!("CREATE DATABASE \"{name}\"");
        if let Err(e) = sqlx::query(AssertSqlSafe(create)).execute(&mut admin).await {
            panic!("PostgreSQL: creating test database {name}: {e}");
        }
        let _ = admin.close().await;

        let url = with_database(server_url, &name);
        let options = PgConnectOptions::from_str(&url)
            .unwrap_or_else(|e| panic!("DATABASE_URL is not a PostgreSQL URL: {e}"));
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect_with(options)
            .await
            .unwrap_or_else(|e| unavailable("PostgreSQL", &redact_url(&url), &e));
        TestDatabase {
            name,
            server_url: server_url.to_owned(),
            url,
            pool,
            dropped: false,
        }
    }

    /// The database name, `celeriac_test_<uuid>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL for this database (the server URL with the database swapped in).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A pool connected to this database (at most 5 connections).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool and drops the database now.
    ///
    /// # Panics
    /// If the server cannot be reached or refuses the drop.
    pub async fn drop_database(mut self) {
        self.pool.close().await;
        drop_on_server(&self.server_url, &self.name).await;
        self.dropped = true;
    }
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime can be built on a fresh thread");
            runtime.block_on(drop_on_server(&server_url, &name));
        });
        if cleanup.join().is_err() {
            eprintln!(
                "testkit: dropping test database {} failed (it is left behind)",
                self.name
            );
        }
    }
}

async fn admin_connection(server_url: &str) -> PgConnection {
    match PgConnection::connect(server_url).await {
        Ok(connection) => connection,
        Err(e) => unavailable("PostgreSQL", &redact_url(server_url), &e),
    }
}

async fn drop_on_server(server_url: &str, name: &str) {
    let mut admin = admin_connection(server_url).await;
    let statement = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    if let Err(e) = sqlx::query(AssertSqlSafe(statement))
        .execute(&mut admin)
        .await
    {
        panic!("PostgreSQL: dropping test database {name}: {e}");
    }
    let _ = admin.close().await;
}

/// `server_url` with its database path replaced by `name` (query parameters kept).
fn with_database(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn with_database_swaps_only_the_path() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1?sslmode=disable", "t2"),
            "postgres://u:p@h:1/t2?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://h/db?application_name=x", "t3"),
            "postgresql://h/t3?application_name=x"
        );
    }
}
