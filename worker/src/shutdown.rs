//! Process signals for the binaries: the first SIGTERM/SIGINT asks for a graceful shutdown, the
//! second means "now". The graceful part (stop consuming, drain, requeue, close) is the
//! [`Worker`](crate::Worker)'s; exiting the process on the second signal is the binary's.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Waits for SIGTERM or SIGINT, cancels `graceful`, then waits for a second one and returns.
///
/// The caller exits the process when this returns.
///
/// # Errors
/// If the signal handlers cannot be installed.
pub async fn wait_for_signals(graceful: CancellationToken) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "warm shutdown requested: finishing running tasks"),
        _ = int.recv() => tracing::info!(signal = "SIGINT", "warm shutdown requested: finishing running tasks"),
    }
    graceful.cancel();
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    tracing::warn!("second signal: exiting at once; unacked messages return to their queues");
    Ok(())
}
