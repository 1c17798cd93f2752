//! An older artifact copied (with its sidecar) under a newer backup's name is refused by
//! `restore` and `verify --deep`, naming both backup ids: the authenticated header's id must be
//! the one the name carries.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::run::{celeriac, keygen, output, stderr, stdout};

fn backup(source: &Path, store: &Path, key: &Path) -> (String, PathBuf, String) {
    let out = output(celeriac().args([
        "backup",
        "--source",
        source.to_str().unwrap(),
        "--store",
        &format!("local:{}", store.display()),
        "--key-file",
        key.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let id = report["backup_id"].as_str().unwrap().to_owned();
    let artifact = &report["artifacts"][0];
    let object = artifact["copies"][0]["key"].as_str().unwrap();
    let sha256 = artifact["sha256"].as_str().unwrap().to_owned();
    (id, store.join(object), sha256)
}

#[test]
fn an_old_artifact_under_a_newer_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("compose.yaml"), "services: {}\n").unwrap();
    let key = dir.path().join("k");
    keygen(&key);
    let store = dir.path().join("copies");
    let (old_id, old, old_sha) = backup(&source, &store, &key);
    std::fs::write(source.join("compose.yaml"), "services: {web: {}}\n").unwrap();
    let (new_id, new, _) = backup(&source, &store, &key);
    assert_ne!(old_id, new_id);
    std::fs::copy(&old, &new).unwrap();
    let sidecar = |p: &Path| PathBuf::from(format!("{}.sha256", p.display()));
    let old_line = std::fs::read_to_string(sidecar(&old)).unwrap();
    let new_name = new.file_name().unwrap().to_str().unwrap();
    std::fs::write(
        sidecar(&new),
        format!(
            "{}  {new_name}\n",
            old_line.split_whitespace().next().unwrap()
        ),
    )
    .unwrap();

    let restored = dir.path().join("restored");
    let out = output(celeriac().args([
        "restore",
        new.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
        "--to",
        restored.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&old_id) && err.contains(&new_id), "{err}");
    assert!(!restored.exists());

    let out = output(celeriac().args([
        "verify",
        new.to_str().unwrap(),
        "--deep",
        "--sha256",
        &old_sha,
        "--key-file",
        key.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&old_id) && err.contains(&new_id), "{err}");
}
