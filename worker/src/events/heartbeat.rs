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
/// How often the loop looks whether the worker has come online.
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

    #[test]
    fn facts() {
        assert!(!system_name().is_empty());
        let offset = utc_offset_hours();
        assert!((-15..=13).contains(&offset), "{offset}");
    }
}
