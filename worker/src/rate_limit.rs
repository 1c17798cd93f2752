//! Owns Celery's task rate limits: the [`RateLimit`] syntax (`"10/s"`, `"100/m"`, `"5/h"`; a
//! bare number is per second, as in `celery.utils.time.rate`) and the [`TokenBucket`] that
//! spaces the runs of one task. The bucket follows kombu's `TokenBucket(rate, capacity=1)` as
//! Celery's consumer uses it: full at first (the first run goes at once), one token per
//! `1/rate` seconds after that, never more than one saved up. Waiters are served in arrival
//! order. Time is tokio's clock, so tests drive it with `tokio::time::pause`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// A rate limit such as `10/s`: how many runs of one task may start per second.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    per_second: f64,
    /// The text it was written as (what `inspect registered` shows, as Celery shows it).
    text: String,
}

/// Why a rate limit text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RateLimitError {
    /// The part before `/` is not a number (Python: `ValueError`).
    #[error("could not convert string to float: '{count}'")]
    Count {
        /// The text that is not a number.
        count: String,
    },
    /// The unit after `/` is not `s`, `m` or `h` (Python: `KeyError`).
    #[error("unknown rate unit '{unit}' (expected s, m or h)")]
    Unit {
        /// The unit given.
        unit: String,
    },
    /// The number is negative, infinite or NaN.
    #[error("rate limit must be a finite number ≥ 0, got '{count}'")]
    OutOfRange {
        /// The number as written.
        count: String,
    },
}

impl RateLimit {
    /// Parses `"<count>[/<s|m|h>]"`. `Ok(None)` for a rate of zero, which means "no limit" in
    /// Celery (`"0"`, `"0/m"`).
    ///
    /// # Errors
    /// [`RateLimitError`] for a count that is not a finite number ≥ 0 or an unknown unit.
    pub fn parse(text: &str) -> Result<Option<Self>, RateLimitError> {
        let (count, unit) = text.split_once('/').unwrap_or((text, ""));
        let seconds_per_unit = match unit {
            "" | "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => {
                return Err(RateLimitError::Unit {
                    unit: other.to_owned(),
                });
            }
        };
        let n: f64 = count.trim().parse().map_err(|_| RateLimitError::Count {
            count: count.to_owned(),
        })?;
        if !n.is_finite() || n < 0.0 {
            return Err(RateLimitError::OutOfRange {
                count: count.to_owned(),
            });
        }
        let per_second = n / seconds_per_unit;
        Ok((per_second > 0.0).then(|| Self {
            per_second,
            text: text.to_owned(),
        }))
    }

    /// Runs allowed per second.
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// The shortest interval between two runs.
    pub fn interval(&self) -> Duration {
        Duration::try_from_secs_f64(1.0 / self.per_second).unwrap_or(Duration::MAX)
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for RateLimit {
    type Err = RateLimitError;

    /// Like [`RateLimit::parse`], but a zero rate is refused too (the config file states a
    /// limit; no limit is written by leaving the setting out).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)?.ok_or_else(|| RateLimitError::OutOfRange {
            count: text.to_owned(),
        })
    }
}

/// A token bucket of capacity one, refilled at a [`RateLimit`]'s rate.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    per_second: f64,
    /// Held by the waiter at the head of the line (tokio's mutex is fair: FIFO).
    level: Mutex<Level>,
}

#[derive(Debug)]
struct Level {
    tokens: f64,
    at: Instant,
}

/// Tolerance for float rounding when a sleep lands exactly on the refill time.
const EPSILON: f64 = 1e-9;

impl TokenBucket {
    /// A full bucket (the first taker does not wait).
    pub(crate) fn new(rate: &RateLimit) -> Self {
        Self {
            per_second: rate.per_second,
            level: Mutex::new(Level {
                tokens: 1.0,
                at: Instant::now(),
            }),
        }
    }

    /// Waits for a token, in arrival order, and takes it. Dropping the future gives up the
    /// place in line and takes nothing.
    pub(crate) async fn take(&self) {
        let mut level = self.level.lock().await;
        loop {
            let now = Instant::now();
            let refill = now.duration_since(level.at).as_secs_f64() * self.per_second;
            level.tokens = (level.tokens + refill).min(1.0);
            level.at = now;
            if level.tokens >= 1.0 - EPSILON {
                level.tokens = (level.tokens - 1.0).max(0.0);
                return;
            }
            let missing = (1.0 - level.tokens) / self.per_second;
            let wait = Duration::try_from_secs_f64(missing).unwrap_or(Duration::MAX);
            tokio::time::sleep(wait.max(Duration::from_micros(1))).await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use std::sync::Arc;

    fn rate(text: &str) -> RateLimit {
        text.parse().unwrap()
    }

    #[test]
    fn parses_celery_syntax() {
        assert!((rate("10/s").per_second() - 10.0).abs() < 1e-12);
        assert!((rate("10").per_second() - 10.0).abs() < 1e-12);
        assert!((rate("120/m").per_second() - 2.0).abs() < 1e-12);
        assert!((rate("1800/h").per_second() - 0.5).abs() < 1e-12);
        assert!((rate("0.5/s").per_second() - 0.5).abs() < 1e-12);
        assert!((rate(" 5 /s").per_second() - 5.0).abs() < 1e-12);
        assert!((rate("1e3/m").per_second() - 1000.0 / 60.0).abs() < 1e-9);
        assert_eq!(rate("5/").interval(), Duration::from_millis(200));
        assert_eq!(rate("100/m").to_string(), "100/m");
        assert_eq!(RateLimit::parse("0").unwrap(), None);
        assert_eq!(RateLimit::parse("0/m").unwrap(), None);
        assert!(matches!(
            "0/s".parse::<RateLimit>(),
            Err(RateLimitError::OutOfRange { .. })
        ));
    }

    #[test]
    fn refuses_what_celery_refuses_and_more() {
        let err = RateLimit::parse("abc/s").unwrap_err();
        assert_eq!(err.to_string(), "could not convert string to float: 'abc'");
        assert_eq!(
            RateLimit::parse("/s").unwrap_err(),
            RateLimitError::Count {
                count: String::new()
            }
        );
        assert_eq!(
            RateLimit::parse("10/x").unwrap_err(),
            RateLimitError::Unit { unit: "x".into() }
        );
        assert_eq!(
            RateLimit::parse("10/sec").unwrap_err(),
            RateLimitError::Unit { unit: "sec".into() }
        );
        for bad in ["-5/s", "inf", "NaN/m"] {
            assert!(
                matches!(
                    RateLimit::parse(bad),
                    Err(RateLimitError::OutOfRange { .. })
                ),
                "{bad}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn first_token_at_once_then_one_per_interval() {
        let bucket = TokenBucket::new(&rate("2/s"));
        let start = Instant::now();
        bucket.take().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        bucket.take().await;
        bucket.take().await;
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_secs(1) && elapsed < Duration::from_millis(1010),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn saves_up_at_most_one_token() {
        let bucket = TokenBucket::new(&rate("1/s"));
        bucket.take().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let start = Instant::now();
        bucket.take().await;
        assert_eq!(start.elapsed(), Duration::ZERO, "one token saved up");
        bucket.take().await;
        assert!(start.elapsed() >= Duration::from_secs(1), "but only one");
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_are_served_in_order_and_a_dropped_one_takes_nothing() {
        let bucket = Arc::new(TokenBucket::new(&rate("10/s")));
        bucket.take().await;
        // a waiter that gives up before its token: it must not use one up
        let gave_up = tokio::time::timeout(Duration::from_millis(50), bucket.take()).await;
        assert!(gave_up.is_err());
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let start = Instant::now();
        let mut handles = Vec::new();
        for i in 0..5 {
            let (bucket, order) = (bucket.clone(), order.clone());
            handles.push(tokio::spawn(async move {
                bucket.take().await;
                order.lock().unwrap().push((i, start.elapsed()));
            }));
            tokio::task::yield_now().await;
        }
        for h in handles {
            h.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        let ids: Vec<i32> = order.iter().map(|(i, _)| *i).collect();
        assert_eq!(ids, [0, 1, 2, 3, 4]);
        // 50 ms already passed toward the next token: 50, 150, 250, 350, 450 ms
        let last = order[4].1;
        assert!(
            last >= Duration::from_millis(450) && last < Duration::from_millis(460),
            "{last:?}"
        );
    }
}
