//! Progress on a terminal: `backup`, `verify ID` and `restore ID` draw progress bars when
//! stderr is a terminal (a pseudo-terminal from util-linux `script`), naming what they read, and
//! draw nothing when it is not (a pipe, as in every other test) or with `--json`.

use std::path::Path;

use crate::embedded::{embedded_backup, sample_project};
use crate::support::{celeriac, fresh_home, run};

/// Runs the binary with `args` under a pseudo-terminal; returns what the terminal showed.
async fn on_terminal(home: &Path, args: &[&str]) -> String {
    let line = std::iter::once(env!("CARGO_BIN_EXE_celeriac"))
        .chain(args.iter().copied())
        .inspect(|a| {
            assert!(
                a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/-_.:".contains(&b)),
                "needs no quoting: {a}"
            );
        })
        .collect::<Vec<_>>()
        .join(" ");
    let out = tokio::process::Command::new("script")
        .args(["-qefc", &line, "/dev/null"])
        .env("CELERIAC_HOME", home)
        .env("COLUMNS", "160")
        .env_remove("CELERIAC_DATABASE_URL")
        .env_remove("CELERIAC_CONFIG")
        .env_remove("CELERIAC_KEY")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("util-linux script runs");
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{line} failed on a terminal:\n{shown}"
    );
    shown
}

#[tokio::test]
async fn verify_and_restore_draw_bars_on_a_terminal_only() {
    let (tmp, home) = fresh_home();
    let source = sample_project();
    let shown = on_terminal(&home, &["backup", "--source", source.to_str().unwrap()]).await;
    assert!(shown.contains("main archive ["), "backup bar:\n{shown}");

    let (report, stderr) = embedded_backup(&home).await;
    assert!(!stderr.contains('['), "no bar into a pipe:\n{stderr}");
    let id = report["backup_id"].as_str().unwrap();
    let key = report["artifacts"][0]["copies"][0]["key"].as_str().unwrap();

    let shown = on_terminal(&home, &["verify", "--deep", id]).await;
    assert!(
        shown.contains(&format!("reading local:{key} [")),
        "verify bar:\n{shown}"
    );
    assert!(shown.contains("VERIFIED"), "{shown}");

    let target = tmp.path().join("restored");
    let shown = on_terminal(&home, &["restore", id, "--to", target.to_str().unwrap()]).await;
    assert!(
        shown.contains(&format!("reading local:{key} [")),
        "restore bar:\n{shown}"
    );
    assert!(target.join("nginx/nginx.conf").is_file());

    let json = on_terminal(&home, &["verify", "--json", id]).await;
    assert!(
        !json.contains("reading local:"),
        "no bar with --json:\n{json}"
    );
    let piped = run(celeriac(&home).args(["verify", id])).await;
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert!(
        !piped.stderr.contains("reading"),
        "no bar into a pipe:\n{}",
        piped.stderr
    );
}
