//! [`PruneBackups`]: retention as a Celery task, `apps.backups.tasks.prune_backups`, for beat to
//! run after the nightly backup. It returns what it deleted; copies it could not delete stay
//! marked and are retried by the next run.

use std::sync::Arc;

use celeriac_catalog::Catalog;
use celeriac_store::Store;
use celeriac_worker::{Failure, Task, TaskArgs, TaskContext, TaskError, TaskFuture, TaskResult};
use serde_json::json;

use crate::outcome::chain;
use crate::retention::{RetentionPolicy, prune};

/// The task's registered name.
pub const PRUNE_TASK_NAME: &str = "apps.backups.tasks.prune_backups";

/// The retention task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PruneBackups {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    catalog: Catalog,
    stores: Vec<Arc<dyn Store>>,
    policy: RetentionPolicy,
}

impl PruneBackups {
    /// Retention of `stores` by `policy`, over `catalog`.
    pub fn new(catalog: Catalog, stores: Vec<Arc<dyn Store>>, policy: RetentionPolicy) -> Self {
        Self {
            inner: Arc::new(Inner {
                catalog,
                stores,
                policy,
            }),
        }
    }
}

impl Task for PruneBackups {
    fn name(&self) -> &str {
        PRUNE_TASK_NAME
    }

    fn run(&self, _ctx: TaskContext, args: TaskArgs) -> TaskFuture {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            if !args.args.is_empty() || !args.kwargs.is_empty() {
                return Err(TaskError::invalid_arguments(
                    "prune_backups() takes no arguments",
                ));
            }
            inner.run().await
        })
    }
}

impl Inner {
    async fn run(&self) -> TaskResult {
        let report = prune(&self.catalog, &self.stores, &self.policy, false)
            .await
            .map_err(|err| {
                let transient = err.is_transient();
                let failure = Failure::new("CatalogError", "celeriac.catalog", chain(&err));
                if transient {
                    TaskError::retry_with_backoff(Some(failure))
                } else {
                    TaskError::Fail(failure)
                }
            })?;
        let failed = report.failed().count();
        Ok(json!({
            "newest_verified": report.newest_verified.map(|id| id.to_string()),
            "deleted": report.items.len() - failed,
            "failed": failed,
        }))
    }
}
