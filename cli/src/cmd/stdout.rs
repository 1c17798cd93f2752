//! Results on stdout: written in one go, and a reader that went away (`celeriac restore --list
//! | head`) ends the output quietly instead of a panic.

use std::io::{self, Write as _};

use anyhow::Context;

/// Writes `text` to stdout and flushes it; a closed pipe is not an error.
pub(crate) fn write(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        result => result.context("cannot write to stdout"),
    }
}
