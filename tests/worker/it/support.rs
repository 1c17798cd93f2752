//! Shared pieces of the worker's integration tests: a worker process with captured logs, the
//! Python Celery client app, raw publishing and reply collection on the real RabbitMQ.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use celeriac_protocol::{HeaderTable, Properties, Reply};
use celeriac_testkit::amqp;
use celeriac_testkit::python::Python;
use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

/// Upper bound for anything a test waits for; reaching it is a failure, not a tolerance.
pub const PATIENCE: Duration = Duration::from_mins(1);

/// How to start a worker process.
#[derive(Debug, Clone, Default)]
pub struct WorkerSpec {
    pub queues: Vec<String>,
    pub broker_url: Option<String>,
    pub concurrency: Option<u32>,
    pub config_toml: Option<String>,
    pub metrics_listen: Option<String>,
    /// The node name (remote control addresses it); `celeriac-test@localhost` when unset.
    pub hostname: Option<String>,
}

impl WorkerSpec {
    pub fn queue(queue: &str) -> Self {
        WorkerSpec {
            queues: vec![queue.to_owned()],
            ..WorkerSpec::default()
        }
    }
}

/// A running `celeriac-test-worker` with its log lines captured (stderr and stdout).
pub struct WorkerProcess {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    new_line: Arc<Notify>,
    _config: Option<tempfile::NamedTempFile>,
}

impl WorkerProcess {
    /// Starts the test worker and waits until it consumes.
    pub async fn start(spec: WorkerSpec) -> WorkerProcess {
        let worker = WorkerProcess::spawn(spec);
        worker.wait_for_log("connected: consuming").await;
        worker
    }

    /// Starts the test worker without waiting for it.
    pub fn spawn(spec: WorkerSpec) -> WorkerProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_celeriac-test-worker"));
        cmd.env(
            "CELERIAC_BROKER_URL",
            spec.broker_url.unwrap_or_else(amqp::amqp_url),
        )
        .env("CELERIAC_QUEUES", spec.queues.join(","))
        .env("RUST_LOG", "celeriac_worker=debug,info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
        if let Some(c) = spec.concurrency {
            cmd.env("CELERIAC_CONCURRENCY", c.to_string());
        }
        if let Some(name) = spec.hostname {
            cmd.env("CELERIAC_HOSTNAME", name);
        }
        if let Some(addr) = spec.metrics_listen {
            cmd.env("CELERIAC_METRICS_LISTEN", addr);
        }
        let config = spec.config_toml.map(|text| {
            let file = tempfile::NamedTempFile::new().expect("temp config file");
            std::fs::write(file.path(), text).expect("write config");
            cmd.env("CELERIAC_CONFIG", file.path());
            file
        });
        let mut child = cmd.spawn().expect("start celeriac-test-worker");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let new_line = Arc::new(Notify::new());
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        for stream in [
            Box::new(out) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box::new(err),
        ] {
            let (logs, new_line) = (logs.clone(), new_line.clone());
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    logs.lock().expect("log lock").push(line);
                    new_line.notify_waiters();
                }
            });
        }
        WorkerProcess {
            child,
            logs,
            new_line,
            _config: config,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("worker still running")
    }

    /// All log lines so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }

    /// How many log lines contain every one of `needles`.
    pub fn count_logs(&self, needles: &[&str]) -> usize {
        self.logs()
            .iter()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .count()
    }

    /// Waits for a log line containing `needle` and returns it.
    pub async fn wait_for_log(&self, needle: &str) -> String {
        self.wait_for_logs(&[needle]).await
    }

    /// Waits for a log line containing every one of `needles`.
    pub async fn wait_for_logs(&self, needles: &[&str]) -> String {
        let found = tokio::time::timeout(PATIENCE, async {
            loop {
                let notified = self.new_line.notified();
                if let Some(line) = self
                    .logs()
                    .into_iter()
                    .find(|l| needles.iter().all(|n| l.contains(n)))
                {
                    return line;
                }
                tokio::select! {
                    () = notified => {},
                    () = tokio::time::sleep(Duration::from_millis(200)) => {},
                }
            }
        })
        .await;
        found.unwrap_or_else(|_| {
            panic!(
                "no log line with {needles:?}; logs:\n{}",
                self.logs().join("\n")
            )
        })
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        match tokio::time::timeout(PATIENCE, self.child.wait()).await {
            Ok(status) => status.expect("wait for worker"),
            Err(elapsed) => panic!(
                "worker did not exit ({elapsed}); logs:\n{}",
                self.logs().join("\n")
            ),
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

pub fn client_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/client.py")
}

/// Runs the Python Celery client app's `calls` command against `queue` and returns its outcomes.
pub async fn python_calls(queue: &str, extra: &[&str], calls: &Value) -> Vec<Value> {
    let out = python_client(queue, extra, "calls", calls).await;
    serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("client output is not JSON ({e}): {out}"))
}

/// Runs the client app with any command and returns its stdout.
pub async fn python_client(queue: &str, extra: &[&str], command: &str, spec: &Value) -> String {
    let python = Python::find();
    python.require("celery");
    let run = python
        .script(client_script())
        .args(["--broker", &amqp::amqp_url(), "--queue", queue])
        .args(extra)
        .arg(command)
        .arg(spec.to_string())
        .success();
    let out = tokio::time::timeout(PATIENCE * 2, run)
        .await
        .expect("python client finished");
    out.stdout
}

/// A broker connection and channel for the test's own publishing and reply reading.
pub async fn channel() -> (Connection, Channel) {
    let conn = amqp::connect().await;
    let ch = conn.create_channel().await.expect("channel");
    (conn, ch)
}

/// Declares a reply queue (as the rpc backend would) and consumes it without acks.
pub async fn reply_consumer(ch: &Channel, name: &str) -> lapin::Consumer {
    let options = QueueDeclareOptions {
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    ch.queue_declare(name.into(), options, FieldTable::default())
        .await
        .expect("declare reply queue");
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..BasicConsumeOptions::default()
    };
    ch.basic_consume(name.into(), "".into(), no_ack, FieldTable::default())
        .await
        .expect("consume replies")
}

/// Reads replies until `done` says so; returns them by task id, in arrival order.
pub async fn collect_replies(
    consumer: &mut lapin::Consumer,
    mut done: impl FnMut(&HashMap<String, Vec<Reply>>) -> bool,
) -> HashMap<String, Vec<Reply>> {
    let mut replies: HashMap<String, Vec<Reply>> = HashMap::new();
    let read = async {
        while !done(&replies) {
            let delivery = consumer
                .next()
                .await
                .expect("reply stream open")
                .expect("reply delivery");
            let props = Properties {
                content_type: delivery
                    .properties
                    .content_type()
                    .as_ref()
                    .map(ToString::to_string),
                content_encoding: delivery
                    .properties
                    .content_encoding()
                    .as_ref()
                    .map(ToString::to_string),
                ..Properties::default()
            };
            let reply =
                Reply::decode(&props, &HeaderTable::new(), &delivery.data).expect("reply decodes");
            replies
                .entry(reply.task_id.to_string())
                .or_default()
                .push(reply);
        }
    };
    let finished = tokio::time::timeout(PATIENCE, read).await;
    assert!(finished.is_ok(), "replies still missing after {PATIENCE:?}");
    replies
}

/// Publishes a raw message to `queue` through the default exchange and waits until it is routed.
pub async fn publish_raw(ch: &Channel, queue: &str, body: &[u8], properties: BasicProperties) {
    ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        body,
        properties,
    )
    .await
    .expect("publish")
    .await
    .expect("publish confirm");
}

/// Messages ready in `queue` (a passive declare).
pub async fn ready_count(ch: &Channel, queue: &str) -> u32 {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    ch.queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .expect("queue exists")
        .message_count()
}

/// A free loopback port for the health endpoint.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// GETs a path from the worker's health endpoint and returns (status line, body).
pub async fn http_get(port: u16, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to endpoint");
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: t\r\n\r\n").as_bytes())
        .await
        .expect("send request");
    let mut text = String::new();
    s.read_to_string(&mut text).await.expect("read response");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}
