//! What the delivery handlers share: [`Shared`] for the worker's lifetime (registry, state,
//! metrics, concurrency permits, stop tokens, events) and [`SessionCtx`] for one broker
//! connection (publisher, ack ledger, ETA holding, the connection's cancellation).

use std::sync::Arc;

use celeriac_broker::Publisher;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::acks::Acks;
use crate::control::WorkerState;
use crate::eta::EtaWindow;
use crate::events::Events;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::task_limits::TaskLimits;

/// What every delivery handler shares, for the worker's lifetime.
pub(crate) struct Shared {
    pub(crate) registry: Registry,
    /// What remote control reads: requests held, totals, clock, revoked ids.
    pub(crate) state: WorkerState,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) hostname: Arc<str>,
    /// Concurrency limit: a permit per running task.
    pub(crate) permits: Arc<Semaphore>,
    /// Shutdown requested: start nothing new, requeue what has not started.
    pub(crate) stop: CancellationToken,
    /// Grace period over: drop running tasks (their messages are requeued).
    pub(crate) abandon: CancellationToken,
    /// Monitoring events (`celeryev`).
    pub(crate) events: Events,
    /// Rate limits and remote-control time limits, per task.
    pub(crate) limits: TaskLimits,
}

/// What the handlers of one broker connection share.
pub(crate) struct SessionCtx {
    pub(crate) publisher: Publisher,
    /// The ack ledger of the consuming channel (it also drives the prefetch window).
    pub(crate) acks: Arc<Acks>,
    pub(crate) eta: EtaWindow,
    /// Cancelled when this connection is lost or the worker stops (a child of `Shared::stop`):
    /// held and waiting deliveries give up; the broker redelivers them.
    pub(crate) gone: CancellationToken,
}
