//! The [`Task`] trait and what a task sees and returns: [`TaskArgs`], [`TaskContext`],
//! [`TaskOptions`] and [`TaskError`]. Running a task under limits is `execute.rs`'s job.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use celeriac_protocol::{TaskId, TaskName};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::{ConfigError, RawTask, positive_seconds};
use crate::rate_limit::RateLimit;
pub use crate::task_error::{Failure, RetryDelay, TaskError};

/// What a task returns: a JSON value for SUCCESS, or why it did not succeed.
pub type TaskResult = Result<Value, TaskError>;

/// The boxed future a [`Task`] returns.
pub type TaskFuture = Pin<Box<dyn Future<Output = TaskResult> + Send + 'static>>;

/// A registered task: a name, its options and an async handler.
///
/// Handlers run on the async runtime; CPU-heavy or blocking work goes through
/// [`TaskContext::blocking`]. Use [`task_fn`] to make a task from a closure.
pub trait Task: Send + Sync + 'static {
    /// The Celery task name, e.g. `celery.accumulate`.
    fn name(&self) -> &str;

    /// The task's own defaults (the config file may override them per task).
    fn options(&self) -> TaskOptions {
        TaskOptions::default()
    }

    /// Runs the task once.
    fn run(&self, ctx: TaskContext, args: TaskArgs) -> TaskFuture;
}

/// A [`Task`] made from a name, options and a closure (see [`task_fn`]).
pub struct FnTask<F> {
    name: String,
    options: TaskOptions,
    handler: F,
}

/// Makes a task from a closure returning a future.
///
/// ```
/// use celeriac_worker::{task_fn, TaskOptions};
/// let add = task_fn("tasks.add", TaskOptions::default(), |_ctx, args| async move {
///     let a: i64 = args.arg(0)?;
///     let b: i64 = args.arg(1)?;
///     Ok(serde_json::json!(a + b))
/// });
/// # let _ = add;
/// ```
pub fn task_fn<F, Fut>(name: impl Into<String>, options: TaskOptions, handler: F) -> FnTask<F>
where
    F: Fn(TaskContext, TaskArgs) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = TaskResult> + Send + 'static,
{
    FnTask {
        name: name.into(),
        options,
        handler,
    }
}

impl<F, Fut> Task for FnTask<F>
where
    F: Fn(TaskContext, TaskArgs) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = TaskResult> + Send + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn options(&self) -> TaskOptions {
        self.options.clone()
    }

    fn run(&self, ctx: TaskContext, args: TaskArgs) -> TaskFuture {
        Box::pin((self.handler)(ctx, args))
    }
}

/// Exponential backoff for retries, Celery's `retry_backoff`/`retry_backoff_max`/`retry_jitter`.
#[derive(Debug, Clone, PartialEq)]
pub struct BackoffPolicy {
    /// Delay of the first retry (Celery's factor, default 1 s).
    pub factor: Duration,
    /// Longest delay (Celery's `retry_backoff_max`, default 600 s).
    pub max: Duration,
    /// Full jitter: pick uniformly in `[0, delay]` (Celery's default).
    pub jitter: bool,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self {
            factor: Duration::from_secs(1),
            max: Duration::from_mins(10),
            jitter: true,
        }
    }
}

/// Per-task behaviour; defaults follow Celery except `acks_late`, which is on.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::struct_excessive_bools)] // reason: mirrors Celery's boolean task options one to one
pub struct TaskOptions {
    /// Ack only after the outcome is replied (true), or when the task starts (false).
    pub acks_late: bool,
    /// After a failure: ack (true, Celery's default) or reject without requeue (false).
    pub acks_on_failure: bool,
    /// Retries allowed; `None` = unlimited (Celery's default is 3).
    pub max_retries: Option<u32>,
    /// Hard limit: past it the task is abandoned and answered `TimeLimitExceeded`.
    pub time_limit: Option<Duration>,
    /// Soft limit: past it the task's cancellation token fires.
    pub soft_time_limit: Option<Duration>,
    /// Countdown for [`RetryDelay::Default`] (Celery: 180 s).
    pub default_retry_delay: Duration,
    /// Policy for [`RetryDelay::Backoff`].
    pub backoff: BackoffPolicy,
    /// Send STARTED when the task starts (Celery's `track_started`).
    pub track_started: bool,
    /// Never send a reply.
    pub ignore_result: bool,
    /// Most runs started per unit of time (Celery's `rate_limit`); `None` = no limit.
    pub rate_limit: Option<RateLimit>,
}

impl Default for TaskOptions {
    fn default() -> Self {
        Self {
            acks_late: true,
            acks_on_failure: true,
            max_retries: Some(3),
            time_limit: None,
            soft_time_limit: None,
            default_retry_delay: Duration::from_mins(3),
            backoff: BackoffPolicy::default(),
            track_started: false,
            ignore_result: false,
            rate_limit: None,
        }
    }
}

impl TaskOptions {
    /// These options with the config file's `[task."<name>"]` settings applied.
    pub fn apply(&self, name: &str, raw: &RawTask) -> Result<Self, ConfigError> {
        let secs =
            |field: &str, v: Option<f64>, current: Duration| -> Result<Duration, ConfigError> {
                match v {
                    None => Ok(current),
                    Some(v) => positive_seconds(v).ok_or_else(|| ConfigError::OutOfRange {
                        setting: format!("task.{name}.{field}"),
                        expected: "a number of seconds ≥ 0",
                    }),
                }
            };
        let limit = |field: &str, v: Option<f64>, current: Option<Duration>| match v {
            None => Ok(current),
            Some(v) => secs(field, Some(v), Duration::ZERO).map(Some),
        };
        let mut out = self.clone();
        out.acks_late = raw.acks_late.unwrap_or(out.acks_late);
        out.acks_on_failure = raw.acks_on_failure.unwrap_or(out.acks_on_failure);
        if let Some(n) = raw.max_retries {
            out.max_retries = u32::try_from(n).ok();
        }
        out.time_limit = limit("time-limit", raw.time_limit, out.time_limit)?;
        out.soft_time_limit = limit("soft-time-limit", raw.soft_time_limit, out.soft_time_limit)?;
        out.default_retry_delay = secs(
            "default-retry-delay",
            raw.default_retry_delay,
            out.default_retry_delay,
        )?;
        out.backoff.factor = secs("retry-backoff", raw.retry_backoff, out.backoff.factor)?;
        out.backoff.max = secs("retry-backoff-max", raw.retry_backoff_max, out.backoff.max)?;
        out.backoff.jitter = raw.retry_jitter.unwrap_or(out.backoff.jitter);
        out.track_started = raw.track_started.unwrap_or(out.track_started);
        out.ignore_result = raw.ignore_result.unwrap_or(out.ignore_result);
        if let Some(text) = &raw.rate_limit {
            let rate = text.parse().map_err(|source| ConfigError::RateLimit {
                setting: format!("task.{name}.rate-limit"),
                source,
            })?;
            out.rate_limit = Some(rate);
        }
        Ok(out)
    }
}

/// Positional and keyword arguments as the client sent them (kombu type envelopes already
/// unwrapped by the protocol crate).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskArgs {
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Map<String, Value>,
}

impl TaskArgs {
    /// Positional argument `index`, deserialized.
    ///
    /// # Errors
    /// [`TaskError::InvalidArguments`] (Python `TypeError`) when it is missing or of the wrong type.
    pub fn arg<T: DeserializeOwned>(&self, index: usize) -> Result<T, TaskError> {
        let value = self.args.get(index).ok_or_else(|| {
            TaskError::invalid_arguments(format!("missing required positional argument {index}"))
        })?;
        T::deserialize(value)
            .map_err(|e| TaskError::invalid_arguments(format!("positional argument {index}: {e}")))
    }

    /// Keyword argument `name`, deserialized; `None` when absent.
    ///
    /// # Errors
    /// [`TaskError::InvalidArguments`] when it is present but of the wrong type.
    pub fn kwarg<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, TaskError> {
        self.kwargs
            .get(name)
            .map(|value| {
                T::deserialize(value).map_err(|e| {
                    TaskError::invalid_arguments(format!("keyword argument {name:?}: {e}"))
                })
            })
            .transpose()
    }

    /// All keyword arguments as one struct (use `#[serde(deny_unknown_fields)]` to refuse extras).
    ///
    /// # Errors
    /// [`TaskError::InvalidArguments`] when they do not fit `T`.
    pub fn kwargs_as<T: DeserializeOwned>(&self) -> Result<T, TaskError> {
        T::deserialize(&Value::Object(self.kwargs.clone()))
            .map_err(|e| TaskError::invalid_arguments(format!("keyword arguments: {e}")))
    }
}

/// What a running task knows about itself, and its cancellation token.
#[derive(Clone)]
pub struct TaskContext {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    id: TaskId,
    name: TaskName,
    retries: u32,
    hostname: Arc<str>,
    cancel: CancellationToken,
}

impl fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("id", &self.inner.id)
            .field("name", &self.inner.name)
            .field("retries", &self.inner.retries)
            .finish_non_exhaustive()
    }
}

impl TaskContext {
    pub(crate) fn new(
        id: TaskId,
        name: TaskName,
        retries: u32,
        hostname: Arc<str>,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            inner: Arc::new(ContextInner {
                id,
                name,
                retries,
                hostname,
                cancel,
            }),
        }
    }

    /// The task id (Celery's `request.id`).
    pub fn id(&self) -> &TaskId {
        &self.inner.id
    }

    /// The task name.
    pub fn name(&self) -> &TaskName {
        &self.inner.name
    }

    /// How many times this task was retried before this run (Celery's `request.retries`).
    pub fn retries(&self) -> u32 {
        self.inner.retries
    }

    /// The worker's node name.
    pub fn hostname(&self) -> &str {
        &self.inner.hostname
    }

    /// Fires at the soft time limit (and when the worker gives up on the task): stop soon.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.inner.cancel
    }

    /// Whether the task has been asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// Runs CPU-heavy or blocking work on a blocking thread, inside the task's log span. The
    /// closure gets the cancellation token so it can stop between units of work.
    ///
    /// # Errors
    /// [`TaskError::Panicked`] if the closure panicked.
    pub async fn blocking<F, T>(&self, work: F) -> Result<T, TaskError>
    where
        F: FnOnce(CancellationToken) -> T + Send + 'static,
        T: Send + 'static,
    {
        let span = tracing::Span::current();
        let token = self.inner.cancel.clone();
        tokio::task::spawn_blocking(move || span.in_scope(|| work(token)))
            .instrument(tracing::Span::current())
            .await
            .map_err(|_| TaskError::Panicked)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn args_decode_and_wrong_types_are_type_errors() {
        let a = TaskArgs {
            args: vec![json!(1), json!("x")],
            kwargs: json!({"n": 2}).as_object().unwrap().clone(),
        };
        assert_eq!(a.arg::<i64>(0).unwrap(), 1);
        assert!(
            matches!(a.arg::<i64>(1), Err(TaskError::InvalidArguments(f)) if f.exc_type == "TypeError")
        );
        assert!(matches!(
            a.arg::<i64>(5),
            Err(TaskError::InvalidArguments(_))
        ));
        assert_eq!(a.kwarg::<u32>("n").unwrap(), Some(2));
        assert_eq!(a.kwarg::<u32>("m").unwrap(), None);
    }

    #[test]
    fn file_settings_apply_over_task_defaults() {
        let raw = RawTask {
            acks_late: Some(false),
            max_retries: Some(-1),
            time_limit: Some(1.5),
            retry_jitter: Some(false),
            ..RawTask::default()
        };
        let o = TaskOptions::default().apply("t", &raw).unwrap();
        assert!(!o.acks_late);
        assert_eq!(o.max_retries, None);
        assert_eq!(o.time_limit, Some(Duration::from_millis(1500)));
        assert!(!o.backoff.jitter);
        assert_eq!(o.soft_time_limit, None);
        assert_eq!(o.rate_limit, None);
        let raw = RawTask {
            rate_limit: Some("100/m".into()),
            ..RawTask::default()
        };
        let o = TaskOptions::default().apply("t", &raw).unwrap();
        assert_eq!(o.rate_limit.unwrap().to_string(), "100/m");
    }

    #[tokio::test]
    async fn blocking_panics_become_task_errors() {
        let ctx = TaskContext::new(
            TaskId::new("id").unwrap(),
            TaskName::new("t").unwrap(),
            0,
            "h".into(),
            CancellationToken::new(),
        );
        assert_eq!(ctx.blocking(|_| 2 + 2).await.unwrap(), 4);
        let r: Result<(), _> = ctx.blocking(|_| panic!("boom")).await;
        assert!(matches!(r, Err(TaskError::Panicked)));
    }
}
