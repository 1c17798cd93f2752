//! `celeriac worker` as a process: flags and environment fallbacks, JSON logs, the health
//! endpoint, a real Python Celery client, graceful SIGTERM, and exit codes.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::process::Stdio;
use std::time::Duration;

use celeriac_testkit::amqp::{self, TestQueues};
use celeriac_testkit::python::Python;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

const PATIENCE: Duration = Duration::from_mins(1);

fn celeriac() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_celeriac"));
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    cmd
}

async fn healthz(port: u16) -> Option<String> {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").await.ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    Some(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_subcommand_serves_a_python_client_and_stops_on_sigterm() {
    let queues = TestQueues::new();
    let q = queues.queue("cli");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = celeriac()
        .args(["worker", "--log-format", "json", "-c", "3"])
        .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
        .env("CELERIAC_BROKER_URL", amqp::amqp_url())
        .env("CELERIAC_QUEUES", &q)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ready = async {
        loop {
            if healthz(port)
                .await
                .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(PATIENCE, ready)
        .await
        .expect("worker healthy");
    let python = Python::find();
    python.require("celery");
    let client = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/worker/python/client.py"
    );
    let out = python
        .script(client)
        .args(["--broker", &amqp::amqp_url(), "--queue", &q, "calls"])
        .arg(r#"[{"name": "celery.accumulate", "args": [7, 8, 9], "kwargs": {"index": -1}}]"#)
        .success()
        .await;
    let outcomes: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(outcomes[0]["value"], 9, "{outcomes}");
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .await
        .unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect();
    let connected = lines
        .iter()
        .find(|l| l["message"] == "connected: consuming")
        .expect("connected line");
    assert_eq!(connected["queues"], format!("[\"{q}\"]"));
    assert_eq!(connected["concurrency"], 3);
    assert!(
        connected["broker"].as_str().unwrap().contains(":***@"),
        "{connected}"
    );
    assert!(!logs.contains("guest:guest"), "password leaked: {logs}");
    assert!(lines.iter().any(|l| l["message"] == "worker stopped"));
}

#[tokio::test]
async fn configuration_errors_exit_78_and_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("worker.toml");
    std::fs::write(&file, "concurrency = 2\nno-such-key = 1\n").unwrap();
    let out = celeriac()
        .args(["worker", "--config"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("worker.toml") && err.contains("no-such-key"),
        "{err}"
    );
    let out = celeriac()
        .args(["worker", "--broker", "amqp://user:s3cret@[bad"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid broker url") && !err.contains("s3cret"),
        "{err}"
    );
}
