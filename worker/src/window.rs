//! Owns the consuming channel's prefetch window (`basic.qos`), so that prefetch counts only the
//! messages reserved or running. The broker counts every unacked delivery against the prefetch
//! count; with `acks_late` a delivery stays unacked after its task ended until its reply is
//! confirmed and the ack is sent, which with small windows and fast tasks leaves most of the
//! window waiting on confirms. So, as Celery's QoS does for ETA messages, the window is widened:
//!
//! ```text
//! prefetch = base (concurrency × multiplier)
//!          + held ETA messages, up to eta-limit
//!          + slots for settling deliveries (outcome decided, awaiting confirm and ack), up to
//!            SETTLE_LIMIT, quantized and widened only while the window is full
//! ```
//!
//! The settling part moves in steps with hysteresis ([`Plan::settle_extra`]): it is raised at
//! once, to at least double, when deliveries are settling beyond it *and* the window is full
//! (otherwise the broker is not held back and a `basic.qos` would buy nothing). It is lowered
//! only by the decay tick ([`Plan::decayed_extra`], every [`DECAY`] while the extra is above
//! zero), to fit the most deliveries seen settling since the previous tick, or to zero when none
//! were. Narrowing on every ack instead made the window swing between the base and its peak
//! hundreds of times a second with tiny tasks (each swing a `basic.qos` round trip, and a
//! broker that idles while the window is narrow), while a long-running task gains nothing from
//! a quicker narrowing: the messages the broker already sent stay reserved either way. One task
//! sends the frames ([`Window::run`]): changes made while a `basic.qos` is in flight coalesce
//! into the next one.
//! Memory stays bounded: at most `base + eta-limit + SETTLE_LIMIT` deliveries are held.
//!
//! Only on global QoS (classic queues) and a limited base: a per-consumer QoS change would only
//! apply to consumers started after it, so with a quorum queue the window stays at its base.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use lapin::Channel;
use lapin::options::BasicQosOptions;
use metrics::{Counter, Gauge};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Most extra slots given to settling deliveries. With tiny tasks the extra climbs to this
/// limit (the broker refills what settles), so it sets the default-flag throughput and the
/// worst-case memory: each held delivery costs a few KiB.
pub(crate) const SETTLE_LIMIT: u32 = 256;

/// How often a widened settling extra is fitted down to the deliveries seen settling since.
pub(crate) const DECAY: Duration = Duration::from_millis(250);

/// The arithmetic of the window: fixed for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// concurrency × multiplier.
    base: u32,
    /// Most ETA messages the window widens for.
    eta_limit: u32,
    /// Most extra slots for settling deliveries.
    settle_limit: u32,
    /// The quantum of the settling extra.
    step: u32,
}

/// What the ack ledger knows: deliveries not settled yet, and how many of them are settling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Load {
    /// Delivered and not yet acked, rejected or requeued (what the broker counts).
    pub(crate) unsettled: u32,
    /// Of those, the ones whose outcome is decided: awaiting a reply confirm or the ack.
    pub(crate) settling: u32,
}

impl Plan {
    pub(crate) fn new(base: u16, eta_limit: u32, settle_limit: u32) -> Self {
        let base = u32::from(base);
        Self {
            base,
            eta_limit,
            settle_limit,
            step: (base / 4).clamp(1, 64),
        }
    }

    /// The extra slots for settling deliveries after a ledger change: the current extra
    /// `current`, raised (never lowered) when the ledger's `load` has more deliveries settling
    /// than it and fills the window widened for `held` ETA messages: to fit them, and to at
    /// least twice the current extra.
    pub(crate) fn settle_extra(&self, current: u32, load: Load, held: u32) -> u32 {
        let window = self.base + self.eta_extra(held) + current;
        let full = load.unsettled >= window;
        if load.settling > current && full {
            // at least doubled, so a stream of tiny tasks reaches its width in a few frames
            self.fitted(load.settling.max(current.saturating_mul(2)))
        } else {
            current.min(self.settle_limit)
        }
    }

    /// The extra at a decay tick: fitted to `peak`, the most deliveries seen settling since the
    /// previous tick, when that is lower than `current` (zero when none settled).
    pub(crate) fn decayed_extra(&self, current: u32, peak: u32) -> u32 {
        if peak == 0 {
            0
        } else {
            current.min(self.fitted(peak))
        }
    }

    /// Room for `settling` deliveries: whole steps past it, within the limit.
    fn fitted(&self, settling: u32) -> u32 {
        (settling.div_ceil(self.step) * self.step + self.step).min(self.settle_limit)
    }

    fn eta_extra(&self, held: u32) -> u32 {
        held.min(self.eta_limit)
    }

    /// The prefetch count for `held` ETA messages and a settling extra of `extra`.
    pub(crate) fn prefetch(&self, held: u32, extra: u32) -> u16 {
        let total = self.base + self.eta_extra(held) + extra;
        u16::try_from(total).unwrap_or(u16::MAX)
    }
}

/// The window's gauges: the prefetch count in force and how many times it was changed.
#[derive(Clone)]
pub(crate) struct WindowMetrics {
    pub(crate) prefetch: Gauge,
    pub(crate) updates: Counter,
    /// The prefetch count in force, for `inspect stats` (Python reports its QoS value there).
    pub(crate) in_force: Arc<AtomicU16>,
}

impl WindowMetrics {
    fn set(&self, prefetch: u16) {
        self.prefetch.set(f64::from(prefetch));
        self.in_force.store(prefetch, Ordering::Relaxed);
    }

    /// The prefetch count in force on the consuming channel.
    pub(crate) fn in_force(&self) -> u16 {
        self.in_force.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
struct State {
    load: Load,
    held: u32,
    /// The current settling extra.
    extra: u32,
    /// The most deliveries seen settling since the previous decay tick.
    peak: u32,
    /// The prefetch count wanted now; the sender makes the broker's equal to it.
    wanted: u16,
}

/// The prefetch window of one consuming channel.
pub(crate) struct Window {
    channel: Channel,
    plan: Plan,
    /// False on per-consumer QoS (quorum queues) and with an unlimited base: nothing is sent.
    adjust: bool,
    state: Mutex<State>,
    wake: Notify,
    metrics: WindowMetrics,
}

impl Window {
    /// The window of `channel`, whose prefetch is `base` now (set by the session).
    pub(crate) fn new(
        channel: Channel,
        plan: Plan,
        global_qos: bool,
        metrics: WindowMetrics,
    ) -> Arc<Self> {
        let base = plan.prefetch(0, 0);
        metrics.set(base);
        Arc::new(Self {
            channel,
            plan,
            adjust: global_qos && base > 0,
            state: Mutex::new(State {
                wanted: base,
                ..State::default()
            }),
            wake: Notify::new(),
            metrics,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The ack ledger changed (called under the ledger's lock, so loads arrive in order).
    pub(crate) fn ledger_changed(&self, load: Load) {
        let mut state = self.state();
        state.load = load;
        state.peak = state.peak.max(load.settling);
        self.replan(&mut state);
    }

    /// One more (`true`) or one fewer ETA message held in memory.
    pub(crate) fn eta_held(&self, more: bool) {
        let mut state = self.state();
        state.held = if more {
            state.held.saturating_add(1)
        } else {
            state.held.saturating_sub(1)
        };
        self.replan(&mut state);
    }

    fn replan(&self, state: &mut State) {
        if !self.adjust {
            return;
        }
        state.extra = self.plan.settle_extra(state.extra, state.load, state.held);
        self.want(state);
    }

    /// The decay tick: narrows the settling extra to what the last period needed.
    fn decay(&self) {
        let mut state = self.state();
        state.extra = self.plan.decayed_extra(state.extra, state.peak);
        state.peak = state.load.settling;
        self.want(&mut state);
    }

    fn want(&self, state: &mut State) {
        let wanted = self.plan.prefetch(state.held, state.extra);
        if wanted != state.wanted {
            state.wanted = wanted;
            self.wake.notify_one();
        }
    }

    /// The sender: makes the channel's prefetch follow the wanted one until `stop` or until the
    /// channel fails (the session is then going away).
    pub(crate) async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut sent = self.plan.prefetch(0, 0);
        let mut next_decay = tokio::time::Instant::now() + DECAY;
        loop {
            let (wanted, load, held, extra) = {
                let s = self.state();
                (s.wanted, s.load, s.held, s.extra)
            };
            if tokio::time::Instant::now() >= next_decay {
                next_decay = tokio::time::Instant::now() + DECAY;
                if extra > 0 {
                    self.decay();
                    continue;
                }
            }
            if wanted == sent {
                // Idle (nothing widened) the task sleeps until the ledger wakes it.
                let tick = async {
                    if extra > 0 {
                        tokio::time::sleep_until(next_decay).await;
                    } else {
                        std::future::pending::<()>().await;
                    }
                };
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = self.wake.notified() => {
                        if extra == 0 {
                            next_decay = tokio::time::Instant::now() + DECAY;
                        }
                        continue;
                    }
                    () = tick => continue,
                }
            }
            let options = BasicQosOptions { global: true };
            if let Err(err) = self.channel.basic_qos(wanted, options).await {
                tracing::debug!(cause = %err, prefetch = wanted, "could not change the prefetch window");
                return;
            }
            sent = wanted;
            self.metrics.set(sent);
            self.metrics.updates.increment(1);
            tracing::debug!(
                prefetch = sent,
                unsettled = load.unsettled,
                settling = load.settling,
                eta_held = held,
                "prefetch window changed"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(unsettled: u32, settling: u32) -> Load {
        Load {
            unsettled,
            settling,
        }
    }

    #[test]
    fn steps_are_a_quarter_of_the_base_within_bounds() {
        assert_eq!(Plan::new(8, 1000, 256).step, 2);
        assert_eq!(Plan::new(1, 1000, 256).step, 1);
        assert_eq!(Plan::new(2000, 1000, 256).step, 64);
    }

    #[test]
    fn widens_only_when_settling_deliveries_fill_the_window() {
        let p = Plan::new(8, 1000, 256);
        // two settling of three unsettled: the broker can still send five more
        assert_eq!(p.settle_extra(0, load(3, 2), 0), 0);
        // the window is full and six of eight only await their confirm: widen past them
        assert_eq!(p.settle_extra(0, load(8, 6), 0), 8);
        assert_eq!(p.prefetch(0, 8), 16);
        // full again with a few more settling than the extra: at least doubled, in whole steps
        // past it (a stream of tiny tasks reaches its width in a few frames)
        assert_eq!(p.settle_extra(8, load(16, 9), 0), 18);
        // far more than double: fitted to them
        assert_eq!(p.settle_extra(8, load(40, 29), 0), 32);
    }

    #[test]
    fn a_ledger_change_never_narrows() {
        let p = Plan::new(8, 1000, 256);
        // acks come and go between ticks: the extra holds, so no frame is sent
        for settling in 0..=16 {
            assert_eq!(p.settle_extra(16, load(24, settling), 0), 16, "{settling}");
        }
    }

    #[test]
    fn the_decay_tick_fits_the_peak_of_the_last_period() {
        let p = Plan::new(8, 1000, 256);
        // at most eleven settled since the last tick: fitted to whole steps past them
        assert_eq!(p.decayed_extra(16, 11), 14);
        // the peak needs more than the extra: a tick never widens (the ledger does)
        assert_eq!(p.decayed_extra(16, 15), 16);
        // nothing settled over the whole period: back to the base exactly
        assert_eq!(p.decayed_extra(16, 0), 0);
        assert_eq!(p.prefetch(0, 0), 8);
    }

    #[test]
    fn bounded_by_the_limits() {
        let p = Plan::new(8, 3, 20);
        assert_eq!(p.settle_extra(0, load(500, 400), 0), 20);
        assert_eq!(p.settle_extra(20, load(500, 400), 0), 20);
        // held ETA messages widen up to eta_limit only
        assert_eq!(p.prefetch(10, 20), 8 + 3 + 20);
        assert_eq!(Plan::new(u16::MAX, 1000, 256).prefetch(1000, 256), u16::MAX);
    }

    #[test]
    fn held_eta_messages_count_in_the_fullness() {
        let p = Plan::new(8, 1000, 256);
        // ten held widen the window to 18: twelve unsettled with four settling is not full
        assert_eq!(p.settle_extra(0, load(12, 4), 10), 0);
        assert_eq!(p.settle_extra(0, load(18, 4), 10), 6);
    }
}
