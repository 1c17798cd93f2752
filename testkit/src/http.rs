//! A bare HTTP/1.1 GET against a process's operations endpoint on loopback (`/healthz`,
//! `/metrics`), and a free loopback port to start one on.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback port free right now (bound and released).
///
/// # Panics
/// When no port can be bound.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free loopback port")
        .port()
}

/// GETs `path` from `127.0.0.1:port`: `(status line, body)`, or `None` while nothing listens
/// or the answer breaks off.
pub async fn get(port: u16, path: &str) -> Option<(String, String)> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: t\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).await.ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_owned(), body.to_owned()))
}
