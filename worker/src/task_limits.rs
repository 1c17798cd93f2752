//! Owns the per-task limits that can change while the worker runs: rate limits (the config
//! file's `rate-limit`, replaced by remote control's `rate_limit`) and the time limits set by
//! remote control's `time_limit`. The delivery path waits here for its turn to run
//! ([`TaskLimits::wait_turn`]) and reads a run's time limits; remote control changes them and
//! `inspect registered` shows them.
//!
//! A message waiting for its turn stays reserved (unacked, listed by `inspect reserved`) and
//! holds no concurrency slot, so it never blocks the messages of other tasks. When a task's rate
//! limit is changed or removed, those waiting on the old bucket move to the new one at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use metrics::Gauge;
use tokio_util::sync::CancellationToken;

use crate::execute::Limits;
use crate::rate_limit::{RateLimit, TokenBucket};
use crate::registry::Registry;
use crate::task::TaskOptions;

/// The changeable limits of every task.
pub(crate) struct TaskLimits {
    /// False while no task has a rate limit or changed time limits: the delivery path then
    /// skips the lock and the lookup.
    any: AtomicBool,
    tasks: RwLock<HashMap<String, Tuned>>,
}

/// One task's changeable limits.
#[derive(Default)]
struct Tuned {
    /// The bucket runs wait on, if the task is rate limited.
    gate: Option<Arc<Gate>>,
    /// The rate limit as last set, for display: Celery shows the attribute as given (`"0"`,
    /// which means no limit, included).
    rate_text: Option<String>,
    /// Set by `time_limit`: replaces the task's own soft and hard limits.
    time: Option<Limits>,
}

/// A bucket and the token that tells its waiters it was replaced.
struct Gate {
    bucket: TokenBucket,
    retired: CancellationToken,
}

/// Whether a message may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Its token is taken: run it.
    Go,
    /// The session ended while it waited: give it back to the broker.
    Stopped,
}

/// One delivery counted in the rate-limit gauge until it stops waiting (dropped when the
/// wait ends, also when the delivery is abandoned mid-wait).
struct Waiting<'a>(&'a Gauge);

impl<'a> Waiting<'a> {
    fn start(gauge: &'a Gauge) -> Self {
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

impl TaskLimits {
    /// The limits of `registry`'s tasks as configured (rate limits from their options).
    pub(crate) fn new(registry: &Registry) -> Self {
        let mut tasks = HashMap::new();
        for name in registry.names() {
            let Some(rate) = registry
                .get(name)
                .and_then(|entry| entry.options.rate_limit.clone())
            else {
                continue;
            };
            let tuned = Tuned {
                rate_text: Some(rate.to_string()),
                gate: Some(Arc::new(Gate::new(&rate))),
                time: None,
            };
            tasks.insert(name.to_owned(), tuned);
        }
        Self {
            any: AtomicBool::new(!tasks.is_empty()),
            tasks: RwLock::new(tasks),
        }
    }

    /// Waits until a run of `task` may start under its rate limit (at once if it has none), or
    /// until `gone` fires; counted in `waiting` while it waits on a bucket.
    pub(crate) async fn wait_turn(
        &self,
        task: &str,
        gone: &CancellationToken,
        waiting: &Gauge,
    ) -> Turn {
        loop {
            if !self.any.load(Ordering::Acquire) {
                return Turn::Go;
            }
            let Some(gate) = self.read(|t| t.get(task).and_then(|t| t.gate.clone())) else {
                return Turn::Go;
            };
            let _counted = Waiting::start(waiting);
            tokio::select! {
                biased;
                () = gone.cancelled() => return Turn::Stopped,
                () = gate.retired.cancelled() => {}
                () = gate.bucket.take() => return Turn::Go,
            }
        }
    }

    /// Sets (or with `None` removes) `task`'s rate limit; `text` is what `inspect registered`
    /// shows from now on (`None` shows nothing). Waiters move to the new bucket.
    pub(crate) fn set_rate(&self, task: &str, rate: Option<&RateLimit>, text: Option<String>) {
        self.write(|tasks| {
            let tuned = tasks.entry(task.to_owned()).or_default();
            if let Some(old) = tuned.gate.take() {
                old.retired.cancel();
            }
            tuned.gate = rate.map(|r| Arc::new(Gate::new(r)));
            tuned.rate_text = text;
        });
    }

    /// Replaces `task`'s soft and hard time limits (`None`: no limit of that kind).
    pub(crate) fn set_time_limits(
        &self,
        task: &str,
        soft: Option<Duration>,
        hard: Option<Duration>,
    ) {
        self.write(|tasks| {
            tasks.entry(task.to_owned()).or_default().time = Some(Limits { hard, soft });
        });
    }

    /// The task-level time limits of a run of `task` (before the message's own `timelimit`).
    pub(crate) fn time_limits(&self, task: &str, options: &TaskOptions) -> Limits {
        let own = Limits {
            hard: options.time_limit,
            soft: options.soft_time_limit,
        };
        if !self.any.load(Ordering::Acquire) {
            return own;
        }
        self.read(|t| t.get(task).and_then(|t| t.time))
            .unwrap_or(own)
    }

    /// The rate limit `inspect registered` shows for `task`.
    pub(crate) fn rate_text(&self, task: &str) -> Option<String> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        self.read(|t| t.get(task).and_then(|t| t.rate_text.clone()))
    }

    fn read<T>(&self, f: impl FnOnce(&HashMap<String, Tuned>) -> T) -> T {
        f(&self.tasks.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn write(&self, f: impl FnOnce(&mut HashMap<String, Tuned>)) {
        let mut tasks = self.tasks.write().unwrap_or_else(PoisonError::into_inner);
        f(&mut tasks);
        self.any.store(true, Ordering::Release);
    }
}

impl Gate {
    fn new(rate: &RateLimit) -> Self {
        Self {
            bucket: TokenBucket::new(rate),
            retired: CancellationToken::new(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::task::task_fn;
    use tokio::time::Instant;

    fn registry() -> Registry {
        let mut r = Registry::new();
        let limited = TaskOptions {
            rate_limit: Some("1/s".parse().unwrap()),
            time_limit: Some(Duration::from_secs(9)),
            ..TaskOptions::default()
        };
        r.register(task_fn("slow", limited, |_, _| async {
            Ok(serde_json::Value::Null)
        }))
        .unwrap();
        r.register(task_fn("free", TaskOptions::default(), |_, _| async {
            Ok(serde_json::Value::Null)
        }))
        .unwrap();
        r
    }

    #[tokio::test(start_paused = true)]
    async fn a_limited_task_waits_and_others_do_not() {
        let r = registry();
        let limits = TaskLimits::new(&r);
        let gone = CancellationToken::new();
        let start = Instant::now();
        assert_eq!(
            limits.wait_turn("slow", &gone, &Gauge::noop()).await,
            Turn::Go
        );
        for _ in 0..10 {
            assert_eq!(
                limits.wait_turn("free", &gone, &Gauge::noop()).await,
                Turn::Go
            );
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(
            limits.wait_turn("slow", &gone, &Gauge::noop()).await,
            Turn::Go
        );
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        assert_eq!(limits.rate_text("slow").as_deref(), Some("1/s"));
        assert_eq!(limits.rate_text("free"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_moves_waiters_and_gone_stops_them() {
        let limits = Arc::new(TaskLimits::new(&registry()));
        let metrics = Arc::new(crate::metrics::Metrics::new(["slow"]));
        let gone = CancellationToken::new();
        assert_eq!(
            limits.wait_turn("slow", &gone, &Gauge::noop()).await,
            Turn::Go
        );
        let start = Instant::now();
        let waiter = {
            let (limits, gone, metrics) = (limits.clone(), gone.clone(), metrics.clone());
            tokio::spawn(
                async move { limits.wait_turn("slow", &gone, &metrics.rate_limited).await },
            )
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(metrics.render().contains("celeriac_tasks_rate_limited 1"));
        limits.set_rate("slow", None, Some("0".into()));
        assert_eq!(waiter.await.unwrap(), Turn::Go);
        assert!(metrics.render().contains("celeriac_tasks_rate_limited 0"));
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(100),
            "released at once"
        );
        assert_eq!(limits.rate_text("slow").as_deref(), Some("0"));

        limits.set_rate("free", Some(&"1/h".parse().unwrap()), Some("1/h".into()));
        assert_eq!(
            limits.wait_turn("free", &gone, &Gauge::noop()).await,
            Turn::Go
        );
        let waiter = {
            let (limits, gone) = (limits.clone(), gone.clone());
            tokio::spawn(async move { limits.wait_turn("free", &gone, &Gauge::noop()).await })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        gone.cancel();
        assert_eq!(waiter.await.unwrap(), Turn::Stopped);
    }

    #[test]
    fn time_limits_replace_the_tasks_own() {
        let r = registry();
        let limits = TaskLimits::new(&r);
        let options = &r.get("slow").unwrap().options;
        assert_eq!(
            limits.time_limits("slow", options),
            Limits {
                hard: Some(Duration::from_secs(9)),
                soft: None
            }
        );
        limits.set_time_limits("slow", Some(Duration::from_secs(1)), None);
        assert_eq!(
            limits.time_limits("slow", options),
            Limits {
                hard: None,
                soft: Some(Duration::from_secs(1))
            }
        );
        let free = &r.get("free").unwrap().options;
        assert_eq!(limits.time_limits("free", free), Limits::default());
    }
}
