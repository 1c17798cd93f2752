//! Backoff arithmetic, pure and clock-free: Celery's retry countdown (exponential with full
//! jitter and a cap) and the reconnect delay. Randomness comes in as an argument so tests are exact.

use std::time::Duration;

use crate::task::BackoffPolicy;

/// Celery's `get_exponential_backoff_interval`: `min(max, factor × 2^retries)`, then, with
/// jitter, a uniform pick in `[0, that]`. `pick(n)` must return a value in `0..=n`.
pub(crate) fn retry_delay(
    policy: &BackoffPolicy,
    retries: u32,
    pick: impl FnOnce(u64) -> u64,
) -> Duration {
    let capped = exponential(policy.factor, retries, policy.max);
    if policy.jitter {
        let ms = u64::try_from(capped.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(pick(ms).min(ms))
    } else {
        capped
    }
}

/// Delay before reconnect attempt `attempt` (0-based): exponential from `initial`, capped at
/// `max`, with "equal jitter" (half fixed, half random) so attempts never bunch at zero.
pub(crate) fn reconnect_delay(
    initial: Duration,
    max: Duration,
    attempt: u32,
    pick: impl FnOnce(u64) -> u64,
) -> Duration {
    let capped = exponential(initial, attempt, max);
    let half = u64::try_from(capped.as_millis() / 2).unwrap_or(u64::MAX / 2);
    Duration::from_millis(half + pick(half).min(half))
}

/// `min(max, base × 2^n)` without overflow.
fn exponential(base: Duration, n: u32, max: Duration) -> Duration {
    let factor = 1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX);
    base.checked_mul(factor).map_or(max, |d| d.min(max))
}

/// A uniform pick in `0..=n` from the thread RNG, for production callers.
pub(crate) fn random_pick(n: u64) -> u64 {
    rand::random_range(0..=n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn policy(jitter: bool) -> BackoffPolicy {
        BackoffPolicy {
            factor: Duration::from_secs(1),
            max: Duration::from_mins(10),
            jitter,
        }
    }

    #[test]
    fn retry_delay_doubles_until_the_cap() {
        let p = policy(false);
        let secs: Vec<u64> = (0..12)
            .map(|r| retry_delay(&p, r, |_| 0).as_secs())
            .collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(retry_delay(&p, u32::MAX, |_| 0), Duration::from_mins(10));
    }

    #[test]
    fn full_jitter_picks_in_zero_to_delay() {
        let p = policy(true);
        assert_eq!(retry_delay(&p, 3, |n| n), Duration::from_secs(8));
        assert_eq!(retry_delay(&p, 3, |_| 0), Duration::ZERO);
        assert_eq!(retry_delay(&p, 3, |n| n / 2), Duration::from_secs(4));
        // a misbehaving picker cannot exceed the delay
        assert_eq!(retry_delay(&p, 3, |_| u64::MAX), Duration::from_secs(8));
        for _ in 0..1000 {
            assert!(retry_delay(&p, 20, random_pick) <= Duration::from_mins(10));
        }
    }

    #[test]
    fn reconnect_delay_is_at_least_half_and_capped() {
        let (i, m) = (Duration::from_millis(200), Duration::from_secs(30));
        assert_eq!(reconnect_delay(i, m, 0, |_| 0), Duration::from_millis(100));
        assert_eq!(reconnect_delay(i, m, 0, |n| n), Duration::from_millis(200));
        assert_eq!(reconnect_delay(i, m, 3, |_| 0), Duration::from_millis(800));
        assert_eq!(reconnect_delay(i, m, 40, |n| n), m);
    }
}
