//! A catalog error as a task error, the same way for every task of this crate: a transient one
//! (a lost connection, a busy database) retries the task with backoff, any other fails it as
//! `celeriac.catalog.CatalogError` with the error chain as message.

use celeriac_catalog::CatalogError;
use celeriac_worker::{Failure, TaskError};

use celeriac_error_chain::error_chain;

/// `err` as the task's error.
pub(crate) fn catalog_error(err: CatalogError) -> TaskError {
    let transient = err.is_transient();
    let failure =
        Failure::new("CatalogError", "celeriac.catalog", error_chain(&err)).with_source(err);
    if transient {
        TaskError::retry_with_backoff(Some(failure))
    } else {
        TaskError::Fail(failure)
    }
}
