//! Built-in tasks every Celery app has, so any Celery client can reach the worker:
//! `celery.accumulate` and `celery.backend_cleanup`.

mod accumulate;
mod backend_cleanup;

use std::sync::Arc;

use crate::task::Task;

pub use accumulate::Accumulate;
pub use backend_cleanup::BackendCleanup;

/// The built-in tasks.
pub(crate) fn builtins() -> Vec<Arc<dyn Task>> {
    vec![Arc::new(Accumulate), Arc::new(BackendCleanup)]
}
