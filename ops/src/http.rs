//! The HTTP side: one request per connection, requests bounded in size (8 KiB of head) and
//! time (5 s), at most 16 connections at once (more are dropped). `GET`/`HEAD` of `/healthz`
//! and `/metrics` (a query string is ignored); any other path is 404, any other method 405.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::probe::Probe;

const MAX_REQUEST: usize = 8 * 1024;
const MAX_CONNECTIONS: usize = 16;
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds the endpoint's listener (call it at startup, so that a bad or busy address is a
/// startup error rather than a log line).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves requests on `listener` from `probe` until `stop` fires.
pub async fn serve(listener: TcpListener, probe: Arc<dyn Probe>, stop: CancellationToken) {
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
        let probe = probe.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(err) = answer(stream, probe.as_ref()).await {
                tracing::debug!(cause = %err, "operations endpoint request failed");
            }
        });
    }
}

async fn answer(mut stream: TcpStream, probe: &dyn Probe) -> std::io::Result<()> {
    let Ok(request) = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await else {
        return Ok(());
    };
    let (status, content_type, body) = match route(&request?) {
        Route::Healthz => {
            let health = probe.health();
            let status = if health.healthy {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            (status, "application/json", health.body)
        }
        Route::Metrics => ("200 OK", "text/plain; version=0.0.4", probe.metrics()),
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
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::probe::Health;

    #[test]
    fn routes() {
        assert_eq!(route(b"GET /healthz HTTP/1.1\r\n\r\n"), Route::Healthz);
        assert_eq!(route(b"GET /metrics?x=1 HTTP/1.1\r\n"), Route::Metrics);
        assert_eq!(route(b"GET / HTTP/1.1\r\n"), Route::NotFound);
        assert_eq!(route(b"POST /healthz HTTP/1.1\r\n"), Route::BadMethod);
        assert_eq!(route(b""), Route::BadMethod);
        assert_eq!(route(&[0xff, 0x20, 0x00]), Route::BadMethod);
    }

    #[derive(Default)]
    struct Flag(AtomicBool);

    impl Probe for Flag {
        fn health(&self) -> Health {
            let healthy = self.0.load(Ordering::Relaxed);
            Health {
                healthy,
                body: format!("{{\"ok\":{healthy}}}\n"),
            }
        }
        fn metrics(&self) -> String {
            "up 1\n".to_owned()
        }
    }

    async fn get(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn answers_over_tcp() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let flag = Arc::new(Flag::default());
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(listener, flag.clone(), stop.clone()));
        let sick = get(addr, b"GET /healthz HTTP/1.1\r\n\r\n").await;
        assert!(sick.starts_with("HTTP/1.1 503"), "{sick}");
        assert!(sick.ends_with("{\"ok\":false}\n"), "{sick}");
        flag.0.store(true, Ordering::Relaxed);
        let ok = get(addr, b"GET /healthz?full=1 HTTP/1.1\r\nhost: x\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        let m = get(addr, b"GET /metrics HTTP/1.1\r\n\r\n").await;
        assert!(m.contains("content-type: text/plain; version=0.0.4"), "{m}");
        assert!(m.ends_with("\r\n\r\nup 1\n"), "{m}");
        assert!(
            get(addr, b"GET /nope HTTP/1.1\r\n\r\n")
                .await
                .starts_with("HTTP/1.1 404")
        );
        assert!(
            get(addr, b"DELETE /healthz HTTP/1.1\r\n\r\n")
                .await
                .starts_with("HTTP/1.1 405")
        );
        stop.cancel();
        server.await.unwrap();
    }
}
