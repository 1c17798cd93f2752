//! One config file for every subcommand, through the binary: a file holding the worker's, the
//! backup commands' and beat's sections is read by each (each takes its own part), a top-level
//! table nobody reads is refused by each (exit 78, naming it), and the file is found from
//! `--config`, `CELERIAC_CONFIG` or the deprecated `CELERIAC_BACKUP_CONFIG`.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The worker's settings (at the top level and in `[worker]`) and tables, the backup commands'
/// tables and `[beat]`, in one file.
/// The collection root `src` is relative to the file.
const WHOLE: &str = r#"
queues = ["celery", "backups"]

[worker]
concurrency = 2
shutdown-grace = 60

[queue.backups]
x-max-priority = 10

[task."celery.accumulate"]
max-retries = 3

[backup]
prefix = "celeriac"
stores = ["local:copies", "s3:x"]

[keys]
main = { env = "CELERIAC_KEY" }

[limits]
retry-attempts = 3

[[collect.roots]]
path = "src"

[stores.x]
endpoint = "https://s3.example.com"
bucket = "dr-backups"
access-key-id = { env = "X_ACCESS_KEY_ID" }
secret-access-key = { env = "X_SECRET_ACCESS_KEY" }

[beat]
timezone = "Europe/Paris"

[beat.schedule.nightly]
task = "apps.backups.tasks.configuration_backup"
schedule = "30 2 * * *"
"#;

/// The binary with no config file, key or broker inherited from the environment.
fn celeriac() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_celeriac"));
    cmd.stdin(Stdio::null())
        .env_remove("CELERIAC_CONFIG")
        .env_remove("CELERIAC_BACKUP_CONFIG")
        .env_remove("CELERIAC_KEY")
        .env_remove("CELERIAC_BROKER_URL")
        .env_remove("CELERIAC_QUEUES")
        .env_remove("CELERIAC_CONCURRENCY");
    cmd
}

/// A directory holding `config.toml` (with `text`) and `src/settings.py` to collect.
fn world(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/settings.py"), "DEBUG = False\n").unwrap();
    std::fs::write(dir.path().join("config.toml"), text).unwrap();
    dir
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The subcommands that read the file, each in a mode that touches no broker, key or store.
fn readers(config: &Path) -> Vec<(&'static str, Command)> {
    let mut backup = celeriac();
    backup.args(["backup", "--dry-run", "--config"]).arg(config);
    let mut beat = celeriac();
    beat.args(["beat", "--list", "--at", "2026-03-27T12:00:00Z", "--config"])
        .arg(config);
    let mut worker = celeriac();
    worker
        .args(["worker", "--print-config", "--config"])
        .arg(config);
    vec![("backup", backup), ("beat", beat), ("worker", worker)]
}

#[test]
fn one_file_with_every_section_serves_backup_beat_and_worker() {
    let dir = world(WHOLE);
    let config = dir.path().join("config.toml");
    let mut readers = readers(&config).into_iter();

    let (_, mut backup) = readers.next().unwrap();
    let out = stdout(&backup.output().unwrap());
    assert!(out.contains("would collect 1 file"), "{out}");
    assert!(out.contains("settings.py"), "{out}");

    let (_, mut beat) = readers.next().unwrap();
    let out = stdout(&beat.output().unwrap());
    assert!(out.starts_with("nightly\n"), "{out}");
    assert!(out.contains("30 2 * * *\" in Europe/Paris"), "{out}");

    let (_, mut worker) = readers.next().unwrap();
    let out = stdout(&worker.output().unwrap());
    assert!(out.contains("concurrency: 2"), "{out}");
    assert!(out.contains("\"backups\""), "{out}");
}

#[test]
fn a_top_level_table_nobody_reads_is_refused_by_every_subcommand() {
    let dir = world(&WHOLE.replace("[[collect.roots]]", "[[colect.roots]]"));
    let config = dir.path().join("config.toml");
    for (name, mut cmd) in readers(&config) {
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(78), "{name}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("`[colect]`"), "{name}: {err}");
        assert!(err.contains("config.toml"), "{name}: {err}");
    }
    let mut verify = celeriac();
    verify
        .args(["verify", "nowhere.cbk", "--config"])
        .arg(&config);
    let out = verify.output().unwrap();
    assert_eq!(out.status.code(), Some(78), "verify: {}", stderr(&out));
    assert!(stderr(&out).contains("`[colect]`"), "{}", stderr(&out));
}

#[test]
fn unknown_keys_inside_a_section_are_still_refused() {
    for (text, reader, says) in [
        ("[backup]\nprefx = \"p\"\n", 0, "prefx"),
        ("[beat]\nqueue = \"celery\"\n", 1, "queue"),
        ("[queue.backups]\nx-max-priorty = 10\n", 2, "x-max-priorty"),
        ("[worker]\nconcurency = 2\n", 2, "concurency"),
    ] {
        let dir = world(text);
        let (name, mut cmd) = readers(&dir.path().join("config.toml")).swap_remove(reader);
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(78), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("unknown field `{says}`")),
            "{name}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("line 2"), "{name}: {}", stderr(&out));
    }
}

#[test]
fn backup_finds_the_file_from_celeriac_config() {
    let dir = world(WHOLE);
    let out = celeriac()
        .args(["backup", "--dry-run"])
        .env("CELERIAC_CONFIG", dir.path().join("config.toml"))
        .output()
        .unwrap();
    assert!(stdout(&out).contains("settings.py"));
    assert!(!stderr(&out).contains("deprecated"), "{}", stderr(&out));
}

#[test]
fn the_deprecated_celeriac_backup_config_still_works_with_a_warning() {
    let dir = world(WHOLE);
    let out = celeriac()
        .args(["backup", "--dry-run"])
        .env("CELERIAC_BACKUP_CONFIG", dir.path().join("config.toml"))
        .output()
        .unwrap();
    assert!(stdout(&out).contains("settings.py"));
    let warnings: Vec<&str> = std::str::from_utf8(&out.stderr)
        .unwrap()
        .lines()
        .filter(|l| l.contains("CELERIAC_BACKUP_CONFIG is deprecated"))
        .collect();
    assert_eq!(
        warnings,
        ["celeriac: warning: CELERIAC_BACKUP_CONFIG is deprecated, set CELERIAC_CONFIG instead"]
    );
}

#[test]
fn celeriac_config_wins_over_the_deprecated_variable() {
    let good = world(WHOLE);
    let bad = world("[colect]\n");
    let out = celeriac()
        .args(["backup", "--dry-run"])
        .env("CELERIAC_CONFIG", good.path().join("config.toml"))
        .env("CELERIAC_BACKUP_CONFIG", bad.path().join("config.toml"))
        .output()
        .unwrap();
    assert!(stdout(&out).contains("settings.py"));
    assert!(!stderr(&out).contains("deprecated"), "{}", stderr(&out));
}
