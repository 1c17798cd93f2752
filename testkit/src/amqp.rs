//! RabbitMQ for tests: the broker URL, uniquely named queues, connecting with lapin, and a guard
//! that deletes a test's queues and exchanges when it ends.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Mutex, PoisonError};

use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Connection, ConnectionProperties};
use uuid::Uuid;

use crate::service::{env_or, redact_url, unavailable};

/// The broker URL: `CELERIAC_TEST_AMQP_URL`, default `amqp://guest:guest@127.0.0.1:5672/%2f`.
///
/// # Panics
/// If the variable is set to invalid UTF-8.
pub fn amqp_url() -> String {
    env_or(
        "CELERIAC_TEST_AMQP_URL",
        "amqp://guest:guest@127.0.0.1:5672/%2f",
    )
}

/// [`amqp_url`] with its host and port replaced by `proxy` (credentials and vhost kept), for
/// reaching the broker through a [`FaultProxy`](crate::proxy::FaultProxy).
///
/// # Panics
/// If the broker URL has no `scheme://` part.
pub fn amqp_url_via(proxy: SocketAddr) -> String {
    let url = amqp_url();
    let Some((scheme, rest)) = url.split_once("://") else {
        panic!("CELERIAC_TEST_AMQP_URL is not a URL: {}", redact_url(&url));
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, _host)) => format!("{scheme}://{userinfo}@{proxy}{tail}"),
        None => format!("{scheme}://{proxy}{tail}"),
    }
}

/// The broker's socket address (from [`amqp_url`]), for a [`FaultProxy`](crate::proxy::FaultProxy)
/// in front of it.
///
/// # Panics
/// If the URL does not parse or its host does not resolve.
pub fn broker_addr() -> SocketAddr {
    let uri: lapin::uri::AMQPUri = amqp_url().parse().expect("the test broker URL parses");
    (uri.authority.host.as_str(), uri.authority.port)
        .to_socket_addrs()
        .expect("the test broker's host resolves")
        .next()
        .expect("the test broker's host has an address")
}

/// A queue (or exchange) name no other test uses: `<prefix>-<uuid>`.
pub fn unique_queue(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

/// Connects to the broker at [`amqp_url`].
///
/// # Panics
/// If RabbitMQ cannot be reached, with a message naming it and how to start it.
pub async fn connect() -> Connection {
    connect_to(&amqp_url()).await
}

/// Connects to the broker at `url` (e.g. one from [`amqp_url_via`]).
///
/// # Panics
/// If RabbitMQ cannot be reached there, with a message naming it and how to start it.
pub async fn connect_to(url: &str) -> Connection {
    match Connection::connect(url, ConnectionProperties::default()).await {
        Ok(connection) => connection,
        Err(e) => unavailable("RabbitMQ", &redact_url(url), &e),
    }
}

/// Deletes the queues and exchanges a test used when it goes out of scope.
///
/// Names come from [`TestQueues::queue`] (unique and tracked) or are tracked explicitly with
/// [`TestQueues::track_queue`] / [`TestQueues::track_exchange`]. Cleanup opens its own
/// connection on a helper thread, so it works from any runtime flavour and even after the
/// test's own connection broke; it is best effort and reports failures on stderr only.
///
/// ```no_run
/// # async fn demo() {
/// use celeriac_testkit::amqp::{self, TestQueues};
///
/// let queues = TestQueues::new();
/// let name = queues.queue("celery"); // e.g. "celery-3f2a…", deleted when `queues` drops
/// let connection = amqp::connect().await;
/// # let _ = (name, connection);
/// # }
/// ```
pub struct TestQueues {
    url: String,
    queues: Mutex<Vec<String>>,
    exchanges: Mutex<Vec<String>>,
}

impl TestQueues {
    /// A guard that cleans up on the broker at [`amqp_url`].
    ///
    /// # Panics
    /// If `CELERIAC_TEST_AMQP_URL` is set to invalid UTF-8.
    pub fn new() -> TestQueues {
        TestQueues::on(amqp_url())
    }

    /// A guard that cleans up on the broker at `url`.
    pub fn on(url: impl Into<String>) -> TestQueues {
        TestQueues {
            url: url.into(),
            queues: Mutex::new(Vec::new()),
            exchanges: Mutex::new(Vec::new()),
        }
    }

    /// A fresh unique queue name (see [`unique_queue`]), deleted when the guard drops.
    pub fn queue(&self, prefix: &str) -> String {
        let name = unique_queue(prefix);
        self.track_queue(name.clone());
        name
    }

    /// Deletes the queue `name` when the guard drops (e.g. a reply queue named by a client).
    pub fn track_queue(&self, name: impl Into<String>) {
        lock(&self.queues).push(name.into());
    }

    /// Deletes the exchange `name` when the guard drops.
    pub fn track_exchange(&self, name: impl Into<String>) {
        lock(&self.exchanges).push(name.into());
    }
}

impl std::fmt::Debug for TestQueues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestQueues")
            .field("url", &redact_url(&self.url))
            .field("queues", &*lock(&self.queues))
            .field("exchanges", &*lock(&self.exchanges))
            .finish()
    }
}

impl Default for TestQueues {
    fn default() -> Self {
        TestQueues::new()
    }
}

impl Drop for TestQueues {
    fn drop(&mut self) {
        let queues = std::mem::take(&mut *lock(&self.queues));
        let exchanges = std::mem::take(&mut *lock(&self.exchanges));
        if queues.is_empty() && exchanges.is_empty() {
            return;
        }
        let url = self.url.clone();
        let cleanup = std::thread::spawn(move || delete_all(&url, queues, exchanges));
        let outcome = cleanup.join();
        if let Ok(Err(e)) = outcome {
            eprintln!("testkit: deleting test queues failed (leftovers stay on the broker): {e}");
        }
    }
}

fn lock(names: &Mutex<Vec<String>>) -> std::sync::MutexGuard<'_, Vec<String>> {
    names.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs on the cleanup thread, with a runtime of its own.
fn delete_all(url: &str, queues: Vec<String>, exchanges: Vec<String>) -> Result<(), lapin::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let connection = Connection::connect(url, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        for queue in queues {
            channel
                .queue_delete(queue.into(), QueueDeleteOptions::default())
                .await?;
        }
        for exchange in exchanges {
            channel
                .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
                .await?;
        }
        connection.close(200, "test cleanup done".into()).await
    })
}
