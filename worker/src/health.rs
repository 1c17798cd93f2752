//! The operations endpoint: a minimal HTTP/1.1 server answering `GET /healthz` (200 while
//! connected to the broker and consuming, 503 otherwise) and `GET /metrics` (Prometheus text).
//! Anything else is 404. One request per connection; requests are bounded in size and time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

const MAX_REQUEST: usize = 8 * 1024;
const MAX_CONNECTIONS: usize = 16;
const READ_TIMEOUT: Duration = Duration::from_secs(5);

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

/// Binds the endpoint's listener (at startup, so a bad address is a startup error).
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves until `stop` fires.
pub(crate) async fn serve(
    listener: TcpListener,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            continue; // too many open requests: drop the connection
        };
        let (health, metrics) = (health.clone(), metrics.clone());
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(err) = answer(stream, &health, &metrics).await {
                tracing::debug!(cause = %err, "health endpoint request failed");
            }
        });
    }
}

async fn answer(mut stream: TcpStream, health: &Health, metrics: &Metrics) -> std::io::Result<()> {
    let Ok(request) = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await else {
        return Ok(());
    };
    let (status, content_type, body) = match route(&request?) {
        Route::Healthz if health.is_healthy() => ("200 OK", "application/json", health.body()),
        Route::Healthz => ("503 Service Unavailable", "application/json", health.body()),
        Route::Metrics => {
            metrics.upkeep();
            ("200 OK", "text/plain; version=0.0.4", metrics.render())
        }
        Route::NotFound => ("404 Not Found", "text/plain", "not found\n".to_owned()),
        Route::BadMethod => (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_owned(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf)
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Healthz,
    Metrics,
    NotFound,
    BadMethod,
}

fn route(request: &[u8]) -> Route {
    let line = request
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if method != b"GET" && method != b"HEAD" {
        return Route::BadMethod;
    }
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    match path {
        b"/healthz" => Route::Healthz,
        b"/metrics" => Route::Metrics,
        _ => Route::NotFound,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route(b"GET /healthz HTTP/1.1\r\n\r\n"), Route::Healthz);
        assert_eq!(route(b"GET /metrics?x=1 HTTP/1.1\r\n"), Route::Metrics);
        assert_eq!(route(b"GET / HTTP/1.1\r\n"), Route::NotFound);
        assert_eq!(route(b"POST /healthz HTTP/1.1\r\n"), Route::BadMethod);
        assert_eq!(route(b""), Route::BadMethod);
        assert_eq!(route(&[0xff, 0x20, 0x00]), Route::BadMethod);
    }

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
        assert!(get(addr, "/nope").await.starts_with("HTTP/1.1 404"));
        stop.cancel();
        server.await.unwrap();
    }
}
