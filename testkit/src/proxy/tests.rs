//! Tests of the fault proxy against a tiny loopback echo server.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::FaultProxy;

/// Starts an echo server on loopback that serves any number of connections.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let (mut r, mut w) = conn.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    addr
}

async fn echo_once(client: &mut TcpStream, payload: &[u8]) -> Vec<u8> {
    client.write_all(payload).await.unwrap();
    let mut back = vec![0; payload.len()];
    client.read_exact(&mut back).await.unwrap();
    back
}

/// Reads until the stream fails, returning what arrived before the failure and the error kind.
async fn read_until_failure(client: &mut TcpStream) -> (Vec<u8>, ErrorKind) {
    let mut got = Vec::new();
    let mut buf = [0; 1024];
    loop {
        match client.read(&mut buf).await {
            Ok(0) => return (got, ErrorKind::UnexpectedEof),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, e.kind()),
        }
    }
}

#[tokio::test]
async fn forwards_both_ways_and_counts() {
    let proxy = FaultProxy::start(echo_server().await).await;
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(echo_once(&mut client, b"hello").await, b"hello");
    let stats = proxy.stats();
    assert_eq!((stats.accepted, stats.active), (1, 1));
    assert_eq!(stats.bytes_forwarded, 10);

    client.shutdown().await.unwrap();
    let (rest, end) = read_until_failure(&mut client).await;
    assert!(rest.is_empty());
    assert_eq!(
        end,
        ErrorKind::UnexpectedEof,
        "a clean close passes through as FIN"
    );
    let stats = proxy.wait_until(|s| s.active == 0).await;
    assert_eq!((stats.accepted, stats.cut, stats.refused), (1, 0, 0));
}

#[tokio::test]
async fn cut_all_resets_live_connections_only() {
    let proxy = FaultProxy::start(echo_server().await).await;
    let mut first = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut second = TcpStream::connect(proxy.addr()).await.unwrap();
    echo_once(&mut first, b"1").await;
    echo_once(&mut second, b"2").await;

    proxy.cut_all();
    assert_eq!(
        read_until_failure(&mut first).await.1,
        ErrorKind::ConnectionReset
    );
    assert_eq!(
        read_until_failure(&mut second).await.1,
        ErrorKind::ConnectionReset
    );
    let stats = proxy.wait_until(|s| s.active == 0).await;
    assert_eq!(stats.cut, 2);

    let mut later = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(echo_once(&mut later, b"still works").await, b"still works");
}

#[tokio::test]
async fn refuse_resets_new_connections_until_lifted() {
    let proxy = FaultProxy::start(echo_server().await).await;
    let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
    echo_once(&mut open, b"before").await;

    proxy.set_refuse(true);
    let mut refused = TcpStream::connect(proxy.addr()).await.unwrap();
    let _ = refused.write_all(b"anyone?").await;
    let (got, end) = read_until_failure(&mut refused).await;
    assert!(got.is_empty());
    assert_eq!(end, ErrorKind::ConnectionReset);
    assert_eq!(
        echo_once(&mut open, b"open one unaffected").await,
        b"open one unaffected"
    );

    proxy.set_refuse(false);
    let mut after = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(echo_once(&mut after, b"back").await, b"back");
    let stats = proxy.stats();
    assert_eq!((stats.refused, stats.accepted), (1, 2));
}

#[tokio::test]
async fn byte_limit_cuts_a_connection_after_that_many_bytes() {
    let proxy = FaultProxy::start(echo_server().await).await;
    proxy.cut_after_bytes(Some(5));
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    client.write_all(b"0123456789").await.unwrap();
    let (got, end) = read_until_failure(&mut client).await;
    assert_eq!(end, ErrorKind::ConnectionReset);
    assert!(got.len() <= 5, "at most the budget comes back, got {got:?}");
    let stats = proxy.wait_until(|s| s.active == 0).await;
    assert_eq!((stats.cut, stats.bytes_forwarded), (1, 5));

    proxy.cut_after_bytes(None);
    let mut unlimited = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(
        echo_once(&mut unlimited, b"0123456789").await,
        b"0123456789"
    );
}

#[tokio::test]
async fn zero_byte_limit_cuts_on_accept() {
    let proxy = FaultProxy::start(echo_server().await).await;
    proxy.cut_after_bytes(Some(0));
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(
        read_until_failure(&mut client).await.1,
        ErrorKind::ConnectionReset
    );
    let stats = proxy.wait_until(|s| s.cut == 1).await;
    assert_eq!(stats.bytes_forwarded, 0);
}

#[tokio::test(start_paused = true)]
async fn delay_holds_each_chunk_in_each_direction() {
    let proxy = FaultProxy::start(echo_server().await).await;
    let delay = Duration::from_millis(250);
    proxy.set_delay(delay);
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    let started = tokio::time::Instant::now();
    assert_eq!(echo_once(&mut client, b"slow").await, b"slow");
    assert!(started.elapsed() >= delay * 2, "one delay up and one down");

    proxy.set_delay(Duration::ZERO);
    let started = tokio::time::Instant::now();
    echo_once(&mut client, b"fast").await;
    assert!(started.elapsed() < delay, "no delay once turned off");
}

#[tokio::test]
async fn unreachable_target_resets_the_client() {
    let vacant = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = vacant.local_addr().unwrap();
    drop(vacant);
    let proxy = FaultProxy::start(target).await;
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(
        read_until_failure(&mut client).await.1,
        ErrorKind::ConnectionReset
    );
    let stats = proxy.wait_until(|s| s.upstream_failed == 1).await;
    assert_eq!(stats.accepted, 0);
}

#[tokio::test]
async fn dropping_the_proxy_resets_its_connections() {
    let proxy = FaultProxy::start(echo_server().await).await;
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    echo_once(&mut client, b"x").await;
    let addr = proxy.addr();
    drop(proxy);
    assert_eq!(
        read_until_failure(&mut client).await.1,
        ErrorKind::ConnectionReset
    );
    let refused = TcpStream::connect(addr).await;
    assert!(refused.is_err(), "the listener is closed");
}
