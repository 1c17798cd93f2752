//! The backup commands' exit codes and messages without S3: keys from a file or `CELERIAC_KEY`,
//! usage errors (64), config errors naming the key (78), failures (1), a corrupted local copy.

use std::path::Path;

use crate::run::{celeriac, keygen, output, stderr, stdout};
use crate::tree::sample_copy;

fn backup_args<'a>(source: &'a Path, store: &'a str) -> Vec<&'a str> {
    vec![
        "backup",
        "--source",
        source.to_str().unwrap(),
        "--store",
        store,
    ]
}

#[test]
fn key_from_the_environment_and_a_missing_key() {
    let source = sample_copy();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("local:{}", dir.path().join("copies").display());

    // With a config file there is no embedded default key: a missing key is a usage error.
    let config = dir.path().join("empty.toml");
    std::fs::write(&config, "").unwrap();
    let out = output(
        celeriac()
            .args(backup_args(source.path(), &store))
            .arg("--config")
            .arg(&config),
    );
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("CELERIAC_KEY"), "{}", stderr(&out));

    let key = dir.path().join("k");
    let id = keygen(&key);
    let base64 = std::fs::read_to_string(&key).unwrap();
    let out = output(
        celeriac()
            .args(backup_args(source.path(), &store))
            .arg("--json")
            .env("CELERIAC_KEY", base64.trim()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["artifacts"][0]["key_ids"][0], id.as_str());
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains(base64.trim()), "the key is never printed");
}

#[test]
fn command_line_mistakes_exit_64() {
    let source = sample_copy();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    keygen(&key);
    let key = key.to_str().unwrap();
    // With a config file there is no embedded default store.
    let config = dir.path().join("empty.toml");
    std::fs::write(&config, "").unwrap();
    let config = config.to_str().unwrap();
    for (args, says) in [
        (vec!["--store", "ftp:somewhere"], "not a store address"),
        (vec!["--store", "s3:r2"], "needs --config"),
        (vec!["--config", config], "no store"),
    ] {
        let mut cmd = celeriac();
        cmd.args([
            "backup",
            "--source",
            source.path().to_str().unwrap(),
            "--key-file",
            key,
        ]);
        let out = output(cmd.args(&args));
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    let out = output(celeriac().args(["restore", "x.tar.gz.enc", "--key-file", key]));
    assert_eq!(
        out.status.code(),
        Some(64),
        "--to is required: {}",
        stderr(&out)
    );
    let out = output(celeriac().args([
        "restore",
        "x.tar.gz.enc",
        "--list",
        "--path",
        "nginx/[",
        "--key-file",
        key,
    ]));
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("invalid path glob \"nginx/[\""),
        "names the bad glob before touching any copy: {}",
        stderr(&out)
    );
    let out = output(celeriac().args(["verify", "x.tar.gz.enc", "--deep"]));
    assert_eq!(
        out.status.code(),
        Some(64),
        "--deep needs a key: {}",
        stderr(&out)
    );
}

#[test]
fn config_errors_exit_78_and_name_the_key() {
    let source = sample_copy();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    keygen(&key);
    for (text, says) in [
        ("[backup]\nstorez = []\n", "storez"),
        ("[limits]\nchunk-kib = 1\n", "limits.chunk-kib"),
        (
            "[stores.r2]\nendpoint = \"http://127.0.0.1:1\"\nbucket = \"b\"\n\
             access-key-id = \"AKIAINLINE\"\nsecret-access-key = { env = \"X\" }\n",
            "access-key-id",
        ),
        ("[backup]\nstores = [\"s3:r2\"]\n", "[stores.r2]"),
    ] {
        let config = dir.path().join("bad.toml");
        std::fs::write(&config, text).unwrap();
        let out = output(
            celeriac()
                .args(["backup", "--source", source.path().to_str().unwrap()])
                .arg("--key-file")
                .arg(&key)
                .arg("--config")
                .arg(&config),
        );
        assert_eq!(out.status.code(), Some(78), "{text}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{text}: {}", stderr(&out));
    }
}

#[test]
fn local_copies_verify_and_a_flipped_byte_is_caught() {
    let source = sample_copy();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    keygen(&key);
    let copies = dir.path().join("copies");
    let out = output(
        celeriac()
            .args(backup_args(
                source.path(),
                &format!("local:{}", copies.display()),
            ))
            .arg("--key-file")
            .arg(&key)
            .arg("--json"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let artifact = copies.join(report["artifacts"][0]["copies"][0]["key"].as_str().unwrap());

    let out = output(celeriac().arg("verify").arg(&artifact));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(report["artifacts"][0]["sha256"].as_str().unwrap()));

    let mut bytes = std::fs::read(&artifact).unwrap();
    bytes[200] ^= 0x01;
    std::fs::write(&artifact, bytes).unwrap();
    let out = output(celeriac().arg("verify").arg(&artifact));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let target = dir.path().join("restored");
    let out = output(
        celeriac()
            .arg("restore")
            .arg(&artifact)
            .arg("--to")
            .arg(&target)
            .arg("--key-file")
            .arg(&key),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(!target.exists(), "nothing is written from a damaged copy");
}

#[test]
fn a_backup_with_no_verified_copy_reports_failed_and_exits_1() {
    let source = sample_copy();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    keygen(&key);
    // /proc refuses new files, even to root.
    let out = output(
        celeriac()
            .args(backup_args(source.path(), "local:/proc/celeriac-nope"))
            .arg("--key-file")
            .arg(&key)
            .arg("--json"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["status"], "FAILED");
    assert_eq!(report["artifacts"][0]["copies"][0]["verified"], false);

    let out = output(
        celeriac()
            .args(backup_args(
                Path::new("/nonexistent-root"),
                "local:/tmp/unused",
            ))
            .arg("--key-file")
            .arg(&key),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/nonexistent-root"),
        "{}",
        stderr(&out)
    );
}
