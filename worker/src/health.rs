//! The worker's side of the operations endpoint (`celeriac-ops` serves it): `/healthz` is 200
//! while connected to the broker and consuming, 503 otherwise; `/metrics` is the worker's
//! Prometheus text.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use celeriac_ops::Probe;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Liveness facts the session loop updates and `/healthz` reports.
#[derive(Debug, Default)]
pub(crate) struct Health {
    connected: AtomicBool,
    consuming: AtomicBool,
}

impl Health {
    pub(crate) fn set_connected(&self, v: bool) {
        self.connected.store(v, Ordering::Relaxed);
    }

    pub(crate) fn set_consuming(&self, v: bool) {
        self.consuming.store(v, Ordering::Relaxed);
    }

    pub(crate) fn is_healthy(&self) -> bool {
        self.connected.load(Ordering::Relaxed) && self.consuming.load(Ordering::Relaxed)
    }

    fn body(&self) -> String {
        format!(
            "{{\"connected\":{},\"consuming\":{}}}\n",
            self.connected.load(Ordering::Relaxed),
            self.consuming.load(Ordering::Relaxed)
        )
    }
}

/// What the endpoint asks: the health flags and the metrics.
struct WorkerProbe {
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

impl Probe for WorkerProbe {
    fn health(&self) -> celeriac_ops::Health {
        celeriac_ops::Health {
            healthy: self.health.is_healthy(),
            body: self.health.body(),
        }
    }

    fn metrics(&self) -> String {
        self.metrics.upkeep();
        self.metrics.render()
    }
}

/// Binds the endpoint's listener (at startup, so a bad address is a startup error).
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    celeriac_ops::bind(addr).await
}

/// Serves until `stop` fires.
pub(crate) async fn serve(
    listener: TcpListener,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    celeriac_ops::serve(listener, Arc::new(WorkerProbe { health, metrics }), stop).await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_health_and_metrics_over_tcp() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let health = Arc::new(Health::default());
        let metrics = Arc::new(Metrics::new(["t"]));
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(
            listener,
            health.clone(),
            metrics.clone(),
            stop.clone(),
        ));
        assert!(get(addr, "/healthz").await.starts_with("HTTP/1.1 503"));
        health.set_connected(true);
        health.set_consuming(true);
        let ok = get(addr, "/healthz").await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.ends_with("{\"connected\":true,\"consuming\":true}\n"));
        metrics.task("t").received.increment(3);
        let m = get(addr, "/metrics").await;
        assert!(
            m.contains(r#"celeriac_tasks_received_total{task="t"} 3"#),
            "{m}"
        );
        stop.cancel();
        server.await.unwrap();
    }
}
