//! `celeriac beat`'s `/healthz` and `/metrics`, through the binary against the real broker and
//! PostgreSQL: a lone beat is healthy while it can publish and turns 503 while its broker is
//! cut off; of two beats on one catalog, one says `leader` and the other `follower`, both
//! healthy, and the follower takes over the lead when the leader dies.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::process::Stdio;
use std::time::Duration;

use celeriac_testkit::amqp::{self, TestQueues};
use celeriac_testkit::http;
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(30);

/// A config file with one entry every second on `queue`, served on `port`.
fn config(queue: &str, port: u16) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        format!(
            "[beat]\nmetrics-listen = \"127.0.0.1:{port}\"\n\n\
             [beat.schedule.tick]\ntask = \"apps.tick\"\nschedule = {{ every = \"1s\" }}\n\
             options = {{ queue = \"{queue}\" }}\n"
        ),
    )
    .unwrap();
    file
}

fn spawn(config: &std::path::Path, broker: &str, database: Option<&str>) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_celeriac"));
    cmd.args([
        "beat",
        "--config",
        config.to_str().unwrap(),
        "--broker",
        broker,
    ])
    .env_remove("CELERIAC_CONFIG")
    .env_remove("CELERIAC_DATABASE_URL")
    .env_remove("CELERIAC_METRICS_LISTEN")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .kill_on_drop(true);
    if let Some(url) = database {
        cmd.args(["--database-url", url]);
    }
    cmd.spawn().unwrap()
}

/// Polls `/healthz` on `port` until `want` holds for (status line, body); panics after
/// [`PATIENCE`] with the last answer.
async fn health_until(port: u16, what: &str, want: impl Fn(&str, &Value) -> bool) -> Value {
    let mut last = None;
    let found = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some((status, body)) = http::get(port, "/healthz").await {
                let json: Value = serde_json::from_str(&body).unwrap();
                if want(&status, &json) {
                    return json;
                }
                last = Some((status, body));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("/healthz never showed {what}; last: {last:?}"))
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_beat_reports_its_publishes_and_a_broker_outage() {
    use celeriac_testkit::proxy::FaultProxy;

    let proxy = FaultProxy::start(amqp::broker_addr()).await;
    let queues = TestQueues::new();
    let queue = queues.queue("beat-health");
    let port = http::free_port();
    let file = config(&queue, port);
    let _beat = spawn(file.path(), &amqp::amqp_url_via(proxy.addr()), None);

    let up = health_until(port, "alone, publishing", |status, body| {
        status == "HTTP/1.1 200 OK" && body["last_publish"].is_string()
    })
    .await;
    assert_eq!(up["role"], "alone", "{up}");
    assert_eq!(up["broker"], true, "{up}");
    assert!(up["catalog"].is_null(), "no catalog: {up}");
    assert!(up["next_slot"].is_string(), "{up}");
    let (status, metrics) = http::get(port, "/metrics").await.unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(
        metric(&metrics, "celeriac_beat_leader"),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        metric(&metrics, "celeriac_beat_published_total").unwrap() >= 1.0,
        "{metrics}"
    );
    assert!(
        metrics.contains("celeriac_beat_next_slot_timestamp_seconds{entry=\"tick\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("celeriac_beat_last_slot_timestamp_seconds{entry=\"tick\"}"),
        "{metrics}"
    );

    proxy.set_refuse(true);
    proxy.cut_all();
    let down = health_until(port, "503 with the broker down", |status, _| {
        status == "HTTP/1.1 503 Service Unavailable"
    })
    .await;
    assert_eq!(down["broker"], false, "{down}");
    let (_, metrics) = http::get(port, "/metrics").await.unwrap();
    assert_eq!(
        metric(&metrics, "celeriac_beat_broker_ok"),
        Some(0.0),
        "{metrics}"
    );

    proxy.set_refuse(false);
    let back = health_until(port, "200 once the broker is back", |status, _| {
        status == "HTTP/1.1 200 OK"
    })
    .await;
    assert_eq!(back["broker"], true, "{back}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_beats_one_leads_and_the_other_follows_then_takes_over() {
    use celeriac_testkit::db::TestDatabase;

    let db = TestDatabase::create_migrated(&celeriac_catalog::POSTGRES_MIGRATOR).await;
    let queues = TestQueues::new();
    let queue = queues.queue("beat-health-pair");
    let (port_a, port_b) = (http::free_port(), http::free_port());
    let (file_a, file_b) = (config(&queue, port_a), config(&queue, port_b));
    let mut first = spawn(file_a.path(), &amqp::amqp_url(), Some(db.url()));
    let lead = health_until(port_a, "the first beat leading", |status, body| {
        status == "HTTP/1.1 200 OK" && body["role"] == "leader"
    })
    .await;
    assert_eq!(lead["catalog"], true, "{lead}");
    let _second = spawn(file_b.path(), &amqp::amqp_url(), Some(db.url()));
    let follow = health_until(port_b, "the second beat following", |status, body| {
        status == "HTTP/1.1 200 OK" && body["role"] == "follower"
    })
    .await;
    assert!(
        follow["broker"].is_null(),
        "a follower does not publish: {follow}"
    );
    let (_, metrics) = http::get(port_b, "/metrics").await.unwrap();
    assert_eq!(
        metric(&metrics, "celeriac_beat_leader"),
        Some(0.0),
        "{metrics}"
    );
    // The leader is the one that raised or cleared the dead man's switch.
    let (_, metrics) = http::get(port_a, "/metrics").await.unwrap();
    assert_eq!(
        metric(&metrics, "celeriac_beat_backup_missing"),
        Some(1.0),
        "{metrics}"
    );

    first.kill().await.unwrap();
    first.wait().await.unwrap();
    health_until(
        port_b,
        "the second beat leading after the kill",
        |status, body| status == "HTTP/1.1 200 OK" && body["role"] == "leader",
    )
    .await;
}
