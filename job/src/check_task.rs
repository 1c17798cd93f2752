//! [`CheckBackups`]: the dead man's switch as a Celery task,
//! `apps.backups.tasks.check_backups`, for beat to run every hour or so (see
//! [`crate::watchdog`]). It returns what it found; a stale catalog raises `BACKUP_MISSING`.

use std::sync::Arc;

use celeriac_catalog::Catalog;
use celeriac_worker::{Task, TaskArgs, TaskContext, TaskError, TaskFuture};
use chrono::{Duration, Utc};

use crate::catalog_error::catalog_error;
use crate::watchdog::check_freshness;

/// The task's registered name.
pub const CHECK_TASK_NAME: &str = "apps.backups.tasks.check_backups";

/// The freshness check. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CheckBackups {
    inner: Arc<(Catalog, Duration)>,
}

impl CheckBackups {
    /// Checks `catalog` for a good backup no older than `max_age`.
    pub fn new(catalog: Catalog, max_age: Duration) -> Self {
        Self {
            inner: Arc::new((catalog, max_age)),
        }
    }
}

impl Task for CheckBackups {
    fn name(&self) -> &str {
        CHECK_TASK_NAME
    }

    fn run(&self, _ctx: TaskContext, args: TaskArgs) -> TaskFuture {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            if !args.args.is_empty() || !args.kwargs.is_empty() {
                return Err(TaskError::invalid_arguments(
                    "check_backups() takes no arguments",
                ));
            }
            let (catalog, max_age) = &*inner;
            let found = check_freshness(catalog, *max_age, Utc::now())
                .await
                .map_err(catalog_error)?;
            serde_json::to_value(&found)
                .map_err(|e| TaskError::builtin("ValueError", e.to_string()))
        })
    }
}
