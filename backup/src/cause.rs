//! [`Cause`]: how the public errors carry the error of a stage inside the crate.
//!
//! The stages' own error types (collection, archive, gzip, extract, manifest, naming, the
//! collection spec) are the crate's internals. A public error keeps one of them as its
//! `source()`, boxed, so its message and chain reach the user (and the logs) without the type
//! becoming part of the API; code that needs the detail downcasts (`downcast_ref`).

/// A stage error behind a public error's `source()`.
pub(crate) type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;
