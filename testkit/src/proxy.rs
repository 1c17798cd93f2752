//! The fault proxy: a loopback TCP forwarder that cuts, delays or refuses connections on demand.
//!
//! Tests put a [`FaultProxy`] between a client under test (lapin, an S3 client, sqlx) and a real
//! service, then flip its controls to simulate a network that fails in a chosen way. The proxy
//! never mocks the protocol: every byte that passes is the real service's.

mod link;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A snapshot of what a [`FaultProxy`] has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted and joined to the target.
    pub accepted: u64,
    /// Connections reset on arrival because refusal was on ([`FaultProxy::set_refuse`]).
    pub refused: u64,
    /// Connections reset on arrival because the target could not be reached.
    pub upstream_failed: u64,
    /// Connections open through the proxy right now.
    pub active: u64,
    /// Connections the proxy reset on purpose: by [`FaultProxy::cut_all`] or the byte limit.
    pub cut: u64,
    /// Bytes forwarded in both directions over all connections.
    pub bytes_forwarded: u64,
}

/// The knobs shared by the accept loop and every live connection.
pub(crate) struct Controls {
    /// When set, new connections are reset as soon as they are accepted.
    refuse: AtomicBool,
    /// Pause before forwarding each chunk, in either direction.
    delay: Mutex<Duration>,
    /// Per-connection budget of forwarded bytes (both directions) before the proxy resets it.
    cut_after: Mutex<Option<u64>>,
    /// Bumped by `cut_all`; each live connection watches it and resets when it moves.
    cut_generation: watch::Sender<u64>,
    /// Counters, in a watch channel so tests can await a condition instead of sleeping.
    stats: watch::Sender<ProxyStats>,
}

impl Controls {
    fn delay(&self) -> Duration {
        *self.delay.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cut_after(&self) -> Option<u64> {
        *self
            .cut_after
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, update: impl FnOnce(&mut ProxyStats)) {
        self.stats.send_modify(update);
    }
}

/// A TCP proxy on `127.0.0.1:<random port>` forwarding to one target, with fault controls.
///
/// Controls take effect immediately and apply to live connections as data moves
/// ([`set_delay`](Self::set_delay), [`cut_after_bytes`](Self::cut_after_bytes)) or to new
/// connections ([`set_refuse`](Self::set_refuse)). Resets are real TCP resets (`SO_LINGER` 0),
/// so clients see `ECONNRESET` just as they would from a failing network or server.
///
/// Dropping the proxy closes its listener and resets every connection still open through it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use celeriac_testkit::proxy::FaultProxy;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// // A one-shot echo server stands in for a real service.
/// let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let target = server.local_addr().unwrap();
/// tokio::spawn(async move {
///     let (mut conn, _) = server.accept().await.unwrap();
///     let (mut r, mut w) = conn.split();
///     tokio::io::copy(&mut r, &mut w).await.ok();
/// });
///
/// let proxy = FaultProxy::start(target).await;
/// let mut client = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
/// client.write_all(b"ping").await.unwrap();
/// let mut buf = [0; 4];
/// client.read_exact(&mut buf).await.unwrap();
/// assert_eq!(&buf, b"ping");
///
/// proxy.cut_all();
/// let err = client.read(&mut buf).await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
/// # }
/// ```
pub struct FaultProxy {
    /// Where clients connect.
    addr: SocketAddr,
    /// Where the proxy forwards to.
    target: SocketAddr,
    controls: Arc<Controls>,
    /// Aborted on drop, which closes the listener.
    accept_task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` that forwards each accepted connection to `target`.
    ///
    /// # Panics
    /// If no loopback port can be bound (the machine is out of ports or file descriptors).
    pub async fn start(target: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("fault proxy: binding a loopback port must succeed");
        let addr = listener
            .local_addr()
            .expect("fault proxy: a bound listener has a local address");
        let controls = Arc::new(Controls {
            refuse: AtomicBool::new(false),
            delay: Mutex::new(Duration::ZERO),
            cut_after: Mutex::new(None),
            cut_generation: watch::Sender::new(0),
            stats: watch::Sender::new(ProxyStats::default()),
        });
        let accept_task = tokio::spawn(accept_loop(listener, target, Arc::clone(&controls)));
        FaultProxy {
            addr,
            target,
            controls,
            accept_task,
        }
    }

    /// The address clients should connect to instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address the proxy forwards to.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// Resets every connection open right now (RST to both the client and the target).
    ///
    /// New connections are not affected. The resets happen on the connections' own tasks; await
    /// `wait_until(|s| s.active == 0)` when a test needs them all gone before going on.
    pub fn cut_all(&self) {
        self.controls.cut_generation.send_modify(|g| *g += 1);
    }

    /// While `true`, each new connection is accepted and immediately reset, so the client's
    /// first read or write fails with `ECONNRESET`. Open connections are not affected.
    pub fn set_refuse(&self, refuse: bool) {
        self.controls.refuse.store(refuse, Ordering::SeqCst);
    }

    /// Waits `delay` before forwarding each chunk of data, in both directions, on every
    /// connection (open ones included). `Duration::ZERO` turns the delay off.
    pub fn set_delay(&self, delay: Duration) {
        *self
            .controls
            .delay
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = delay;
    }

    /// Resets a connection once it has forwarded `limit` bytes (both directions together);
    /// `None` lifts the limit.
    ///
    /// The budget is per connection and checked whenever data moves, so lowering it below what
    /// an open connection has already forwarded cuts that connection at its next chunk.
    /// `Some(0)` cuts connections as soon as they are accepted.
    pub fn cut_after_bytes(&self, limit: Option<u64>) {
        *self
            .controls
            .cut_after
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = limit;
    }

    /// The counters as they are now.
    pub fn stats(&self) -> ProxyStats {
        *self.controls.stats.borrow()
    }

    /// Waits until `condition` holds for the counters and returns the snapshot that satisfied it.
    ///
    /// Use it instead of sleeping, e.g. `proxy.wait_until(|s| s.active == 0).await`. Wrap it in
    /// `tokio::time::timeout` if the condition may never come true.
    ///
    /// # Panics
    /// Never in practice: the counters live as long as the proxy.
    pub async fn wait_until(&self, mut condition: impl FnMut(&ProxyStats) -> bool) -> ProxyStats {
        let mut stats = self.controls.stats.subscribe();
        let snapshot = stats
            .wait_for(|s| condition(s))
            .await
            .expect("fault proxy: the stats sender lives as long as the proxy");
        *snapshot
    }
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("target", &self.target)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        self.cut_all();
    }
}

/// Accepts connections until the proxy is dropped, handing each to its own task.
async fn accept_loop(listener: TcpListener, target: SocketAddr, controls: Arc<Controls>) {
    loop {
        let Ok((client, _peer)) = listener.accept().await else {
            // Transient accept failures (out of descriptors, aborted handshakes): keep serving.
            tokio::task::yield_now().await;
            continue;
        };
        if controls.refuse.load(Ordering::SeqCst) {
            reset(client);
            controls.count(|s| s.refused += 1);
            continue;
        }
        let cut = controls.cut_generation.subscribe();
        tokio::spawn(link::run(client, target, cut, Arc::clone(&controls)));
    }
}

/// Closes `stream` with an RST instead of a FIN.
fn reset(stream: TcpStream) {
    // If the socket is already dead, setting the option fails and plain close is all we can do.
    let _ = stream.set_zero_linger();
    drop(stream);
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]
mod tests;
