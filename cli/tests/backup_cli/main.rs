//! The backup commands as processes: `keygen`, `backup`, `verify`, `restore` against a local
//! directory and the two S3 test servers (some behind a fault proxy), their exit codes, and
//! every example config in the README and docs parsing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod collection;
mod config_examples;
mod fallback;
mod faults;
mod inline_secrets;
mod keygen;
mod roundtrip;
mod run;
mod swapped;
mod tree;
mod usage;
mod world;
