//! Celery's retry: decide whether another attempt is allowed and when, then republish the
//! message (same id, `retries + 1`, an `eta`) and wait for the broker's confirm. Acking the
//! original only after that confirm is the caller's job (`consumer.rs`), so a crash in between
//! yields a duplicate, never a lost task.

use celeriac_protocol::TaskMessage;
use chrono::{DateTime, Utc};

use crate::backoff::{random_pick, retry_delay};
use crate::task::{RetryDelay, TaskOptions};
use celeriac_broker::{BrokerError, Publisher};

/// What to do with a task that asked for a retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RetryPlan {
    /// Republish with this eta.
    At(DateTime<Utc>),
    /// `max_retries` reached: the task fails with its last error.
    Exhausted,
}

/// Celery's rule: the next attempt is number `retries + 1`; it is allowed while that is
/// `<= max_retries` (so a task runs at most `max_retries + 1` times).
pub(crate) fn plan(
    options: &TaskOptions,
    retries: u32,
    delay: &RetryDelay,
    now: DateTime<Utc>,
    pick: impl FnOnce(u64) -> u64,
) -> RetryPlan {
    if options
        .max_retries
        .is_some_and(|max| retries.saturating_add(1) > max)
    {
        return RetryPlan::Exhausted;
    }
    let wait = match delay {
        RetryDelay::Default => options.default_retry_delay,
        RetryDelay::Countdown(d) => *d,
        RetryDelay::Backoff => retry_delay(&options.backoff, retries, pick),
    };
    let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
    RetryPlan::At(
        now.checked_add_signed(wait)
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

/// [`plan`] with the thread RNG for jitter.
pub(crate) fn plan_now(options: &TaskOptions, retries: u32, delay: &RetryDelay) -> RetryPlan {
    plan(options, retries, delay, Utc::now(), random_pick)
}

/// Republishes `msg` for its next attempt where it came from (the default exchange and the
/// queue name, or the original exchange and routing key) and waits for the confirm.
pub(crate) async fn republish(
    publisher: &Publisher,
    exchange: &str,
    routing_key: &str,
    msg: &TaskMessage,
    eta: DateTime<Utc>,
) -> Result<(), BrokerError> {
    let next = msg.retry(eta, Utc::now());
    publisher
        .publish(exchange, routing_key, &next.to_wire())
        .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    #[test]
    fn max_retries_allows_that_many_republishes() {
        let o = TaskOptions {
            max_retries: Some(2),
            ..TaskOptions::default()
        };
        let d = RetryDelay::Countdown(Duration::from_secs(5));
        assert_eq!(plan(&o, 0, &d, at(100), |_| 0), RetryPlan::At(at(105)));
        assert_eq!(plan(&o, 1, &d, at(100), |_| 0), RetryPlan::At(at(105)));
        assert_eq!(plan(&o, 2, &d, at(100), |_| 0), RetryPlan::Exhausted);
        let unlimited = TaskOptions {
            max_retries: None,
            ..TaskOptions::default()
        };
        assert!(matches!(
            plan(&unlimited, u32::MAX, &d, at(100), |_| 0),
            RetryPlan::At(_)
        ));
    }

    #[test]
    fn default_and_backoff_delays() {
        let o = TaskOptions::default();
        assert_eq!(
            plan(&o, 0, &RetryDelay::Default, at(0), |_| 0),
            RetryPlan::At(at(180))
        );
        // backoff: factor 1 s × 2^2 = 4 s; full jitter picks the top here
        assert_eq!(
            plan(&o, 2, &RetryDelay::Backoff, at(0), |n| n),
            RetryPlan::At(at(4))
        );
        assert_eq!(
            plan(&o, 2, &RetryDelay::Backoff, at(0), |_| 0),
            RetryPlan::At(at(0))
        );
        let huge = RetryDelay::Countdown(Duration::MAX);
        assert_eq!(
            plan(&o, 0, &huge, at(0), |_| 0),
            RetryPlan::At(DateTime::<Utc>::MAX_UTC)
        );
    }
}
