//! The catalog commands as processes (`list`, `show`, `verify ID`, `restore ID|--latest`, and
//! `backup` recording its run) against the embedded SQLite catalog in a fresh `CELERIAC_HOME`
//! and against PostgreSQL: which catalog is chosen (flag, variable, `[database] url`, embedded
//! default), the exit codes, and that no password reaches the output.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod choice;
mod copies;
mod embedded;
mod support;
mod terminal;
