//! `celeriac restore` falls back through the copies: one with a flipped byte, one missing.

use celeriac_testkit::s3::S3Server;

use crate::run::{stderr, stdout};
use crate::tree::{sample_copy, snapshot};
use crate::world::{S3Store, World, copy_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_falls_back_past_a_corrupt_and_a_missing_copy() {
    let source = sample_copy();
    let (r2, b2) = (S3Server::r2(), S3Server::b2());
    let s3 = vec![
        S3Store::new("r2", &r2, &r2).await,
        S3Store::new("b2", &b2, &b2).await,
    ];
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let local_target = format!("local:{}", local.display());
    // The stores come from the config file this time.
    let w = World::new(s3, &[&local_target, "s3:r2", "s3:b2"]);
    let (out, report) = w.backup(source.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let key = copy_key(&report, "main", "r2");
    let key_file = w.key.to_str().unwrap();

    // A flipped byte in the R2 copy: skipped, the next configured copy (local) is used.
    w.store("r2").bucket.corrupt(&key, 300).await;
    let target = w.path("from-local");
    let out = w
        .run(&[
            "restore",
            &format!("s3:r2/{key}"),
            "--to",
            target.to_str().unwrap(),
            "--key-file",
            key_file,
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("in store local"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("skipped the copy in r2"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        snapshot(&target).get("nginx/nginx.conf"),
        snapshot(source.path()).get("nginx/nginx.conf")
    );

    // The local copy gone as well: local (missing) and r2 (corrupt) are skipped, b2 is used.
    std::fs::remove_file(local.join(&key)).unwrap();
    let target = w.path("from-b2");
    let out = w
        .run(&[
            "restore",
            local.join(&key).to_str().unwrap(),
            "--to",
            target.to_str().unwrap(),
            "--key-file",
            key_file,
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("in store b2"), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("skipped the copy in local"), "{err}");
    assert!(err.contains("skipped the copy in r2"), "{err}");
    assert!(target.join("docker-compose.yml").is_file());

    // `verify` names the damage and fails.
    let out = w.run(&["verify", &format!("s3:r2/{key}")]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not verify"), "{}", stderr(&out));
}
