//! One proxied connection: pumps bytes both ways and applies the delay, byte limit and cuts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::sync::watch;

use super::{Controls, reset};

/// Size of one forwarded chunk; each chunk is delayed and counted as a unit.
const CHUNK: usize = 16 * 1024;

/// How one direction of a connection stopped.
enum Flow {
    /// The reader sent FIN and it was passed on.
    Eof,
    /// The byte budget ran out.
    LimitReached,
    /// A read or write failed (the peer reset or vanished).
    Broken,
}

/// How the whole connection ended.
#[derive(PartialEq, Eq)]
enum End {
    /// Both sides closed normally.
    Closed,
    /// The proxy cut it on purpose.
    Cut,
    /// One side failed; the other is reset too, as a real network path would break.
    Broken,
}

/// Joins `client` to a fresh connection to `target` and forwards until either side is done.
pub(super) async fn run(
    client: TcpStream,
    target: SocketAddr,
    mut cut: watch::Receiver<u64>,
    controls: Arc<Controls>,
) {
    let Ok(upstream) = TcpStream::connect(target).await else {
        reset(client);
        controls.count(|s| s.upstream_failed += 1);
        return;
    };
    // Latency comes from `set_delay` only, never from Nagle batching.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    controls.count(|s| {
        s.accepted += 1;
        s.active += 1;
    });

    let (mut client, mut upstream) = (client, upstream);
    let end = forward(&mut client, &mut upstream, &mut cut, &controls).await;
    if end == End::Closed {
        drop((client, upstream));
    } else {
        reset(client);
        reset(upstream);
    }
    controls.count(|s| {
        s.active -= 1;
        if end == End::Cut {
            s.cut += 1;
        }
    });
}

/// Runs both directions until both reach EOF, one breaks, the budget runs out or a cut arrives.
async fn forward(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    cut: &mut watch::Receiver<u64>,
    controls: &Controls,
) -> End {
    let forwarded = AtomicU64::new(0);
    let (mut client_read, mut client_write) = client.split();
    let (mut upstream_read, mut upstream_write) = upstream.split();
    let up = pump(&mut client_read, &mut upstream_write, &forwarded, controls);
    let down = pump(&mut upstream_read, &mut client_write, &forwarded, controls);
    tokio::pin!(up, down);
    let (mut up_done, mut down_done) = (false, false);
    loop {
        let flow = tokio::select! {
            flow = &mut up, if !up_done => { up_done = true; flow }
            flow = &mut down, if !down_done => { down_done = true; flow }
            // An error here means the proxy is gone, which also calls for a cut.
            _ = cut.changed() => return End::Cut,
        };
        match flow {
            Flow::Eof if up_done && down_done => return End::Closed,
            Flow::Eof => {}
            Flow::LimitReached => return End::Cut,
            Flow::Broken => return End::Broken,
        }
    }
}

/// Copies one direction chunk by chunk, honouring the delay and the shared byte budget.
async fn pump(
    from: &mut ReadHalf<'_>,
    to: &mut WriteHalf<'_>,
    forwarded: &AtomicU64,
    controls: &Controls,
) -> Flow {
    let mut buf = vec![0_u8; CHUNK];
    loop {
        if remaining(forwarded, controls) == 0 {
            return Flow::LimitReached;
        }
        let read = match from.read(&mut buf).await {
            Ok(0) => {
                return match to.shutdown().await {
                    Ok(()) => Flow::Eof,
                    Err(_) => Flow::Broken,
                };
            }
            Ok(read) => read,
            Err(_) => return Flow::Broken,
        };
        let delay = controls.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        // Reserve before the write (no await in between), so the other direction cannot spend
        // the same budget while this write is in flight.
        let pass = usize::try_from(remaining(forwarded, controls)).map_or(read, |r| r.min(read));
        forwarded.fetch_add(pass as u64, Ordering::SeqCst);
        if to.write_all(&buf[..pass]).await.is_err() {
            return Flow::Broken;
        }
        controls.count(|s| s.bytes_forwarded += pass as u64);
        if pass < read {
            return Flow::LimitReached;
        }
    }
}

/// Bytes this connection may still forward under the current limit.
fn remaining(forwarded: &AtomicU64, controls: &Controls) -> u64 {
    controls.cut_after().map_or(u64::MAX, |limit| {
        limit.saturating_sub(forwarded.load(Ordering::SeqCst))
    })
}
