//! `tests/worker/python/events_probe.py` driven from Rust: Celery's own event receiver and
//! `State` listening for one worker node, so event tests are judged by Celery's reading of them.
//! The script prints `ready` once its queue is bound and, when it ends, one JSON report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use crate::amqp;
use crate::python::Python;

/// How long the probe may take to bind its queue, and to end once told to.
const PATIENCE: Duration = Duration::from_mins(1);

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/worker/python/events_probe.py")
}

/// A running probe.
pub struct EventsProbe {
    child: Child,
}

impl EventsProbe {
    /// Starts the probe for `node` on the test broker, with `extra` arguments (such as
    /// `["--until", "worker-heartbeat"]`; it ends on `worker-offline` by default), and returns
    /// once it listens.
    ///
    /// # Panics
    /// When the probe does not say `ready` within a minute (a test failure).
    pub async fn start(python: &Python, node: &str, extra: &[&str]) -> Self {
        let mut child = python
            .script(script())
            .args(["--broker", &amqp::amqp_url(), "--node", node])
            .args(["--timeout", "90"])
            .args(extra)
            .spawn();
        let stdout = child.stdout.as_mut().expect("the probe's stdout is piped");
        let mut line = String::new();
        tokio::time::timeout(PATIENCE, BufReader::new(stdout).read_line(&mut line))
            .await
            .expect("the probe binds its queue")
            .expect("the probe's stdout is readable");
        assert_eq!(line.trim(), "ready", "probe said {line:?}");
        Self { child }
    }

    /// Waits for the probe to end and returns its report.
    ///
    /// # Panics
    /// When the probe fails, hangs or prints no JSON (a test failure, with its output).
    pub async fn report(self) -> Value {
        let out = tokio::time::timeout(PATIENCE * 2, self.child.wait_with_output())
            .await
            .expect("the probe ends")
            .expect("the probe can be waited for");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "the probe (Celery's State) failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(stdout.trim()).expect("the probe's report is JSON")
    }
}
