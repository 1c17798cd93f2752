//! `celeriac worker -E` seen by Python's own monitoring tools:
//! * Celery's event receiver and state machine (`celery.events.state.State`, what `celery
//!   events` and Flower use) take every event the worker sends: the fields of each type, the
//!   worker alive for 4 s after each heartbeat and gone after `worker-offline`, each task's final state;
//! * the real Flower lists the worker online in `/api/workers`, its tasks with their final
//!   states in `/api/tasks`, and the worker offline after a SIGTERM;
//! * a broker that stalls the event connection (a `FaultProxy` that stops forwarding) does not
//!   slow the tasks down: every task completes while events are dropped and counted in
//!   `/metrics`, and events flow again once the broker answers.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use celeriac_testkit::amqp::{self, TestQueues};
use celeriac_testkit::events_probe::EventsProbe;
use celeriac_testkit::proxy::FaultProxy;
use celeriac_testkit::python::Python;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

const PATIENCE: Duration = Duration::from_mins(1);
const PYTHON_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/worker/python");

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// A `celeriac worker -E` on `queue` named `node`, with `envs` on top; killed on drop.
fn start_worker(queue: &str, node: &str, envs: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_celeriac"));
    cmd.args(["worker", "-E", "-c", "4", "--hostname", node])
        .env("CELERIAC_BROKER_URL", amqp::amqp_url())
        .env("CELERIAC_QUEUES", queue)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

fn sigterm(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Sends `calls` with the real Python client (`tests/worker/python/client.py`) and returns
/// their outcomes.
async fn python_calls(python: &Python, queue: &str, calls: &Value) -> Vec<Value> {
    let out = python
        .script(format!("{PYTHON_DIR}/client.py"))
        .args(["--broker", &amqp::amqp_url(), "--queue", queue, "calls"])
        .arg(calls.to_string())
        .success()
        .await;
    serde_json::from_str(out.stdout.trim()).unwrap()
}

/// `GET path` on 127.0.0.1:`port`: (status code, body).
async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_owned()))
}

/// Polls `GET path` as JSON until `done` holds; returns the last body.
async fn poll_json(port: u16, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    let found = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some((200, body)) = http_get(port, path).await
                && let Ok(v) = serde_json::from_str::<Value>(&body)
            {
                if done(&v) {
                    return v;
                }
                last = v;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("{what}: not within {PATIENCE:?}; last {path}: {last}"))
}

/// The value of the metric line `name` (labels included) in the worker's `/metrics`.
async fn metric(port: u16, name: &str) -> f64 {
    let (code, body) = http_get(port, "/metrics").await.expect("/metrics answers");
    assert_eq!(code, 200);
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{body}"))
}

/// Events dropped for any reason.
async fn dropped(port: u16) -> f64 {
    let mut total = 0.0;
    for reason in [
        "buffer_full",
        "broker_blocked",
        "disconnected",
        "publish_failed",
    ] {
        total += metric(
            port,
            &format!("celeriac_events_dropped_total{{reason=\"{reason}\"}}"),
        )
        .await;
    }
    total
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn celery_state_machine_takes_every_event() {
    let queues = TestQueues::new();
    let q = queues.queue("events");
    let node = format!("celeriac@{q}");
    let python = Python::find();
    python.require("celery");
    let probe = EventsProbe::start(&python, &node, &[]).await;
    // a failure rejects the message (acks-on-failure = false): task-failed, then task-rejected
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        "[task.\"celery.accumulate\"]\nacks-on-failure = false\n",
    )
    .unwrap();
    let worker = start_worker(
        &q,
        &node,
        &[("CELERIAC_CONFIG", config.path().display().to_string())],
    );

    let revoked = uuid::Uuid::new_v4().to_string();
    let out = python
        .celery(PYTHON_DIR)
        .args(["-A", "control_app", "control", "revoke", &revoked])
        .args(["-d", &node, "-t", "10"])
        .env("CELERIAC_TEST_BROKER", amqp::amqp_url())
        .env("CELERIAC_TEST_QUEUE", &q)
        .output()
        .await;
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let calls = json!([
        {"name": "celery.accumulate", "args": [1, 2]},
        {"name": "celery.accumulate", "args": [1, 2], "kwargs": {"index": 9}},
        {"name": "no.such.task", "timeout": 10},
        {"name": "celery.accumulate", "args": [3], "options": {"task_id": revoked}},
        {"name": "celery.accumulate", "args": [4], "options": {"expires": past}},
    ]);
    let outcomes = python_calls(&python, &q, &calls).await;
    let states: Vec<&str> = outcomes
        .iter()
        .map(|o| o["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["SUCCESS", "FAILURE", "FAILURE", "REVOKED", "REVOKED"],
        "{outcomes:?}"
    );
    let ids: Vec<&str> = outcomes.iter().map(|o| o["id"].as_str().unwrap()).collect();
    // let two heartbeats pass, then stop the worker: the probe ends on worker-offline
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pid = worker.id().unwrap();
    sigterm(&worker);
    let report = probe.report().await;
    let events: Vec<Value> = report["events"].as_array().unwrap().clone();
    check_events(&events, &node, pid, &ids, &revoked);
    check_state(&report, &node, &ids, &revoked);
}

/// Every event has the common fields; each type is there with Celery's fields.
fn check_events(events: &[Value], node: &str, pid: u32, ids: &[&str], revoked: &str) {
    for e in events {
        assert_eq!(e["hostname"], node, "{e}");
        assert_eq!(e["pid"], pid, "{e}");
        assert!(e["utcoffset"].is_i64(), "{e}");
        assert!(e["clock"].as_u64().unwrap() > 0, "{e}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let age = now - e["timestamp"].as_f64().unwrap();
        assert!((-1.0..120.0).contains(&age), "{e}");
    }
    let types = [
        "worker-online",
        "worker-heartbeat",
        "worker-offline",
        "task-received",
        "task-started",
        "task-succeeded",
        "task-failed",
        "task-rejected",
        "task-revoked",
    ];
    for t in types {
        assert!(!of_type(events, t).is_empty(), "no {t} in {events:?}");
    }
    let online = of_type(events, "worker-online")[0];
    assert_eq!(online["freq"], 2.0);
    assert_eq!(online["sw_ident"], "celeriac");
    assert_eq!(online["loadavg"].as_array().unwrap().len(), 3);
    assert!(online["active"].is_u64() && online["processed"].is_u64());
    let offline = of_type(events, "worker-offline")[0];
    assert_eq!(offline["processed"], 2, "two tasks ran: {offline}");

    let received = of_type(events, "task-received");
    let first = received.iter().find(|e| e["uuid"] == ids[0]).unwrap();
    assert_eq!(first["name"], "celery.accumulate");
    assert_eq!(first["args"], "[1, 2]");
    assert_eq!(first["kwargs"], "{}");
    assert_eq!(first["retries"], 0);
    assert_eq!(first["root_id"], ids[0]);
    assert_eq!(first["parent_id"], Value::Null);
    assert_eq!(first["eta"], Value::Null);
    assert_eq!(first["expires"], Value::Null);
    assert!(
        !received.iter().any(|e| e["uuid"] == revoked),
        "a revoked task is not received, as in Celery"
    );
    let succeeded = of_type(events, "task-succeeded")[0];
    assert_eq!(succeeded["result"], "[1, 2]");
    assert!(succeeded["runtime"].as_f64().unwrap() >= 0.0);
    let rejected = of_type(events, "task-rejected")[0];
    assert_eq!(
        (&rejected["uuid"], &rejected["requeue"]),
        (&json!(ids[1]), &json!(false))
    );
    let revocations = of_type(events, "task-revoked");
    let by_id = |id: &str| *revocations.iter().find(|e| e["uuid"] == id).unwrap();
    assert_eq!(by_id(revoked)["expired"], false);
    assert_eq!(by_id(revoked)["terminated"], false);
    assert_eq!(by_id(ids[4])["expired"], true);
}

/// Celery's state machine: alive 4 s after each heartbeat, gone after worker-offline; each task in
/// its final state.
fn check_state(report: &Value, node: &str, ids: &[&str], revoked: &str) {
    // alive for freq × 2 = 4 s after each heartbeat (timestamp and utcoffset taken as sent)
    let windows = report["expires_after_heartbeat"].as_array().unwrap();
    assert!(!windows.is_empty(), "{report}");
    for w in windows {
        let w = w.as_f64().unwrap();
        assert!((3.9..4.1).contains(&w), "alive window {w} s: {report}");
    }
    let worker_state = &report["worker"];
    assert_eq!(worker_state["alive"], false, "{worker_state}");
    assert_eq!(worker_state["sw_ident"], "celeriac");
    let tasks = &report["tasks"];
    assert_eq!(tasks[ids[0]]["state"], "SUCCESS", "{tasks}");
    assert_eq!(tasks[ids[0]]["result"], "[1, 2]");
    assert_eq!(tasks[ids[0]]["worker"], node);
    assert_eq!(tasks[ids[1]]["state"], "FAILURE", "{tasks}");
    assert_eq!(
        tasks[ids[1]]["exception"],
        "IndexError('tuple index out of range')"
    );
    assert_eq!(
        tasks[ids[1]]["traceback"],
        "IndexError: tuple index out of range\n"
    );
    assert_eq!(tasks[ids[2]]["state"], "FAILURE");
    assert_eq!(tasks[ids[2]]["exception"], "NotRegistered('no.such.task')");
    assert_eq!(tasks[revoked]["state"], "REVOKED", "{tasks}");
    assert_eq!(tasks[ids[4]]["state"], "REVOKED", "{tasks}");
}

/// A real Flower on a free port, against the test broker; its output kept for failures.
struct Flower {
    _child: Child,
    port: u16,
    output: Arc<Mutex<String>>,
}

impl Flower {
    async fn start(python: &Python) -> Flower {
        python.require("flower");
        let port = free_port();
        let mut child = python
            .celery(PYTHON_DIR)
            .args(["-A", "flower_app", "flower", "--address=127.0.0.1"])
            .arg(format!("--port={port}"))
            // Flower broadcasts enable_events to every worker on the broker every few seconds,
            // which would turn task events on in other tests' workers; ours runs with -E
            .arg("--enable_events=False")
            .env("CELERIAC_TEST_BROKER", amqp::amqp_url())
            // Flower 2 serves its API only with authentication configured, or with this
            .env("FLOWER_UNAUTHENTICATED_API", "true")
            .spawn();
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut out = output.lock().unwrap();
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        let flower = Flower {
            _child: child,
            port,
            output,
        };
        let up = tokio::time::timeout(PATIENCE, async {
            while !matches!(http_get(port, "/api/workers").await, Some((200, _))) {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
        .await;
        assert!(up.is_ok(), "Flower did not start:\n{}", flower.output());
        flower
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flower_lists_the_worker_and_its_tasks() {
    let queues = TestQueues::new();
    let q = queues.queue("flower");
    let node = format!("celeriac@{q}");
    let python = Python::find();
    python.require("celery");
    let flower = Flower::start(&python).await;
    let worker = start_worker(&q, &node, &[]);

    let status = poll_json(flower.port, "/api/workers?status=1", "worker online", |v| {
        v[&node] == true
    })
    .await;
    assert_eq!(status[&node], true);
    // refresh: Flower asks the worker through remote control (stats, active_queues, ...)
    let workers = poll_json(
        flower.port,
        "/api/workers?refresh=1",
        "worker detail",
        |v| v[&node]["stats"]["pool"].is_object(),
    )
    .await;
    assert_eq!(
        workers[&node]["stats"]["pool"]["implementation"],
        "celeriac:tokio"
    );

    let calls = json!([
        {"name": "celery.accumulate", "args": [1, 2]},
        {"name": "celery.accumulate", "args": [1, 2], "kwargs": {"index": 9}},
    ]);
    let outcomes = python_calls(&python, &q, &calls).await;
    let (ok, failed) = (
        outcomes[0]["id"].as_str().unwrap(),
        outcomes[1]["id"].as_str().unwrap(),
    );
    let tasks = poll_json(flower.port, "/api/tasks", "final task states", |v| {
        v[ok]["state"] == "SUCCESS" && v[failed]["state"] == "FAILURE"
    })
    .await;
    assert_eq!(tasks[ok]["worker"], node.as_str(), "{tasks}");
    assert_eq!(tasks[ok]["result"], "[1, 2]");
    assert_eq!(tasks[ok]["name"], "celery.accumulate");
    assert!(tasks[ok]["runtime"].as_f64().is_some(), "{tasks}");
    assert_eq!(
        tasks[failed]["exception"],
        "IndexError('tuple index out of range')"
    );

    sigterm(&worker);
    poll_json(
        flower.port,
        "/api/workers?status=1",
        "worker offline",
        |v| v[&node] == false,
    )
    .await;
    let log = flower.output();
    assert!(!log.contains("Traceback"), "Flower raised:\n{log}");
}

/// Sends `argv[3]` `celery.accumulate` tasks with a 1500-character argument to queue `argv[2]`
/// and prints how many succeeded.
const SEND_BIG: &str = r"
import sys
from celery import Celery
app = Celery('stall', broker=sys.argv[1], backend='rpc://')
app.conf.task_default_queue = sys.argv[2]
big = 'x' * 1500
results = [app.send_task('celery.accumulate', args=[big]) for _ in range(int(sys.argv[3]))]
for r in results:
    r.get(timeout=60)
print(sum(1 for r in results if r.state == 'SUCCESS'))
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_event_broker_costs_tasks_nothing() {
    let queues = TestQueues::new();
    let q = queues.queue("events-stall");
    let node = format!("celeriac@{q}");
    let python = Python::find();
    python.require("celery");
    let broker: std::net::SocketAddr = amqp::amqp_url()
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .parse()
        .unwrap();
    let proxy = FaultProxy::start(broker).await;
    let port = free_port();
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "events-buffer = 16\n").unwrap();
    let _worker = start_worker(
        &q,
        &node,
        &[
            (
                "CELERIAC_EVENTS_BROKER_URL",
                amqp::amqp_url_via(proxy.addr()),
            ),
            ("CELERIAC_METRICS_LISTEN", format!("127.0.0.1:{port}")),
            ("CELERIAC_CONFIG", config.path().display().to_string()),
        ],
    );
    let sent = "celeriac_events_sent_total";
    tokio::time::timeout(PATIENCE, async {
        while http_get(port, "/metrics").await.is_none() || metric(port, sent).await < 1.0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("worker-online goes out through the proxy");

    // the event connection stalls: nothing it writes reaches the broker any more. The socket
    // buffers on the way take a few MB first; batches of tasks with large arguments (about
    // 2 KB of events each) go through until the publisher is stuck and events are dropped.
    proxy.set_delay(Duration::from_hours(1));
    let n: u32 = 400;
    let run_batch = async || {
        let started = Instant::now();
        let out = python
            .code(SEND_BIG)
            .args([amqp::amqp_url(), q.clone(), n.to_string()])
            .success()
            .await;
        assert_eq!(
            out.stdout.trim(),
            n.to_string(),
            "every task completes while events stall"
        );
        started.elapsed()
    };
    // until the kernel's socket buffers are full some events still go out; after that the
    // publisher is stuck, and a whole batch completes with every one of its events dropped
    let mut batches = 0;
    loop {
        let (lost_before, sent_before) = (dropped(port).await, metric(port, sent).await);
        let elapsed = run_batch().await;
        batches += 1;
        let (lost, sent_during) = (
            dropped(port).await - lost_before,
            metric(port, sent).await - sent_before,
        );
        eprintln!(
            "batch {batches}: {n} tasks in {elapsed:?} with the event connection stalled; \
             events dropped: {lost}, sent: {sent_during}"
        );
        if sent_during == 0.0 {
            // received, started, succeeded for each task
            assert!(lost >= f64::from(3 * n), "dropped {lost}");
            break;
        }
        assert!(batches < 40, "events still flow after {batches} batches");
    }

    // the broker answers again (the stalled connection is cut): events flow again
    proxy.set_delay(Duration::ZERO);
    proxy.cut_all();
    let resumed = metric(port, sent).await;
    tokio::time::timeout(PATIENCE, async {
        while metric(port, sent).await <= resumed {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("events are published again after the stall");
}
