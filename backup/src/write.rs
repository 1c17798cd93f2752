//! The write side: one backup run from the files on disk to verified copies in every store.
//!
//! In stream order: [`collect`] (walk the roots by the collection rules; [`classify`] names
//! and sniffs; [`sanitize`] makes the `.env` and config copies), [`archive`] (tar with
//! `MANIFEST.json` first), [`pargz`] (the parallel gzip stage), [`produce`] (encrypt and hash on
//! the blocking thread, then cut into chunks), [`fanout`] (one stream to every store at once),
//! [`copies`] (read back and verify each copy) and [`retry`] (re-upload a failed copy from a
//! verified one); [`pipeline`] composes them into the `Pipeline`, and [`error`] is its error.
//! [`cancel`] is the cancel check that the blocking stages share; [`plan`] is the dry run (what
//! [`collect`] would take, as a serialisable plan).

pub(crate) mod archive;
pub(crate) mod cancel;
pub(crate) mod classify;
pub(crate) mod collect;
pub(crate) mod copies;
pub(crate) mod error;
pub(crate) mod fanout;
pub(crate) mod pargz;
pub(crate) mod pipeline;
pub(crate) mod plan;
pub(crate) mod produce;
pub(crate) mod retry;
pub(crate) mod sanitize;
