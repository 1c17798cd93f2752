//! Logging setup for the binary: `tracing` to stderr, text (coloured on a terminal) or one JSON
//! object per line with the span fields (task id and name); level from `RUST_LOG`, default info.

use std::io::IsTerminal;

use celeriac_worker::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber.
pub(crate) fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .init(),
    }
}
