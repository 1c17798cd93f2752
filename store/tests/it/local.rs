//! The local store: conformance, staging files, on-disk format.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use anyhow::Context as _;
use bytes::Bytes;
use celeriac_store::conformance::{self, pattern, upload_chunks};
use celeriac_store::{
    LocalStore, ObjectKey, ObjectPrefix, Sha256Digest, Store, StoreError, StoreId, verify_copy,
};

fn store(dir: &Path) -> LocalStore {
    LocalStore::new(StoreId::new("local").expect("valid id"), dir.join("root"))
}

fn staging_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.to_string_lossy().contains(".partial-") {
                found.push(path.to_string_lossy().into_owned());
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_store_passes_conformance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path());
    conformance::run_all(&store).await;
}

#[tokio::test]
async fn aborted_upload_removes_its_staging_file() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = store(dir.path());
    let key = ObjectKey::new("a/b/obj.enc")?;
    let mut upload = store.begin(&key).await?;
    upload.put(Bytes::from(pattern(10_000, 1))).await?;
    assert_eq!(
        staging_files(dir.path()).len(),
        1,
        "the upload stages one file"
    );
    upload.abort().await?;
    assert_eq!(staging_files(dir.path()), Vec::<String>::new());
    Ok(())
}

#[tokio::test]
async fn list_and_head_ignore_stale_staging_files() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = store(dir.path());
    let key = ObjectKey::new("day/obj.enc")?;
    store.put_small(&key, Bytes::from_static(b"kept")).await?;
    // What a crash mid-upload leaves behind.
    let stale = store.root().join("day/other.enc.partial-00000000deadbeef");
    std::fs::write(&stale, b"half an upload")?;
    let listed = store.list(&ObjectPrefix::root()).await?;
    let keys: Vec<_> = listed.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["day/obj.enc"]);
    assert!(
        store
            .head(&ObjectKey::new("day/other.enc")?)
            .await?
            .is_none()
    );
    Ok(())
}

#[tokio::test]
async fn objects_are_owner_only_and_sidecar_passes_sha256sum_check() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = store(dir.path());
    let key = ObjectKey::new("2026/11/27/run.tar.gz.enc")?;
    let data = pattern(3 * 1024 * 1024 + 5, 2);
    upload_chunks(&store, &key, &data, 1 << 20).await;
    let path = store.path_of(&key);
    assert_eq!(
        std::fs::metadata(&path)?.permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read(&path)?, data);
    let out = std::process::Command::new("sha256sum")
        .arg("-c")
        .arg("run.tar.gz.enc.sha256")
        .current_dir(path.parent().context("object has a parent dir")?)
        .output()
        .context("running sha256sum (coreutils)")?;
    assert!(
        out.status.success(),
        "sha256sum -c failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "run.tar.gz.enc: OK\n");
    Ok(())
}

#[tokio::test]
async fn flipped_byte_on_disk_is_caught_by_verify_copy() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = store(dir.path());
    let key = ObjectKey::new("obj.enc")?;
    let stored = upload_chunks(&store, &key, &pattern(100_000, 3), 4096).await;
    verify_copy(&store, &stored).await?;
    let path = store.path_of(&key);
    let mut bytes = std::fs::read(&path)?;
    bytes[54_321] ^= 0x20;
    std::fs::write(&path, &bytes)?;
    match verify_copy(&store, &stored).await {
        Err(StoreError::ChecksumMismatch {
            expected, actual, ..
        }) => {
            assert_eq!(expected, stored.sha256);
            assert_eq!(actual, Sha256Digest::of(&bytes));
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn unwritable_root_is_a_permanent_filesystem_error_naming_the_store() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // A regular file where the root directory should be: no upload can start.
    let root_file = dir.path().join("root");
    std::fs::write(&root_file, b"not a directory")?;
    let store = store(dir.path());
    let err = store
        .begin(&ObjectKey::new("x/obj")?)
        .await
        .expect_err("root is a file");
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(err.store().as_str(), "local");
    Ok(())
}
