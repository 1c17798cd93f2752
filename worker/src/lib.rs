//! A Celery-compatible task worker over RabbitMQ: it takes the messages Python Celery clients
//! publish (`task.delay(...)`, `app.send_task(...)`), runs the registered Rust task, and answers
//! over `rpc://` so that `result.get()` cannot tell it from a Python worker.
//!
//! # Brief overview
//!
//! * [`Worker`]: built from a validated [`Config`] and a [`Registry`]; [`Worker::run`] consumes
//!   until its shutdown token fires, reconnecting with backoff when the broker goes away.
//! * [`Task`] / [`task_fn`]: a task is a name, [`TaskOptions`] and an async handler taking
//!   [`TaskArgs`] and a [`TaskContext`] (id, retries, cancellation token, `blocking` helper for
//!   CPU-heavy work). Handlers return a JSON value or a [`TaskError`] (`Fail`, `Retry`,
//!   `InvalidArguments`, `Reject`, ...).
//! * [`RawConfig`] → [`Config`]: the config file and flags, validated once at startup.
//! * Monitoring events ([`EventSettings`]): `worker-online`/`heartbeat`/`offline` and, with
//!   `-E`, the `task-*` events on `celeryev`, so Flower and `celery events` see the worker; they
//!   go through a bounded buffer to a publisher with a connection of its own, and are dropped
//!   (and counted) rather than ever slow a task down. Remote control answers on the node's
//!   pidbox (`celery inspect` / `celery control`, `enable_events`, `disable_events`, ...).
//! * Rate limits ([`RateLimit`], Celery's `"10/s"` syntax) per task, from the config file or
//!   remote control's `rate_limit`: a message waits for its token reserved and unacked, without
//!   holding a concurrency slot.
//! * [`wait_for_signals`]: SIGTERM/SIGINT handling for binaries (first = warm, second = now).
//! * Built-in tasks: `celery.accumulate`, `celery.backend_cleanup` ([`tasks`]).
//!
//! ```text
//!            RabbitMQ                                  celeriac worker
//!  ┌──────────────────────┐  deliveries (prefetch = concurrency × multiplier)
//!  │ queue(s) e.g. celery │ ───────────► consume loop ──spawn──► handler per delivery
//!  └──────────────────────┘                                   │ decode (protocol crate)
//!            ▲   ▲                                            │ unknown/bad → FAILURE + reject
//!            │   │ retry republish (confirmed)                │ expired → REVOKED + ack
//!            │   └────────────────────────────────────────────┤ eta → hold unacked
//!  ┌─────────┴────────────┐  replies (confirmed)              │ permit (Semaphore) → run
//!  │ client reply queue   │ ◄─────────────────────────────────┤   soft limit → cancel token
//!  └──────────────────────┘                                   │   hard limit → drop, FAILURE
//!                                                             └ reply, then ack (acks_late)
//! ```
//!
//! Invariant: with `acks_late` (the default) a delivery is acked only after its outcome reply
//! (or its retry republish) has been confirmed by the broker; a worker killed earlier leaves the
//! message to be redelivered.
//!
//! # Example
//!
//! ```no_run
//! use celeriac_worker::{Config, Overrides, RawConfig, Registry, Worker, task_fn, TaskOptions};
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::from_parts(RawConfig::default(), Overrides::default())?;
//! let mut registry = Registry::with_builtins();
//! registry.register(task_fn("tasks.add", TaskOptions::default(), |_ctx, args| async move {
//!     Ok(serde_json::json!(args.arg::<i64>(0)? + args.arg::<i64>(1)?))
//! }))?;
//! let shutdown = CancellationToken::new();
//! tokio::spawn(celeriac_worker::wait_for_signals(shutdown.clone()));
//! Worker::new(config, registry)?.run(shutdown).await?;
//! # Ok(()) }
//! ```

mod acks;
mod backoff;
mod config;
mod consumer;
mod control;
mod eta;
mod events;
mod execute;
mod health;
mod metrics;
mod outcome;
mod rate_limit;
mod registry;
mod reply;
mod retry;
mod shared;
mod shutdown;
mod task;
mod task_error;
mod task_limits;
pub mod tasks;
mod window;
mod worker;

pub use celeriac_broker::{BrokerError, BrokerUrl, QueueSpec, QueueType};
pub use config::{
    Config, ConfigError, DEFAULT_BROKER_URL, DEFAULT_QUEUE, LogFormat, Overrides, RawConfig,
    RawQueue, RawTask,
};
pub use events::{DEFAULT_EVENTS_BUFFER, EventSettings};
pub use rate_limit::{RateLimit, RateLimitError};
pub use registry::{Registry, RegistryError};
pub use shutdown::wait_for_signals;
pub use task::{
    BackoffPolicy, Failure, FnTask, RetryDelay, Task, TaskArgs, TaskContext, TaskError, TaskFuture,
    TaskOptions, TaskResult, task_fn,
};
pub use worker::{Worker, WorkerError};
