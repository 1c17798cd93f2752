//! `verify ID` and `restore ID|--latest` over the catalog: the embedded default end to end
//! (byte-identical restore, sanitized `.env` in the main archive, the real one with
//! `--secrets`), and with two local stores on SQLite and PostgreSQL: a corrupted copy makes
//! restore fall back to the next one, and `verify ID` marks it CORRUPT, the backup COMPLETED,
//! with an INTEGRITY_FAILURE alert naming store and key. The artifact-path forms keep working.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use celeriac_catalog::Catalog;
use celeriac_testkit::db::TestDatabase;
use serde_json::Value;

use crate::embedded::{embedded_backup, sample_project};
use crate::support::{Run, celeriac, embedded_url, fresh_home, run};

/// A value of the sample project's `.env` that must stay out of the main archive.
const SECRET: &str = "FakeDbPassw0rd";

/// Regular files and symlinks below `root`: relative path → content (or link target).
fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.push((rel, target.display().to_string().into_bytes()));
            } else if meta.is_dir() {
                dirs.push(path);
            } else {
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The source's entry at `rel`, as [`files`] reads it.
fn source_entry(rel: &str) -> Vec<u8> {
    let path = sample_project().join(rel);
    let meta = std::fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    if meta.file_type().is_symlink() {
        std::fs::read_link(&path)
            .unwrap()
            .display()
            .to_string()
            .into_bytes()
    } else {
        std::fs::read(&path).unwrap()
    }
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}\n{}", run.stdout, run.stderr))
}

#[tokio::test]
async fn the_embedded_default_verifies_and_restores_byte_identical() {
    let (tmp, home) = fresh_home();
    let (report, _) = embedded_backup(&home).await;
    let id = report["backup_id"].as_str().unwrap();

    let verified = run(celeriac(&home).args(["verify", "--json", id])).await;
    assert_eq!(verified.code, 0, "{}", verified.stderr);
    let check = json(&verified);
    assert_eq!(check["status"], "VERIFIED");
    assert_eq!(check["copies"][0]["finding"], "VERIFIED");
    let deep = run(celeriac(&home).args(["verify", "--deep", id])).await;
    assert_eq!(deep.code, 0, "{}", deep.stderr);

    let main = tmp.path().join("restored");
    let restored = run(celeriac(&home).args(["restore", id, "--to"]).arg(&main)).await;
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    let main_files = files(&main);
    assert!(main_files.len() > 20, "{main_files:?}");
    for (rel, content) in &main_files {
        if rel == ".env" || rel == ".env.example" {
            assert_ne!(content, &source_entry(rel), "{rel} is sanitized");
            assert!(!String::from_utf8_lossy(content).contains(SECRET), "{rel}");
        } else {
            assert_eq!(content, &source_entry(rel), "{rel}");
        }
    }
    assert!(main_files.iter().any(|(p, _)| p == "nginx/nginx.conf"));

    let secrets = tmp.path().join("secrets");
    let restored = run(celeriac(&home)
        .args(["restore", "--latest", "--secrets", "--to"])
        .arg(&secrets))
    .await;
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    let secret_files = files(&secrets);
    assert!(secret_files.iter().any(|(p, _)| p == ".env"));
    for (rel, content) in &secret_files {
        assert_eq!(content, &source_entry(rel), "{rel}: the real file");
    }

    // The artifact-path form still works, with the embedded key.
    let copy = home
        .join("store")
        .join(report["artifacts"][0]["copies"][0]["key"].as_str().unwrap());
    let by_path = run(celeriac(&home).arg("verify").arg(&copy)).await;
    assert_eq!(by_path.code, 0, "{}", by_path.stderr);
    let listed = run(celeriac(&home).arg("restore").arg(&copy).arg("--list")).await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(
        listed.stdout.contains("nginx/nginx.conf"),
        "{}",
        listed.stdout
    );

    let unknown =
        run(celeriac(&home).args(["verify", "00000000-0000-4000-8000-000000000000"])).await;
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("not in the catalog"),
        "{}",
        unknown.stderr
    );
    let both = run(celeriac(&home).args(["restore", id, "x.tar.gz.enc", "--list"])).await;
    assert_eq!(both.code, 64, "{}", both.stderr);
}

/// A work dir with a key and a config file naming two local stores (and `database`, when
/// given, as `[database] url`).
fn two_store_config(dir: &Path, database: Option<&str>) -> PathBuf {
    let key = dir.join("main.key");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_celeriac"))
        .arg("keygen")
        .arg("--out")
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut text = format!(
        "[backup]\nstores = [\"local:{}\", \"local:{}\"]\n\n[keys]\nmain = {{ file = \"main.key\" }}\n",
        dir.join("a").display(),
        dir.join("b").display()
    );
    if let Some(url) = database {
        let _ = write!(text, "\n[database]\nurl = \"{url}\"\n");
    }
    let config = dir.join("celeriac.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// Backs up with two local stores, corrupts the first copy, then restores (falling back) and
/// verifies (recording the corruption); `catalog_url` is where the rows land.
async fn corrupt_copy_is_skipped_and_recorded(home: &Path, config: &Path, catalog_url: &str) {
    let dir = config.parent().unwrap();
    let backup = run(celeriac(home)
        .args(["backup", "--json", "--config"])
        .arg(config)
        .arg("--source")
        .arg(sample_project()))
    .await;
    assert_eq!(backup.code, 0, "{}", backup.stderr);
    let report = json(&backup);
    let id = report["backup_id"].as_str().unwrap();
    let key = report["artifacts"][0]["copies"][0]["key"].as_str().unwrap();
    let first = dir.join("a").join(key);
    let mut bytes = std::fs::read(&first).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&first, bytes).unwrap();

    let target = dir.join("restored");
    let restored = run(celeriac(home)
        .args(["restore", id, "--config"])
        .arg(config)
        .arg("--to")
        .arg(&target))
    .await;
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    assert!(
        restored.stderr.contains("skipped the copy in local"),
        "{}",
        restored.stderr
    );
    assert!(
        restored.stdout.contains("in store local-2"),
        "{}",
        restored.stdout
    );
    assert_eq!(
        std::fs::read(target.join("nginx/nginx.conf")).unwrap(),
        source_entry("nginx/nginx.conf")
    );

    let verified = run(celeriac(home)
        .args(["verify", "--json", id, "--config"])
        .arg(config))
    .await;
    assert_eq!(verified.code, 1, "{}", verified.stderr);
    let check = json(&verified);
    assert_eq!(check["status"], "COMPLETED");
    assert_eq!(check["copies"][0]["store_name"], "local");
    assert_eq!(check["copies"][0]["finding"], "CORRUPT");
    assert_eq!(check["copies"][1]["finding"], "VERIFIED");

    let catalog = Catalog::open(catalog_url).await.unwrap();
    let uuid = uuid::Uuid::parse_str(id).unwrap();
    let row = catalog.backup(uuid).await.unwrap().unwrap();
    assert_eq!(row.status.as_str(), "COMPLETED");
    assert!(row.verified_at.is_none());
    let copies = catalog.copies(uuid).await.unwrap();
    assert_eq!(copies[0].status.as_str(), "CORRUPT");
    assert!(!copies[0].error.is_empty());
    assert_eq!(copies[1].status.as_str(), "VERIFIED");
    let alerts = catalog
        .alerts(celeriac_catalog::AlertFilter {
            backup_id: Some(uuid),
            open_only: true,
        })
        .await
        .unwrap();
    catalog.close().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].alert_type.as_str(), "INTEGRITY_FAILURE");
    assert_eq!(alerts[0].severity.as_str(), "WARNING");
    assert!(
        alerts[0].message.contains("store local "),
        "{}",
        alerts[0].message
    );
    assert!(alerts[0].message.contains(key), "{}", alerts[0].message);

    // The corrupt copy is no longer a candidate; restore goes straight to the good one.
    let again = dir.join("again");
    let restored = run(celeriac(home)
        .args(["restore", id, "--config"])
        .arg(config)
        .arg("--to")
        .arg(&again))
    .await;
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    assert!(!restored.stderr.contains("skipped"), "{}", restored.stderr);

    // Without the config file the stores are unknown: nothing is judged, nothing changes.
    let blind =
        run(celeriac(home).args(["verify", "--json", id, "--database-url", catalog_url])).await;
    assert_eq!(blind.code, 1, "{}", blind.stderr);
    let check = json(&blind);
    assert_eq!(check["status"], "COMPLETED");
    assert_eq!(check["status_unchanged"], true);
    assert_eq!(check["copies"][0]["finding"], "UNREADABLE");
    assert_eq!(check["copies"][1]["finding"], "UNREADABLE");

    // Repaired (the good copy put back), a new verify makes it VERIFIED again.
    std::fs::copy(dir.join("b").join(key), &first).unwrap();
    let verified = run(celeriac(home).args(["verify", id, "--config"]).arg(config)).await;
    assert_eq!(verified.code, 0, "{}\n{}", verified.stdout, verified.stderr);
    assert!(verified.stdout.contains("VERIFIED"), "{}", verified.stdout);
}

#[tokio::test]
async fn sqlite_a_corrupt_copy_is_skipped_by_restore_and_recorded_by_verify() {
    let (tmp, home) = fresh_home();
    let config = two_store_config(tmp.path(), None);
    corrupt_copy_is_skipped_and_recorded(&home, &config, &embedded_url(&home)).await;
}

#[tokio::test]
async fn postgres_a_corrupt_copy_is_skipped_by_restore_and_recorded_by_verify() {
    let (tmp, home) = fresh_home();
    let db = TestDatabase::create().await;
    let migrated = run(celeriac(&home).args(["migrate", "--database-url", db.url()])).await;
    assert_eq!(migrated.code, 0, "{}", migrated.stderr);
    let config = two_store_config(tmp.path(), Some(db.url()));
    corrupt_copy_is_skipped_and_recorded(&home, &config, db.url()).await;
    assert!(
        !home.join("catalog.db").exists(),
        "the configured catalog was used"
    );
}
