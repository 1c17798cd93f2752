//! `celeriac beat` without `--list`: one scheduler process that publishes each due slot with
//! publisher confirms and records it only once confirmed (a failed publish is retried on the
//! next look, with the same task id). Single instance: no leader lock and no catalog yet
//! (issue 11 item 5), so the last slots live in memory and a restart starts afresh (only
//! on-time slots fire after it).

use std::time::Duration;

use celeriac_scheduler::{BeatConfig, Clock, Sender, Skipped, SystemClock, Ticker};
use tokio_util::sync::CancellationToken;

use crate::cmd::beat_publisher::Publisher;
use crate::cmd::runtime;
use crate::cmd::status::OK;

/// How long to wait before retrying after the broker failed.
const RETRY: Duration = Duration::from_secs(2);

/// Runs the loop until SIGTERM/SIGINT.
pub(crate) fn run(config: &BeatConfig, broker_url: &str) -> anyhow::Result<u8> {
    runtime::block_on(async {
        let stop = CancellationToken::new();
        runtime::cancel_on_interrupt(stop.clone());
        run_until(config, broker_url, &SystemClock, &stop).await
    })?
}

async fn run_until(
    config: &BeatConfig,
    broker_url: &str,
    clock: &dyn Clock,
    stop: &CancellationToken,
) -> anyhow::Result<u8> {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_owned());
    let mut ticker = Ticker::new(config, Sender::for_process(std::process::id(), &host));
    tracing::info!(
        entries = ticker.entries().len(),
        "beat: running as the only scheduler (no leader lock yet: run one beat)"
    );
    let mut publisher: Option<Publisher> = None;
    while !stop.is_cancelled() {
        let failed = look(&mut ticker, &mut publisher, broker_url, clock).await;
        let now = clock.now();
        let sleep = if failed {
            RETRY
        } else {
            (ticker.next_wake(now) - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
        };
        tokio::select! {
            () = stop.cancelled() => {},
            () = tokio::time::sleep(sleep) => {},
        }
    }
    tracing::info!("beat: stopped");
    Ok(OK)
}

/// Publishes everything due now; returns whether a publish failed (to retry soon).
async fn look(
    ticker: &mut Ticker,
    publisher: &mut Option<Publisher>,
    broker_url: &str,
    clock: &dyn Clock,
) -> bool {
    for due in ticker.due(clock.now()) {
        if let Skipped::Exactly(n) | Skipped::AtLeast(n) = due.skipped
            && n > 0
        {
            tracing::warn!(entry = %due.entry, skipped = ?due.skipped, "beat: missed slots skipped by policy");
        }
        for out in &due.outgoing {
            if publisher.is_none() {
                match Publisher::connect(broker_url).await {
                    Ok(p) => *publisher = Some(p),
                    Err(err) => {
                        tracing::error!(error = %format!("{err:#}"), "beat: broker unavailable");
                        return true;
                    }
                }
            }
            let Some(p) = publisher.as_mut() else {
                return true;
            };
            if let Err(err) = p.publish(out).await {
                tracing::error!(entry = %due.entry, slot = %out.slot.at, error = %format!("{err:#}"), "beat: publish failed; will retry");
                *publisher = None;
                return true;
            }
            tracing::info!(
                entry = %due.entry,
                slot = %out.slot.at,
                task_id = %out.slot.task_id(),
                queue = %out.route.queue,
                "beat: published"
            );
        }
        ticker.record(&due.entry, due.through);
    }
    false
}
