//! Exit codes of the backup commands (`keygen`, `backup`, `verify`, `restore`) and the one place
//! that prints their error chain. Documented in `docs/backup.md`.

use std::process::ExitCode;

/// Everything asked for was done (for `backup`: every store holds a verified copy).
pub(crate) const OK: u8 = 0;
/// The command failed (for `backup`: no store holds a verified copy).
pub(crate) const FAILURE: u8 = 1;
/// `backup` only: some stores hold a verified copy, others do not (status PARTIAL).
pub(crate) const PARTIAL: u8 = 2;
/// The command line is wrong (sysexits EX_USAGE); clap's own errors use it too.
pub(crate) const USAGE: u8 = 64;
/// The config file cannot be read, parsed or validated (sysexits EX_CONFIG).
pub(crate) const CONFIG: u8 = 78;

/// An error that already knows its exit code (usage and configuration problems found after
/// clap has parsed the flags).
#[derive(Debug)]
pub(crate) struct Coded {
    code: u8,
    source: anyhow::Error,
}

impl Coded {
    /// A usage error (exit 64).
    pub(crate) fn usage(source: impl Into<anyhow::Error>) -> anyhow::Error {
        anyhow::Error::new(Self {
            code: USAGE,
            source: source.into(),
        })
    }

    /// A configuration error (exit 78).
    pub(crate) fn config(source: impl Into<anyhow::Error>) -> anyhow::Error {
        anyhow::Error::new(Self {
            code: CONFIG,
            source: source.into(),
        })
    }
}

impl std::fmt::Display for Coded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The wrapped error speaks for itself; `{:#}` prints its chain.
        write!(f, "{:#}", self.source)
    }
}

impl std::error::Error for Coded {}

/// Maps a command's result to its exit code, printing the error chain (`{:#}`) on stderr.
pub(crate) fn finish(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("celeriac: error: {err:#}");
            ExitCode::from(code_of(&err))
        }
    }
}

fn code_of(err: &anyhow::Error) -> u8 {
    err.chain().find_map(code).unwrap_or(FAILURE)
}

/// The exit code `cause` carries, when it is a [`Coded`] error.
pub(crate) fn code(cause: &(dyn std::error::Error + 'static)) -> Option<u8> {
    cause.downcast_ref::<Coded>().map(|coded| coded.code)
}

/// Prints a clap parse error (or the help/version text it carries) and maps it: help and version
/// exit 0, a wrong command line exits 64 rather than clap's 2, which `backup` uses for PARTIAL.
pub(crate) fn clap_error(err: &clap::Error) -> ExitCode {
    // Printing can only fail when stderr/stdout is gone; the exit code still tells.
    let _ = err.print();
    if err.use_stderr() {
        ExitCode::from(USAGE)
    } else {
        ExitCode::from(OK)
    }
}
