//! The async runtime of the backup commands, and Ctrl-C / SIGTERM as cooperative cancellation.

use std::future::Future;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

/// Runs `future` to completion on a fresh multi-threaded runtime.
pub(crate) fn block_on<F: Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("celeriac-backup")
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(future))
}

/// Cancels `token` on the first SIGINT or SIGTERM (the run stops between files and aborts its
/// uploads); a second signal ends the process at once. Call inside the runtime.
pub(crate) fn cancel_on_interrupt(token: CancellationToken) {
    tokio::spawn(async move {
        if wait_for_signal().await.is_err() {
            return;
        }
        eprintln!("celeriac: interrupted, stopping (again to exit at once)");
        token.cancel();
        if wait_for_signal().await.is_ok() {
            std::process::exit(crate::cmd::EXIT_IMMEDIATE);
        }
    });
}

/// On the first SIGINT or SIGTERM, runs `cleanup` and exits at once (130): for commands whose
/// work cannot stop between steps but whose leftovers must not stay (a restore's staging
/// directory holds plaintext).
pub(crate) fn exit_on_interrupt(cleanup: impl FnOnce() + Send + 'static) {
    tokio::spawn(async move {
        if wait_for_signal().await.is_err() {
            return;
        }
        cleanup();
        std::process::exit(crate::cmd::EXIT_IMMEDIATE);
    });
}

async fn wait_for_signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = term.recv() => Ok(()),
    }
}
