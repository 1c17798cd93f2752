//! `celery.backend_cleanup`: beat's daily cleanup task. The rpc:// backend keeps nothing to clean
//! up, so it returns `None`, as Celery's does for rpc.

use serde_json::Value;

use crate::task::{Task, TaskArgs, TaskContext, TaskFuture, TaskOptions};

/// Celery's built-in `celery.backend_cleanup`, a no-op for rpc results.
#[derive(Debug, Clone, Copy, Default)]
pub struct BackendCleanup;

impl Task for BackendCleanup {
    fn name(&self) -> &'static str {
        "celery.backend_cleanup"
    }

    fn options(&self) -> TaskOptions {
        TaskOptions {
            ignore_result: true,
            ..TaskOptions::default()
        }
    }

    fn run(&self, _ctx: TaskContext, _args: TaskArgs) -> TaskFuture {
        Box::pin(std::future::ready(Ok(Value::Null)))
    }
}
