//! PostgreSQL helpers: a fresh database per test, dropped afterwards; `#[sqlx::test]` works.

use celeriac_testkit::db::{self, TestDatabase};
use celeriac_testkit::proxy::FaultProxy;
use sqlx::postgres::PgPool;

async fn database_exists(name: &str) -> bool {
    let server = PgPool::connect(&db::database_url()).await.unwrap();
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&server)
        .await
        .unwrap();
    server.close().await;
    found.is_some()
}

#[tokio::test]
async fn each_test_database_is_fresh_and_dropped_afterwards() {
    let first = TestDatabase::create().await;
    let second = TestDatabase::create().await;
    assert_ne!(first.name(), second.name());
    assert!(first.name().starts_with("celeriac_test_"));

    sqlx::query("CREATE TABLE only_here (id int)")
        .execute(first.pool())
        .await
        .unwrap();
    let in_second: Option<String> = sqlx::query_scalar("SELECT to_regclass('only_here')::text")
        .fetch_one(second.pool())
        .await
        .unwrap();
    assert_eq!(in_second, None, "databases do not share tables");

    let current: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(first.pool())
        .await
        .unwrap();
    assert_eq!(current, first.name());
    let via_url = PgPool::connect(first.url()).await.unwrap();
    let current: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&via_url)
        .await
        .unwrap();
    assert_eq!(current, first.name(), "url() points at the test database");

    let (first_name, second_name) = (first.name().to_owned(), second.name().to_owned());
    drop(first); // Drop path, with a pool connection (`via_url`) still open: FORCE ends it
    second.drop_database().await; // explicit path
    assert!(!database_exists(&first_name).await);
    assert!(!database_exists(&second_name).await);
}

#[tokio::test]
async fn create_migrated_runs_the_migrations() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("20260101000000_widgets.sql"),
        "CREATE TABLE widgets (id bigint PRIMARY KEY);",
    )
    .unwrap();
    let migrator = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    let db = TestDatabase::create_migrated(&migrator).await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM widgets")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(count, 0);
}

/// `scripts/test` exports DATABASE_URL, so `#[sqlx::test]` gets its own database too.
#[sqlx::test(migrations = false)]
async fn sqlx_test_gets_a_database_from_database_url(pool: PgPool) {
    let current: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(current.starts_with("_sqlx_test"), "{current}");
}

#[tokio::test]
#[should_panic(expected = "required test service unavailable: PostgreSQL")]
async fn an_unreachable_server_fails_the_test_naming_it() {
    let server: std::net::SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = FaultProxy::start(server).await;
    proxy.set_refuse(true);
    TestDatabase::create_on(&format!("postgres://postgres@{}/postgres", proxy.addr())).await;
}
