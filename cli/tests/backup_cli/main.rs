//! The backup commands as processes: `keygen`, `backup`, `verify`, `restore`, their exit codes,
//! and every example config in the README and docs parsing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod keygen;
mod run;
