//! The embedded default from an empty `CELERIAC_HOME`: `backup --source DIR` alone makes the
//! catalog, the local store and the key (0600 in 0700, announced once, never printed), records
//! the run (trigger CLI), and `list` / `show` read it back.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{celeriac, fresh_home, run};

/// The README's sample project.
pub(crate) fn sample_project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("examples/sample-project")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `celeriac backup --source <sample> --json` in `home`; returns the report and stderr.
pub(crate) async fn embedded_backup(home: &Path) -> (Value, String) {
    let out = run(celeriac(home)
        .args(["backup", "--json", "--source"])
        .arg(sample_project()))
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    (serde_json::from_str(&out.stdout).unwrap(), out.stderr)
}

#[tokio::test]
async fn one_flag_backs_up_records_and_shows() {
    let (_tmp, home) = fresh_home();
    let (report, stderr) = embedded_backup(&home).await;
    assert_eq!(report["status"], "VERIFIED");
    let key = home.join("keys/main.key");
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&home.join("keys")), 0o700);
    assert_eq!(mode(&home), 0o700);
    assert!(stderr.contains("keep it safe"), "{stderr}");
    assert!(stderr.contains(&key.display().to_string()), "{stderr}");
    let key_text = std::fs::read_to_string(&key).unwrap();
    assert!(
        !stderr.contains(key_text.trim()),
        "the key is never printed"
    );
    let copy_key = report["artifacts"][0]["copies"][0]["key"].as_str().unwrap();
    assert!(home.join("store").join(copy_key).is_file(), "{copy_key}");

    let (second, stderr) = embedded_backup(&home).await;
    assert!(!stderr.contains("keep it safe"), "announced once: {stderr}");
    assert_eq!(
        second["artifacts"][0]["key_ids"], report["artifacts"][0]["key_ids"],
        "the same key is used again"
    );

    let listed = run(celeriac(&home).args(["list", "--json"])).await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let list: Value = serde_json::from_str(&listed.stdout).unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    let first = report["backup_id"].as_str().unwrap();
    let newest = second["backup_id"].as_str().unwrap();
    assert_eq!(ids, [newest, first]);
    assert_eq!(list[0]["trigger"], "CLI");
    assert_eq!(list[0]["status"], "VERIFIED");
    assert_eq!(
        list[0]["files_collected"],
        report["collection"]["files_collected"]
    );

    let shown = run(celeriac(&home).args(["show", "--json", first])).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let show: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(show["id"], first);
    assert_eq!(show["status"], "VERIFIED");
    assert_eq!(
        show["file_categories"],
        report["collection"]["file_categories"]
    );
    assert_eq!(show["copies"][0]["store_name"], "local");
    assert_eq!(show["copies"][0]["status"], "VERIFIED");
    assert_eq!(show["copies"][0]["object_key"], copy_key);
    assert!(show["copies"][0]["verified_at"].is_string());
    assert_eq!(show["open_alerts"], serde_json::json!([]));
    assert!(show["local_path"].as_str().unwrap().ends_with(copy_key));
    let text = run(celeriac(&home).args(["show", first])).await;
    assert!(text.stdout.contains("VERIFIED"), "{}", text.stdout);
    assert!(text.stdout.contains(copy_key), "{}", text.stdout);

    let unknown = run(celeriac(&home).args(["show", "00000000-0000-4000-8000-000000000000"])).await;
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("not in the catalog"),
        "{}",
        unknown.stderr
    );
    let malformed = run(celeriac(&home).args(["show", "not-an-id"])).await;
    assert_eq!(malformed.code, 64, "{}", malformed.stderr);
}

#[tokio::test]
async fn an_empty_tree_is_recorded_failed_with_an_alert() {
    let (tmp, home) = fresh_home();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = run(celeriac(&home).args(["backup", "--source"]).arg(&empty)).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let listed = run(celeriac(&home).args(["list", "--json"])).await;
    let list: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(list[0]["status"], "FAILED");
    assert_eq!(list[0]["trigger"], "CLI");
    let id = list[0]["id"].as_str().unwrap();
    let shown = run(celeriac(&home).args(["show", "--json", id])).await;
    let show: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(show["open_alerts"][0]["alert_type"], "BACKUP_FAILURE");
    assert_eq!(show["open_alerts"][0]["severity"], "CRITICAL");
    assert!(
        out.stderr.contains(id),
        "the error names the recorded row: {}",
        out.stderr
    );
}

#[tokio::test]
async fn a_config_file_gets_no_embedded_store_or_key() {
    let (tmp, home) = fresh_home();
    let config = tmp.path().join("celeriac.toml");
    std::fs::write(&config, "").unwrap();
    let out = run(celeriac(&home)
        .args(["backup", "--config"])
        .arg(&config)
        .arg("--source")
        .arg(sample_project()))
    .await;
    assert_eq!(out.code, 64, "{}", out.stderr);
    assert!(
        !home.join("keys").exists(),
        "no key generated with a config file"
    );
    assert!(
        !home.join("store").exists(),
        "no store made with a config file"
    );
}
