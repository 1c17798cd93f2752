//! Running the `celeriac` binary and reading what it printed.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// This test process's `CELERIAC_HOME` (each test runs in a process of its own under nextest):
/// the embedded catalog every `backup` records into, never the user's data directory.
fn home() -> &'static Path {
    static HOME: std::sync::LazyLock<tempfile::TempDir> =
        std::sync::LazyLock::new(|| tempfile::tempdir().expect("a temporary CELERIAC_HOME"));
    HOME.path()
}

/// The binary under test, with no inherited key or catalog variables and a home of this test's.
pub(crate) fn celeriac() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_celeriac"));
    cmd.stdin(Stdio::null())
        .env("CELERIAC_HOME", home())
        .env_remove("CELERIAC_DATABASE_URL")
        .env_remove("XDG_DATA_HOME")
        .env_remove("CELERIAC_KEY")
        .env_remove("CELERIAC_SECRETS_KEY")
        .env_remove("CELERIAC_BACKUP_CONFIG")
        .env_remove("CELERIAC_CONFIG");
    cmd
}

/// Runs `cmd`, returning its output (never fails on a non-zero exit).
pub(crate) fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("the celeriac binary runs")
}

/// stdout as text.
pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text.
pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `celeriac keygen --out path`, asserting success; returns the printed key id.
pub(crate) fn keygen(path: &Path) -> String {
    let out = output(celeriac().arg("keygen").arg("--out").arg(path));
    assert_eq!(out.status.code(), Some(0), "keygen: {}", stderr(&out));
    stdout(&out).trim().to_owned()
}
