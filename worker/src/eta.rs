//! ETA/countdown holding: a message whose `eta` is in the future stays unacked in memory until it
//! is due. Like Celery, each held message widens the channel's prefetch window by one (global QoS
//! on classic queues), up to `eta_limit`, so held messages do not starve the worker; beyond the
//! limit they occupy ordinary prefetch slots, which bounds how many can be held.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lapin::Channel;
use lapin::options::BasicQosOptions;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// Whether a held message became due or the worker is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// Run it now.
    Due,
    /// Shutdown: requeue it.
    Stopped,
}

/// The per-session ETA bookkeeping and the QoS adjustments that go with it.
pub(crate) struct EtaWindow {
    channel: Channel,
    base_prefetch: u16,
    limit: u32,
    adjust_qos: bool,
    consumer_timeout: Duration,
    held: Mutex<u32>,
}

impl EtaWindow {
    /// `adjust_qos` is false on quorum queues (no global QoS) and when prefetch is unlimited.
    pub(crate) fn new(
        channel: Channel,
        base_prefetch: u16,
        limit: u32,
        global_qos: bool,
        consumer_timeout: Duration,
    ) -> Self {
        Self {
            channel,
            base_prefetch,
            limit,
            adjust_qos: global_qos && base_prefetch > 0 && limit > 0,
            consumer_timeout,
            held: Mutex::new(0),
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
        self.change(1).await;
        let outcome = tokio::select! {
            () = tokio::time::sleep(wait) => Hold::Due,
            () = stop.cancelled() => Hold::Stopped,
        };
        self.change(-1).await;
        outcome
    }

    async fn change(&self, delta: i32) {
        let mut held = self.held.lock().await;
        *held = held.saturating_add_signed(delta);
        if !self.adjust_qos {
            return;
        }
        let extra = u16::try_from((*held).min(self.limit)).unwrap_or(u16::MAX);
        let prefetch = self.base_prefetch.saturating_add(extra);
        // The lock is held across the RPC so QoS updates reach the broker in order.
        if let Err(err) = self
            .channel
            .basic_qos(prefetch, BasicQosOptions { global: true })
            .await
        {
            tracing::debug!(cause = %err, prefetch, "could not adjust prefetch for held eta messages");
        }
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
