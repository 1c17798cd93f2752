//! Test support for celeriac: per-test isolation on real services, and fault tools.
//!
//! Every celeriac test that touches a service talks to a real one on loopback (RabbitMQ,
//! PostgreSQL, two s3s-fs servers standing in for Cloudflare R2 and Backblaze B2), started by
//! `scripts/test`. This crate gives each test its own corner of those services and the tools to
//! break them on purpose. It is a dev-dependency only.
//!
//! **A missing service fails the test, never skips it**: helpers panic with a message naming the
//! service, where it was looked for and how to start it (`scripts/test --services`).
//!
//! # Brief overview
//!
//! | module | main items | isolation / purpose |
//! |---|---|---|
//! | [`amqp`] | [`amqp::connect`], [`amqp::unique_queue`], [`amqp::TestQueues`] | uuid-suffixed queues, deleted by a guard |
//! | [`db`] | [`db::TestDatabase`], [`db::database_url`] | a `celeriac_test_<uuid>` database per test, dropped afterwards; `#[sqlx::test]` also works |
//! | [`http`] | [`http::get`], [`http::free_port`] | GET `/healthz` or `/metrics` of a process under test on loopback |
//! | [`s3`] | [`s3::S3Server::r2`], [`s3::S3Server::b2`], [`s3::TestBucket`] | a bucket per test; read, list and corrupt stored objects |
//! | [`proxy`] | [`proxy::FaultProxy`] | cut, delay or refuse TCP connections to any service |
//! | [`tree`] | [`tree::SourceTree`], [`tree::TempDir`] | temp source trees with exact contents, modes, mtimes, symlinks |
//! | [`python`] | [`python::Python`] | run Python (Celery) scripts with the pinned packages |
//! | [`service`] | [`service::unavailable`] | the env vars and the loud failure shared by the above |
//!
//! ```text
//!   test ──► testkit helper ──► real service on 127.0.0.1        (amqp, db, s3)
//!   test ──► client under test ──► FaultProxy ──► real service   (proxy: cut / delay / refuse)
//! ```
//!
//! # Environment
//!
//! `scripts/test` exports these; unset ones fall back to the script's defaults:
//! `CELERIAC_TEST_AMQP_URL`, `DATABASE_URL`, `CELERIAC_TEST_S3_<R2|B2>_{ENDPOINT, REGION,
//! ACCESS_KEY, SECRET_KEY, DATA_DIR}` and `CELERIAC_TEST_PYTHON`.
//!
//! # Example
//!
//! A fault test needs no service at all when it brings its own target:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use celeriac_testkit::proxy::FaultProxy;
//! use celeriac_testkit::tree::SourceTree;
//!
//! let tree = SourceTree::new().file("etc/app.conf", "x = 1\n").mode(0o600).build();
//! assert!(tree.path().join("etc/app.conf").is_file());
//!
//! let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let proxy = FaultProxy::start(target.local_addr().unwrap()).await;
//! proxy.set_refuse(true);
//! assert_eq!(proxy.stats().accepted, 0);
//! # }
//! ```

pub mod amqp;
pub mod db;
pub mod events_probe;
pub mod http;
pub mod proxy;
pub mod python;
pub mod s3;
pub mod service;
pub mod tree;
