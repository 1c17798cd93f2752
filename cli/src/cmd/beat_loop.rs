//! `celeriac beat` without `--list`: the scheduler process. It publishes each due slot with
//! publisher confirms and records it only once confirmed (a failed publish is retried on the
//! next look, with the same task id).
//!
//! With a catalog database, any number of beats run and one leads: each waits for the
//! catalog's beat leader lock (`LockKind::BeatLeader`: a PostgreSQL advisory lock on a
//! connection of its own, or a file lock beside a SQLite catalog), the holder reads every
//! entry's last slot from the catalog, publishes, records each handled slot there, and checks
//! its lock every few seconds, stepping down when the lock's session is gone. The leader also
//! pulls the dead man's switch (`celeriac_job::watchdog`): when it takes the lead and every
//! few minutes after, no `VERIFIED` backup within `[job] max-age-hours` raises one
//! `BACKUP_MISSING` alert. Without a catalog, beat is the only scheduler and keeps its last
//! slots in memory.
//!
//! With `--metrics-listen` (or `[beat] metrics-listen`) beat serves `/healthz` and `/metrics`
//! from the facts this loop keeps in a [`BeatStatus`] (see `beat_ops`). A publishing beat keeps
//! its broker connection open between slots, so that `/healthz` tells a broker outage before
//! the next slot falls due.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use celeriac_broker::BrokerUrl;
use celeriac_catalog::{Catalog, LockKind, RunLock, SlotRecord};
use celeriac_scheduler::{BeatConfig, Clock, EntryDue, Sender, Skipped, SystemClock, Ticker};
use tokio_util::sync::CancellationToken;

use crate::cmd::beat_ops::{BeatStatus, Freshness, Role};
use crate::cmd::beat_publisher::Publisher;
use crate::cmd::database;
use crate::cmd::runtime;
use crate::cmd::status::OK;

/// How long to wait before retrying after the broker or the catalog failed.
const RETRY: Duration = Duration::from_secs(2);

/// How often a leader checks its lock between slots.
const LEADER_CHECK: Duration = Duration::from_secs(2);

/// How often the leader checks that backups are not missing.
const WATCHDOG_EVERY: Duration = Duration::from_mins(5);

/// How long a lock check may take before the lock counts as lost.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// What `celeriac beat` runs with, validated by the command.
pub(crate) struct Launch<'a> {
    pub(crate) config: &'a BeatConfig,
    pub(crate) broker: &'a BrokerUrl,
    /// The catalog holding the leader lock and the last slots (`None`: single instance, in
    /// memory).
    pub(crate) catalog_url: Option<&'a str>,
    /// The dead man's switch's window.
    pub(crate) max_age: chrono::Duration,
    /// Where `/healthz` and `/metrics` listen, if anywhere.
    pub(crate) metrics_listen: Option<SocketAddr>,
}

/// Runs the loop until SIGTERM/SIGINT.
pub(crate) fn run(launch: &Launch<'_>) -> anyhow::Result<u8> {
    let config = launch.config;
    runtime::block_on(async {
        let stop = CancellationToken::new();
        runtime::cancel_on_interrupt(stop.clone());
        let clock: &'static SystemClock = &SystemClock;
        let status = Arc::new(BeatStatus::new(
            clock,
            &config.entries,
            launch.catalog_url.is_some(),
        ));
        if let Some(addr) = launch.metrics_listen {
            let listener = celeriac_ops::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for /healthz and /metrics"))?;
            let local = listener.local_addr().unwrap_or(addr);
            tracing::info!(addr = %local, "beat: serving /healthz and /metrics");
            tokio::spawn(celeriac_ops::serve(listener, status.clone(), stop.clone()));
        }
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_owned());
        let beat = Beat {
            config,
            broker: launch.broker,
            sender: Sender::for_process(std::process::id(), &host),
            clock,
            stop: &stop,
            max_age: launch.max_age,
            status: &status,
        };
        let Some(url) = launch.catalog_url else {
            tracing::info!(
                entries = config.entries.len(),
                "beat: no catalog database (--database-url, CELERIAC_DATABASE_URL or [database] \
                 url): running as the only scheduler, last slots in memory (a restart fires \
                 only on-time slots; run one beat)"
            );
            let mut ticker = Ticker::new(config, beat.sender.clone());
            status.set_role(Role::Alone);
            beat.lead(&mut ticker, None).await;
            tracing::info!("beat: stopped");
            return Ok(OK);
        };
        let catalog = database::open_explicit(url).await?;
        let result = beat.run_replica(&catalog).await;
        catalog.close().await;
        tracing::info!("beat: stopped");
        result.map(|()| OK)
    })?
}

/// What a leader's stint ended with.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// SIGTERM/SIGINT.
    Stopped,
    /// The leader lock's session is gone: follow again.
    LostLock,
}

struct Beat<'a> {
    config: &'a BeatConfig,
    broker: &'a BrokerUrl,
    sender: Sender,
    clock: &'a dyn Clock,
    stop: &'a CancellationToken,
    /// The dead man's switch's window.
    max_age: chrono::Duration,
    /// What `/healthz` and `/metrics` report.
    status: &'a BeatStatus,
}

impl Beat<'_> {
    /// One replica: follow until the leader lock is ours, lead until it is lost, again.
    async fn run_replica(&self, catalog: &Catalog) -> anyhow::Result<()> {
        while !self.stop.is_cancelled() {
            let Some(mut lock) = self.follow(catalog).await else {
                break;
            };
            let mut ticker = Ticker::new(self.config, self.sender.clone());
            if let Err(err) = resume(catalog, &mut ticker, self.status).await {
                self.status.set_catalog_ok(false);
                self.status.set_role(Role::Following);
                let _ = lock.release().await;
                if !err.is_transient() {
                    return Err(err).context(
                        "cannot read beat's last slots from the catalog (is it migrated? run \
                         `celeriac migrate`)",
                    );
                }
                tracing::error!(error = %format!("{err:#}"), "beat: cannot read the last slots; stepping down, retrying");
                self.pause(RETRY).await;
                continue;
            }
            let ending = self.lead(&mut ticker, Some((catalog, &mut lock))).await;
            self.status.set_role(Role::Following);
            let _ = lock.release().await;
            if ending == Ending::Stopped {
                break;
            }
        }
        Ok(())
    }

    /// Waits for the leader lock; `None` when stopped first.
    async fn follow(&self, catalog: &Catalog) -> Option<RunLock> {
        let mut said = false;
        loop {
            let wait = if said { Duration::MAX } else { Duration::ZERO };
            let taken = tokio::select! {
                () = self.stop.cancelled() => return None,
                taken = catalog.lock(LockKind::BeatLeader, wait) => taken,
            };
            match taken {
                Ok(Some(lock)) => {
                    self.status.set_catalog_ok(true);
                    self.status.set_role(Role::Leading);
                    tracing::info!(
                        entries = self.config.entries.len(),
                        catalog = %catalog.url(),
                        "beat: leading: this beat holds the leader lock and publishes the schedule"
                    );
                    return Some(lock);
                }
                Ok(None) => {
                    self.status.set_catalog_ok(true);
                    self.status.set_role(Role::Following);
                    if let Some(path) = catalog.lock_file(LockKind::BeatLeader) {
                        tracing::warn!(
                            lock_file = %path.display(),
                            "beat: another beat already runs on this SQLite catalog: on SQLite \
                             run one beat; this one does not publish and waits, taking over if \
                             that one stops"
                        );
                    } else {
                        tracing::info!(
                            catalog = %catalog.url(),
                            "beat: following: another beat leads; waiting for the leader lock"
                        );
                    }
                    said = true;
                }
                Err(err) => {
                    self.status.set_catalog_ok(false);
                    tracing::error!(error = %format!("{err:#}"), "beat: cannot ask for the leader lock; retrying");
                    said = false;
                    self.pause(RETRY).await;
                }
            }
        }
    }

    /// Publishes due slots until stopped or, when leading under `lock`, until the lock is lost.
    async fn lead(
        &self,
        ticker: &mut Ticker,
        mut lock: Option<(&Catalog, &mut RunLock)>,
    ) -> Ending {
        let mut publisher: Option<Publisher> = None;
        let mut watched: Option<tokio::time::Instant> = None;
        while !self.stop.is_cancelled() {
            let catalog = match &mut lock {
                Some((catalog, held)) => {
                    if let Err(err) = held.check(CHECK_TIMEOUT).await {
                        self.status.set_catalog_ok(false);
                        tracing::warn!(error = %format!("{err:#}"), "beat: lost the leader lock; stepping down");
                        return Ending::LostLock;
                    }
                    Some(*catalog)
                }
                None => None,
            };
            if let Some(catalog) = catalog
                && watched.is_none_or(|at| at.elapsed() >= WATCHDOG_EVERY)
            {
                watched = Some(tokio::time::Instant::now());
                watch(catalog, self.max_age, self.clock, self.status).await;
            }
            let failed = !self.connected(&mut publisher).await
                || look(ticker, &mut publisher, self, catalog).await;
            let now = self.clock.now();
            let mut sleep = if failed {
                RETRY
            } else {
                (ticker.next_wake(now) - now)
                    .to_std()
                    .unwrap_or(Duration::ZERO)
            };
            if lock.is_some() {
                sleep = sleep.min(LEADER_CHECK);
            }
            self.pause(sleep).await;
        }
        Ending::Stopped
    }

    /// Makes sure a publishing beat holds an open broker connection (opened at once rather than
    /// at the next slot, so that `/healthz` sees an outage); logs only the changes. Returns
    /// whether it is connected.
    async fn connected(&self, publisher: &mut Option<Publisher>) -> bool {
        if publisher.as_ref().is_some_and(|p| !p.is_open()) {
            tracing::warn!("beat: the broker connection closed; reconnecting");
            *publisher = None;
        }
        if publisher.is_some() {
            return true;
        }
        match Publisher::connect(self.broker).await {
            Ok(p) => {
                *publisher = Some(p);
                self.status.set_broker_ok(true);
                tracing::info!(broker = %self.broker.safe_url(), "beat: connected to the broker");
                true
            }
            Err(err) => {
                if self.status.broker_ok() {
                    tracing::error!(error = %format!("{err:#}"), "beat: broker unavailable; retrying every few seconds");
                }
                self.status.set_broker_ok(false);
                false
            }
        }
    }

    /// Sleeps for `time`, or until stopped.
    async fn pause(&self, time: Duration) {
        tokio::select! {
            () = self.stop.cancelled() => {},
            () = tokio::time::sleep(time) => {},
        }
    }
}

/// Loads every entry's recorded last slot into `ticker`.
/// The dead man's switch, pulled by the leader: logs what it found; a catalog error is logged
/// and the next check tries again.
async fn watch(
    catalog: &Catalog,
    max_age: chrono::Duration,
    clock: &dyn Clock,
    status: &BeatStatus,
) {
    let checked = celeriac_job::check_freshness(catalog, max_age, clock.now()).await;
    if let Ok(found) = &checked {
        status.set_freshness(if found.stale {
            Freshness::Missing
        } else {
            Freshness::Fresh
        });
    }
    match checked {
        Ok(found) if found.raised => {
            tracing::error!(newest = ?found.newest, "beat: no VERIFIED backup within the window: BACKUP_MISSING raised");
        }
        Ok(found) if found.resolved > 0 => {
            tracing::info!(newest = ?found.newest, "beat: backups are back: BACKUP_MISSING resolved");
        }
        Ok(_) => {}
        Err(err) => {
            tracing::warn!(error = %format!("{err:#}"), "beat: cannot check for missing backups; trying again later");
        }
    }
}

async fn resume(
    catalog: &Catalog,
    ticker: &mut Ticker,
    status: &BeatStatus,
) -> Result<(), celeriac_catalog::CatalogError> {
    let names: Vec<String> = ticker.entries().iter().map(|e| e.name.clone()).collect();
    for name in names {
        if let Some(stored) = catalog.beat_entry(&name).await? {
            tracing::info!(entry = %name, last_slot = %stored.last_slot, "beat: resuming after the recorded last slot");
            ticker.record(&name, stored.last_slot);
            status.record_slot(&name, stored.last_slot);
        } else {
            tracing::info!(entry = %name, "beat: no slot recorded yet (first start: only an on-time slot fires)");
        }
    }
    Ok(())
}

/// Publishes everything due now, recording each entry's handled slots in memory and (when
/// leading) in the catalog; returns whether a publish failed (to retry soon).
async fn look(
    ticker: &mut Ticker,
    publisher: &mut Option<Publisher>,
    beat: &Beat<'_>,
    catalog: Option<&Catalog>,
) -> bool {
    let clock = beat.clock;
    for due in ticker.due(clock.now()) {
        let skipped = match due.skipped {
            Skipped::Exactly(n) | Skipped::AtLeast(n) => n,
        };
        if skipped > 0 {
            tracing::warn!(entry = %due.entry, skipped = ?due.skipped, through = %due.through, "beat: missed slots skipped by policy");
        }
        for out in &due.outgoing {
            let Some(p) = publisher.as_mut() else {
                return true;
            };
            if let Err(err) = p.publish(out).await {
                tracing::error!(entry = %due.entry, slot = %out.slot.at, error = %format!("{err:#}"), "beat: publish failed; will retry");
                beat.status.publish_failed();
                *publisher = None;
                return true;
            }
            beat.status.published(clock.now());
            tracing::info!(
                entry = %due.entry,
                slot = %out.slot.at,
                task_id = %out.slot.task_id(),
                queue = %out.route.queue,
                "beat: published"
            );
        }
        ticker.record(&due.entry, due.through);
        beat.status.record_slot(&due.entry, due.through);
        if let Some(catalog) = catalog {
            record(catalog, &due, skipped, clock).await;
        }
    }
    false
}

/// Records `due.through` in the catalog. A failure is logged and left: this leader remembers
/// the slot in memory, and a new leader would publish it again with the same task id.
async fn record(catalog: &Catalog, due: &EntryDue, skipped: usize, clock: &dyn Clock) {
    let task_id = due
        .outgoing
        .last()
        .filter(|out| out.slot.at == due.through)
        .map(|out| out.slot.task_id().to_string());
    let record = SlotRecord {
        entry: due.entry.clone(),
        slot: due.through,
        task_id,
        skipped: u64::try_from(skipped).unwrap_or(u64::MAX),
        at: clock.now(),
    };
    match catalog.record_beat_slot(&record).await {
        Ok(done) if !done.advanced => tracing::warn!(
            entry = %due.entry,
            slot = %due.through,
            stored = %done.entry.last_slot,
            "beat: the catalog already holds a later slot (another leader ran)"
        ),
        Ok(_) => {}
        Err(err) => tracing::error!(
            entry = %due.entry,
            slot = %due.through,
            error = %format!("{err:#}"),
            "beat: cannot record the slot in the catalog"
        ),
    }
}
