//! Runs one task future under its time limits: the soft limit fires the task's cancellation
//! token, the hard limit drops the future, and a panic becomes [`TaskError::Panicked`].

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use celeriac_protocol::TimeLimit;
use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::config::positive_seconds;
use crate::task::{TaskError, TaskFuture, TaskResult};

/// The limits one run is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Limits {
    pub(crate) hard: Option<Duration>,
    pub(crate) soft: Option<Duration>,
}

impl Limits {
    /// Celery's rule: the message's `timelimit` value if set (and non-zero), else the task's.
    #[cfg(test)]
    pub(crate) fn resolve(header: TimeLimit, options: &crate::task::TaskOptions) -> Self {
        let task = Self {
            hard: options.time_limit,
            soft: options.soft_time_limit,
        };
        Self::over(header, task)
    }

    /// Celery's rule over the task's current limits (`task`): the message's value wins when set;
    /// zero means no limit on either side.
    pub(crate) fn over(header: TimeLimit, task: Limits) -> Self {
        let from_header = |v: Option<f64>| v.and_then(positive_seconds).filter(|d| !d.is_zero());
        let set = |d: Option<Duration>| d.filter(|d| !d.is_zero());
        Self {
            hard: from_header(header.hard).or(set(task.hard)),
            soft: from_header(header.soft).or(set(task.soft)),
        }
    }
}

/// How a run ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The task returned (or panicked, as `Err(Panicked)`).
    Finished(TaskResult),
    /// The hard limit passed; the future was dropped.
    HardLimit(Duration),
    /// The worker gave up on it (shutdown grace over); the future was dropped.
    Abandoned,
}

/// Drives `task` to its end, a limit, or `abandon`.
pub(crate) async fn run(
    task: TaskFuture,
    cancel: &CancellationToken,
    limits: Limits,
    abandon: &CancellationToken,
) -> Outcome {
    let task = AssertUnwindSafe(task).catch_unwind();
    tokio::pin!(task);
    if limits == Limits::default() {
        // Fast path: no timers to arm.
        return tokio::select! {
            r = &mut task => Outcome::Finished(r.unwrap_or(Err(TaskError::Panicked))),
            () = abandon.cancelled() => {
                cancel.cancel();
                Outcome::Abandoned
            }
        };
    }
    let hard_limit = limits.hard.unwrap_or(Duration::MAX);
    let hard = tokio::time::sleep(hard_limit);
    let soft = tokio::time::sleep(limits.soft.unwrap_or(Duration::MAX));
    tokio::pin!(hard, soft);
    let mut soft_pending = limits.soft.is_some();
    loop {
        tokio::select! {
            r = &mut task => return Outcome::Finished(r.unwrap_or(Err(TaskError::Panicked))),
            () = &mut soft, if soft_pending => {
                soft_pending = false;
                tracing::warn!(limit = ?limits.soft, "soft time limit exceeded: asking the task to stop");
                cancel.cancel();
            }
            () = &mut hard, if limits.hard.is_some() => {
                cancel.cancel();
                return Outcome::HardLimit(hard_limit);
            }
            () = abandon.cancelled() => {
                cancel.cancel();
                return Outcome::Abandoned;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::task::TaskOptions;
    use serde_json::json;

    fn opts(hard: Option<u64>, soft: Option<u64>) -> TaskOptions {
        TaskOptions {
            time_limit: hard.map(Duration::from_secs),
            soft_time_limit: soft.map(Duration::from_secs),
            ..TaskOptions::default()
        }
    }

    #[test]
    fn header_wins_over_task_default_unless_zero_or_null() {
        let l = Limits::resolve(
            TimeLimit {
                hard: Some(5.0),
                soft: None,
            },
            &opts(Some(60), Some(30)),
        );
        assert_eq!(l.hard, Some(Duration::from_secs(5)));
        assert_eq!(l.soft, Some(Duration::from_secs(30)));
        let l = Limits::resolve(
            TimeLimit {
                hard: Some(0.0),
                soft: Some(-1.0),
            },
            &opts(Some(60), None),
        );
        assert_eq!(
            l,
            Limits {
                hard: Some(Duration::from_mins(1)),
                soft: None
            }
        );
        // `time-limit = 0` in the file means no limit, as in Celery (not "already exceeded")
        let l = Limits::resolve(TimeLimit::default(), &opts(Some(0), Some(0)));
        assert_eq!(l, Limits::default());
    }

    #[tokio::test(start_paused = true)]
    async fn soft_limit_cancels_and_a_cooperative_task_finishes() {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        let task: TaskFuture = Box::pin(async move {
            c.cancelled().await;
            Ok(json!("stopped"))
        });
        let limits = Limits {
            hard: Some(Duration::from_secs(10)),
            soft: Some(Duration::from_secs(2)),
        };
        let start = tokio::time::Instant::now();
        let out = run(task, &cancel, limits, &CancellationToken::new()).await;
        assert!(matches!(out, Outcome::Finished(Ok(v)) if v == json!("stopped")));
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn hard_limit_drops_a_stuck_task() {
        let cancel = CancellationToken::new();
        let task: TaskFuture = Box::pin(std::future::pending());
        let limits = Limits {
            hard: Some(Duration::from_secs(3)),
            soft: Some(Duration::from_secs(1)),
        };
        let start = tokio::time::Instant::now();
        let out = run(task, &cancel, limits, &CancellationToken::new()).await;
        assert!(matches!(out, Outcome::HardLimit(d) if d == Duration::from_secs(3)));
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        assert!(cancel.is_cancelled());
    }

    #[tokio::test]
    async fn panics_and_abandon() {
        let task: TaskFuture = Box::pin(async { panic!("bug") });
        let out = run(
            task,
            &CancellationToken::new(),
            Limits::default(),
            &CancellationToken::new(),
        )
        .await;
        assert!(matches!(out, Outcome::Finished(Err(TaskError::Panicked))));
        let abandon = CancellationToken::new();
        abandon.cancel();
        let cancel = CancellationToken::new();
        let out = run(
            Box::pin(std::future::pending()),
            &cancel,
            Limits::default(),
            &abandon,
        )
        .await;
        assert!(matches!(out, Outcome::Abandoned));
        assert!(cancel.is_cancelled());
    }
}
