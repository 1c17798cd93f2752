//! The [`Worker`]: owns the registry, metrics and concurrency limit, keeps a broker session alive
//! (reconnecting with backoff), and shuts down gracefully: stop consuming, let running tasks
//! finish within the grace period, requeue what did not start, close cleanly.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::acks::Acks;
use crate::backoff::{random_pick, reconnect_delay};
use crate::config::{Config, ConfigError};
use crate::consumer::{self, SessionCtx, Shared, error_chain};
use crate::control::{self, Node, Queues, WorkerState};
use crate::eta::EtaWindow;
use crate::events::{self, Events};
use crate::health::{self, Health};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::task_limits::TaskLimits;
use crate::window::{Plan, SETTLE_LIMIT, Window};
use celeriac_broker::{BrokerError, BrokerOptions, Deliveries, Session};

/// Why the worker stopped with an error (a clean shutdown is `Ok`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The broker refused something a reconnect would not fix (e.g. a queue argument mismatch).
    #[error("broker error")]
    Broker(#[source] Box<BrokerError>),
    /// The per-task settings of the config file are invalid.
    #[error("invalid configuration")]
    Config(#[from] ConfigError),
    /// The health/metrics endpoint could not listen.
    #[error("cannot listen on {addr} for /healthz and /metrics")]
    MetricsListen {
        /// The configured address.
        addr: std::net::SocketAddr,
        /// The bind error.
        #[source]
        source: std::io::Error,
    },
}

impl From<BrokerError> for WorkerError {
    fn from(err: BrokerError) -> Self {
        WorkerError::Broker(Box::new(err))
    }
}

/// How a session's delivery loop ended.
enum LoopEnd {
    /// Shutdown requested.
    Stop,
    /// The connection or the consumers went away.
    Lost(Option<lapin::Error>),
}

/// A Celery-compatible worker: configuration plus the tasks it runs.
pub struct Worker {
    config: Config,
    registry: Registry,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.config)
            .field("registry", &self.registry)
            .finish()
    }
}

impl Worker {
    /// A worker for `config` running the tasks of `registry` (per-task settings from the config
    /// file are applied here).
    ///
    /// # Errors
    /// [`WorkerError::Config`] if a per-task setting is invalid.
    pub fn new(config: Config, mut registry: Registry) -> Result<Self, WorkerError> {
        for name in registry.apply_overrides(&config.task_overrides)? {
            tracing::warn!(task = %name, "config file has settings for a task that is not registered");
        }
        Ok(Self { config, registry })
    }

    /// Runs until `shutdown` is cancelled, then shuts down gracefully.
    ///
    /// # Errors
    /// A [`WorkerError`] for problems a reconnect cannot fix; connection losses are retried.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let Worker { config, registry } = self;
        let metrics = Arc::new(Metrics::new(registry.names()));
        let health = Arc::new(Health::default());
        let ops_stop = CancellationToken::new();
        let _ops_guard = ops_stop.clone().drop_guard();
        start_ops(&config, &health, &metrics, &ops_stop).await?;
        let hostname: Arc<str> = config.hostname.as_str().into();
        let (events, event_buffer) = Events::new(&config.events, metrics.events.clone());
        let limits = TaskLimits::new(&registry);
        let shared = Arc::new(Shared {
            limits,
            registry,
            state: WorkerState::new(hostname.clone()),
            metrics: metrics.clone(),
            hostname,
            permits: Arc::new(Semaphore::new(
                usize::try_from(config.concurrency).unwrap_or(1),
            )),
            stop: CancellationToken::new(),
            abandon: CancellationToken::new(),
            events,
        });
        let node = Arc::new(control_node(&config, &shared, &shutdown));
        let events = events::Runner::start(&config, &shared, &health, event_buffer);
        let tracker = TaskTracker::new();
        let last = keep_consuming(&config, &node, &health, &tracker, &shutdown).await?;
        drain(&config, &shared, &tracker, last).await;
        events.finish().await;
        Ok(())
    }
}

/// What remote control answers about this worker.
fn control_node(config: &Config, shared: &Arc<Shared>, shutdown: &CancellationToken) -> Node {
    let queues: Vec<&str> = config.queues.iter().map(|q| q.name.as_str()).collect();
    let arguments = config.queue_arguments.clone();
    let consumed = Queues::new(config.queues.clone(), move |name| {
        crate::config::spec_of(name.to_owned(), &arguments)
    });
    let conf = serde_json::json!({
        "broker_url": config.broker.safe_url(),
        "result_backend": "rpc://",
        "task_acks_late": true,
        "task_default_queue": queues.first(),
        "worker_concurrency": config.concurrency,
        "worker_prefetch_multiplier": config.prefetch_multiplier,
        "worker_hostname": config.hostname,
        "worker_queues": queues,
    });
    Node {
        shared: shared.clone(),
        concurrency: config.concurrency,
        queues: consumed,
        broker: config.broker.info(),
        conf,
        shutdown: shutdown.clone(),
    }
}

async fn start_ops(
    config: &Config,
    health: &Arc<Health>,
    metrics: &Arc<Metrics>,
    stop: &CancellationToken,
) -> Result<(), WorkerError> {
    if let Some(addr) = config.metrics_listen {
        let listener = health::bind(addr)
            .await
            .map_err(|source| WorkerError::MetricsListen { addr, source })?;
        let local = listener.local_addr().unwrap_or(addr);
        tracing::info!(addr = %local, "serving /healthz and /metrics");
        tokio::spawn(health::serve(
            listener,
            health.clone(),
            metrics.clone(),
            stop.clone(),
        ));
    }
    let (metrics, stop) = (metrics.clone(), stop.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => metrics.upkeep(),
            }
        }
    });
    Ok(())
}

/// A connected session, the ack flusher and the prefetch window of its consuming channel.
struct Live {
    session: Session,
    acks: Arc<Acks>,
    window: Arc<Window>,
    flush_stop: CancellationToken,
    flusher: tokio::task::JoinHandle<()>,
}

impl Live {
    fn new(session: Session, config: &Config, shared: &Shared) -> Self {
        let channel = session.consume_channel();
        let plan = Plan::new(config.prefetch(), config.eta_limit, SETTLE_LIMIT);
        let window_metrics = shared.metrics.window.clone();
        let window = Window::new(
            channel.clone(),
            plan,
            !config.has_quorum_queue(),
            window_metrics,
        );
        let acks = Acks::new(channel.clone(), window.clone());
        let flush_stop = CancellationToken::new();
        let flusher = tokio::spawn(acks.clone().run(flush_stop.clone()));
        tokio::spawn(window.clone().run(flush_stop.clone()));
        Self {
            session,
            acks,
            window,
            flush_stop,
            flusher,
        }
    }

    /// Sends the last acks, then closes the connection (unacked deliveries return to the queue).
    async fn close(self) {
        self.flush_stop.cancel();
        let _ = self.flusher.await;
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            self.session.close("worker shutting down"),
        )
        .await;
    }
}

/// Connects, consumes, and reconnects with backoff until shutdown; returns the live session.
async fn keep_consuming(
    config: &Config,
    node: &Arc<Node>,
    health: &Health,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<Option<Live>, WorkerError> {
    let shared = &node.shared;
    let connection_name = format!("celeriac worker {}", config.hostname);
    let mut failures: u32 = 0;
    let mut connected_before = false;
    loop {
        // what remote control's add_consumer / cancel_consumer left to consume
        let queues = node.queues.current();
        let options = BrokerOptions {
            url: &config.broker,
            connection_name: &connection_name,
            queues: &queues,
            prefetch: config.prefetch(),
        };
        let opened = tokio::select! {
            () = shutdown.cancelled() => return Ok(None),
            opened = Session::open(&options) => opened,
        };
        match opened {
            Ok((session, deliveries)) => {
                if connected_before {
                    shared.metrics.reconnects.increment(1);
                }
                (connected_before, failures) = (true, 0);
                let live = Live::new(session, config, shared);
                set_online(health, shared, true);
                let end = consume(config, &live, deliveries, node, tracker, shutdown).await;
                set_online(health, shared, false);
                match end {
                    LoopEnd::Stop => return Ok(Some(live)),
                    LoopEnd::Lost(err) => {
                        let cause = err.as_ref().map_or_else(
                            || "consumers cancelled by the broker".to_owned(),
                            ToString::to_string,
                        );
                        tracing::warn!(%cause, "lost the broker connection: reconnecting");
                        live.close().await;
                    }
                }
            }
            Err(err) if !err.is_connection_error() => return Err(err.into()),
            Err(err) => {
                let delay = reconnect_delay(
                    config.reconnect_initial,
                    config.reconnect_max,
                    failures,
                    random_pick,
                );
                tracing::warn!(cause = %error_chain(&err), retry_in_ms = delay.as_millis(), "cannot reach the broker");
                failures = failures.saturating_add(1);
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(None),
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

fn set_online(health: &Health, shared: &Shared, online: bool) {
    health.set_connected(online);
    health.set_consuming(online);
    shared.metrics.connected.set(if online { 1.0 } else { 0.0 });
}

fn log_connected(config: &Config, queues: &Queues) {
    let queues: Vec<String> = queues.current().into_iter().map(|q| q.name).collect();
    tracing::info!(
        broker = %config.broker,
        queues = ?queues,
        concurrency = config.concurrency,
        prefetch = config.prefetch(),
        hostname = %config.hostname,
        "connected: consuming"
    );
}

/// The delivery loop of one session: open the remote-control mailbox, then spawn a handler per
/// delivery until shutdown or loss.
async fn consume(
    config: &Config,
    live: &Live,
    mut deliveries: Deliveries,
    node: &Arc<Node>,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> LoopEnd {
    let shared = &node.shared;
    let gone = shared.stop.child_token();
    let _gone_guard = gone.clone().drop_guard();
    let session = &live.session;
    let ctx = Arc::new(SessionCtx {
        publisher: session.publisher(),
        acks: live.acks.clone(),
        eta: EtaWindow::new(live.window.clone(), config.consumer_timeout),
        gone: gone.clone(),
    });
    match session.open_mailbox(&config.hostname).await {
        Ok((mailbox, requests)) => {
            tokio::spawn(control::serve(
                node.clone(),
                mailbox,
                requests,
                gone.clone(),
            ));
        }
        Err(err) => tracing::warn!(
            cause = %error_chain(&err),
            "remote control unavailable on this connection (celery inspect/control will not see this worker)"
        ),
    }
    log_connected(config, &node.queues);
    let mut changes = node.queues.attach();
    let end = loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break LoopEnd::Stop,
            Some(change) = changes.recv() => {
                control::apply_queue_change(session, &mut deliveries, change).await;
            }
            next = deliveries.next(), if !deliveries.is_empty() => match next {
                Some(Ok(delivery)) => {
                    live.acks.register(delivery.delivery_tag);
                    tracker.spawn(consumer::handle(shared.clone(), ctx.clone(), delivery));
                }
                Some(Err(err)) => break LoopEnd::Lost(Some(err)),
                // every consumer ended: cancelled through remote control (wait for an
                // add_consumer), or by the broker (reconnect)
                None if node.queues.is_empty() => {
                    tracing::warn!("consuming from no queue (all cancelled by remote control)");
                }
                None => break LoopEnd::Lost(None),
            },
        }
    };
    node.queues.detach();
    end
}

/// Graceful shutdown: cancel consumers, requeue unstarted work, wait for running tasks up to the
/// grace period, abandon the rest, close the connection.
async fn drain(config: &Config, shared: &Shared, tracker: &TaskTracker, live: Option<Live>) {
    if let Some(live) = &live {
        live.session.cancel_consumers().await;
    }
    shared.stop.cancel();
    tracker.close();
    tracing::info!(
        tasks = tracker.len(),
        grace_secs = config.shutdown_grace.as_secs_f64(),
        "warm shutdown: waiting for running tasks"
    );
    if tokio::time::timeout(config.shutdown_grace, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            tasks = tracker.len(),
            "grace period over: abandoning running tasks (their messages are requeued)"
        );
        shared.abandon.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await;
    }
    if let Some(live) = live {
        live.close().await;
    }
    tracing::info!("worker stopped");
}
