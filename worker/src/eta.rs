//! ETA/countdown holding: a message whose `eta` is in the future stays unacked in memory until it
//! is due. Like Celery, each held message widens the channel's prefetch window by one (global QoS
//! on classic queues), up to `eta_limit` (the [`Window`] does the sums and sends `basic.qos`), so
//! held messages do not starve the worker; beyond the limit they occupy ordinary prefetch slots,
//! which bounds how many can be held.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::window::Window;

/// Whether a held message became due or the worker is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// Run it now.
    Due,
    /// Shutdown: requeue it.
    Stopped,
}

/// The per-session ETA holding.
pub(crate) struct EtaWindow {
    window: Arc<Window>,
    consumer_timeout: Duration,
}

impl EtaWindow {
    pub(crate) fn new(window: Arc<Window>, consumer_timeout: Duration) -> Self {
        Self {
            window,
            consumer_timeout,
        }
    }

    /// How long until `eta`, if it is in the future.
    pub(crate) fn remaining(eta: DateTime<Utc>, now: DateTime<Utc>) -> Option<Duration> {
        (eta - now).to_std().ok().filter(|d| !d.is_zero())
    }

    /// Holds the current message for `wait`, or until `stop` fires.
    pub(crate) async fn hold(&self, wait: Duration, stop: &CancellationToken) -> Hold {
        if wait > self.consumer_timeout {
            tracing::warn!(
                wait_secs = wait.as_secs(),
                consumer_timeout_secs = self.consumer_timeout.as_secs(),
                "eta lies beyond RabbitMQ's consumer_timeout: the broker will close the channel \
                 before it is due and the message will be redelivered"
            );
        }
        self.window.eta_held(true);
        let outcome = tokio::select! {
            () = tokio::time::sleep(wait) => Hold::Due,
            () = stop.cancelled() => Hold::Stopped,
        };
        self.window.eta_held(false);
        outcome
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn remaining_is_none_for_past_or_present() {
        let now = Utc::now();
        assert_eq!(EtaWindow::remaining(now, now), None);
        assert_eq!(
            EtaWindow::remaining(now - chrono::Duration::seconds(5), now),
            None
        );
        assert_eq!(
            EtaWindow::remaining(now + chrono::Duration::milliseconds(1500), now),
            Some(Duration::from_millis(1500))
        );
    }
}
