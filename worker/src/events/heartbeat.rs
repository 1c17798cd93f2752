//! Owns the worker's heartbeat, as Celery's `Heart` sends it: `worker-online` once the worker
//! consumes, `worker-heartbeat` every [`HEARTBEAT_INTERVAL`] while it does, `worker-offline`
//! when it stops; each with `freq`, `active`, `processed`, `loadavg` and the software fields.
//! While the broker session is down no heartbeat is sent, so monitors see the worker go stale.
//! Also the facts those events carry: load average, UTC offset, system name.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::event::{EventKind, WorkerInfo};
use super::settings::HEARTBEAT_INTERVAL;
use crate::consumer::Shared;
use crate::health::Health;

/// `sw_ident` of our events (a Python worker sends `py-celery`).
const SW_IDENT: &str = "celeriac";
/// How often the loop looks whether the worker consumes (again).
const ONLINE_POLL: Duration = Duration::from_millis(100);
/// How long `worker-offline` may wait for room in the buffer.
const OFFLINE_WAIT: Duration = Duration::from_secs(1);

/// What `worker-*` events say about the worker now.
pub(crate) fn worker_info(shared: &Shared) -> WorkerInfo {
    let (active, processed) = shared.state.active_and_processed();
    WorkerInfo {
        freq: HEARTBEAT_INTERVAL.as_secs_f64(),
        active,
        processed,
        loadavg: load_average(),
        sw_ident: SW_IDENT,
        sw_ver: env!("CARGO_PKG_VERSION"),
        sw_sys: system_name(),
    }
}

/// Sends `worker-online`, heartbeats while `health` says the worker consumes, and
/// `worker-offline` once `stop` fires (if it went online).
pub(crate) async fn run(shared: Arc<Shared>, health: Arc<Health>, stop: CancellationToken) {
    let mut online = false;
    let mut next_beat = tokio::time::Instant::now();
    loop {
        let wait = if online {
            next_beat.saturating_duration_since(tokio::time::Instant::now())
        } else {
            ONLINE_POLL
        };
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
        if !health.is_healthy() {
            // look again soon: heartbeats resume as soon as the worker consumes again
            next_beat = tokio::time::Instant::now() + ONLINE_POLL;
            continue;
        }
        let info = worker_info(&shared);
        let kind = if online {
            EventKind::WorkerHeartbeat(info)
        } else {
            online = true;
            EventKind::WorkerOnline(info)
        };
        shared.events.send(&shared.state, kind);
        next_beat = tokio::time::Instant::now() + HEARTBEAT_INTERVAL;
    }
    if online {
        let offline = EventKind::WorkerOffline(worker_info(&shared));
        shared
            .events
            .send_waiting(&shared.state, offline, OFFLINE_WAIT)
            .await;
    }
}

/// Python's `celery.utils.sysinfo.load_average()`: `os.getloadavg()` rounded up to two
/// decimals; zeros where the system does not tell.
pub(crate) fn load_average() -> [f64; 3] {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map_or([0.0; 3], |text| parse_loadavg(&text))
}

fn parse_loadavg(text: &str) -> [f64; 3] {
    let mut out = [0.0; 3];
    for (slot, field) in out.iter_mut().zip(text.split_whitespace()) {
        if let Ok(v) = field.parse::<f64>() {
            *slot = (v * 100.0).ceil() / 100.0;
        }
    }
    out
}

/// Python's `platform.system()` for the systems we build for.
fn system_name() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        "windows" => "Windows",
        "freebsd" => "FreeBSD",
        other => other,
    }
}

/// Python's `celery.utils.time.utcoffset()`: hours **west** of UTC, floored (`time.timezone //
/// 3600`, or `time.altzone // 3600` in summer time): 0 on a UTC host, -1 in Paris in winter.
pub(crate) fn utc_offset_hours() -> i64 {
    let east = chrono::Local::now().offset().local_minus_utc();
    i64::from(-east).div_euclid(3600)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::float_cmp)] // the same arithmetic as Python's gives the same doubles
    fn loadavg_rounds_up_like_celery() {
        assert_eq!(
            parse_loadavg("0.001 1.50 12.345 1/234 5678\n"),
            [0.01, 1.5, 12.35]
        );
        assert_eq!(parse_loadavg("garbage"), [0.0; 3]);
        let now = load_average();
        assert!(now.iter().all(|v| *v >= 0.0));
    }

    fn shared() -> (
        Arc<Shared>,
        tokio::sync::mpsc::Receiver<super::super::event::Event>,
    ) {
        let registry = crate::registry::Registry::with_builtins();
        let metrics = Arc::new(crate::metrics::Metrics::new(registry.names()));
        let settings = crate::events::EventSettings::default();
        let (events, rx) = crate::events::Events::new(&settings, metrics.events.clone());
        let hostname: Arc<str> = "n@h".into();
        let shared = Shared {
            limits: crate::task_limits::TaskLimits::new(&registry),
            registry,
            state: crate::control::WorkerState::new(hostname.clone()),
            metrics,
            hostname,
            permits: Arc::new(tokio::sync::Semaphore::new(1)),
            stop: CancellationToken::new(),
            abandon: CancellationToken::new(),
            events,
        };
        (Arc::new(shared), rx)
    }

    fn kinds(
        rx: &mut tokio::sync::mpsc::Receiver<super::super::event::Event>,
    ) -> Vec<&'static str> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| e.kind.routing_key())
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn beats_only_while_consuming_then_says_offline() {
        let (shared, mut rx) = shared();
        let health = Arc::new(Health::default());
        let stop = CancellationToken::new();
        let heart = tokio::spawn(run(shared, health.clone(), stop.clone()));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(kinds(&mut rx).is_empty(), "not consuming yet");
        health.set_connected(true);
        health.set_consuming(true);
        tokio::time::sleep(Duration::from_millis(4150)).await;
        assert_eq!(
            kinds(&mut rx),
            ["worker.online", "worker.heartbeat", "worker.heartbeat"]
        );
        health.set_consuming(false);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(
            kinds(&mut rx).is_empty(),
            "no heartbeat while the session is down"
        );
        health.set_consuming(true);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(kinds(&mut rx), ["worker.heartbeat"]);
        stop.cancel();
        heart.await.unwrap();
        assert_eq!(kinds(&mut rx), ["worker.offline"]);
    }

    #[test]
    fn facts() {
        assert!(!system_name().is_empty());
        let offset = utc_offset_hours();
        assert!((-15..=13).contains(&offset), "{offset}");
    }
}
