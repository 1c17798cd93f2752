//! `celeriac backup` to a local directory and both S3 test servers, then `verify` and
//! `restore` from those copies: byte-identical (modes, mtimes, symlinks), a sanitized `.env` in
//! the main archive and the real one in the secrets bundle, listing, dry run, globs.

use celeriac_testkit::s3::S3Server;

use crate::run::{stderr, stdout};
use crate::tree::{Node, sample_copy, snapshot};
use crate::world::{S3Store, World, copy, copy_key};

/// Values of the sample project's secrets that must never leave the secrets bundle.
const SECRET_VALUES: [&str; 4] = [
    "django-insecure-FAKE-k3y-0nly-f0r-th3-s4mpl3-pr0j3ct",
    "FakeDbPassw0rd",
    "FakeRedisPass",
    "FAKEfakeFAKEfakeFAKEfakeFAKEfake0123",
];

async fn three_stores() -> World {
    let (r2, b2) = (S3Server::r2(), S3Server::b2());
    let s3 = vec![
        S3Store::new("r2", &r2, &r2).await,
        S3Store::new("b2", &b2, &b2).await,
    ];
    World::new(s3, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_to_local_r2_and_b2_verifies_and_restores_byte_identical() {
    let source = sample_copy();
    let w = three_stores().await;
    let local = w.path("local");
    let local_arg = format!("local:{}", local.display());
    let (out, report) = w
        .backup(
            source.path(),
            &[
                "--store", &local_arg, "--store", "s3:r2", "--store", "s3:b2",
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report["status"], "VERIFIED");
    for store in ["local", "r2", "b2"] {
        for bundle in ["main", "secrets"] {
            let c = copy(&report, bundle, store);
            assert_eq!(c["verified"], true, "{c:#}");
            assert!(c["key"].as_str().unwrap().starts_with("nightly/"), "{c:#}");
        }
    }
    let text = report.to_string();
    for secret in SECRET_VALUES {
        assert!(!text.contains(secret), "the report leaks {secret}");
    }
    let key = copy_key(&report, "main", "r2");
    assert!(
        w.store("r2").bucket.keys().await.contains(&key),
        "r2 holds {key}"
    );
    assert!(
        local.join(&key).is_file(),
        "the local copy is at <dir>/<key>"
    );

    // Restore from the B2 copy.
    let target = w.path("restored");
    let out = w
        .run(&[
            "restore",
            &format!("s3:b2/{key}"),
            "--to",
            target.to_str().unwrap(),
            "--key-file",
            w.key.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("in store b2"), "{}", stdout(&out));
    assert_restored_like(&snapshot(source.path()), &snapshot(&target));

    // The secrets bundle: a separate step, with the secrets key.
    let secrets_out = w.path("secrets");
    let local_copy = local.join(&key);
    let out = w
        .run(&[
            "restore",
            local_copy.to_str().unwrap(),
            "--secrets",
            "--to",
            secrets_out.to_str().unwrap(),
            "--key-file",
            w.secrets_key.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(secrets_out.join(".env")).unwrap(),
        std::fs::read(source.path().join(".env")).unwrap(),
        "the secrets bundle restores the real .env"
    );
    assert!(secrets_out.join("certs/test-only.key").is_file());

    // The main key does not open the secrets bundle.
    let out = w
        .run(&[
            "restore",
            local_copy.to_str().unwrap(),
            "--secrets",
            "--to",
            w.path("nope").to_str().unwrap(),
            "--key-file",
            w.key.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(!w.path("nope").exists());
}

/// Every restored entry equals its source entry (content, mode, mtime, link target), except
/// the sanitized `.env` files (`.env`, and `.env.example`, whose URL credentials look secret);
/// configuration is there, noise is not.
fn assert_restored_like(
    source: &std::collections::BTreeMap<String, Node>,
    restored: &std::collections::BTreeMap<String, Node>,
) {
    for (path, node) in restored {
        let original = source
            .get(path)
            .unwrap_or_else(|| panic!("{path} is restored but not in the source"));
        match (node, original) {
            (Node::File { content, .. }, Node::File { .. }) if path == ".env" => {
                let env = String::from_utf8_lossy(content);
                assert!(env.contains("SECRET_KEY='<redacted>'"), "{env}");
                assert!(env.contains("DEBUG="), "{env}");
                for secret in SECRET_VALUES {
                    assert!(!env.contains(secret), "{env}");
                }
            }
            (Node::File { content, .. }, Node::File { .. }) if path == ".env.example" => {
                let env = String::from_utf8_lossy(content);
                assert!(env.contains("DATABASE_URL=<redacted>"), "{env}");
                assert!(!env.contains("change-me"), "{env}");
            }
            (Node::Dir, Node::Dir) => {}
            _ => assert_eq!(node, original, "{path}"),
        }
    }
    for wanted in [
        "docker-compose.yml",
        "nginx/nginx.conf",
        "k8s/base/deployment.yaml",
        "letsencrypt/live/example.test/cert.pem",
        "app/settings/base.py",
    ] {
        assert!(restored.contains_key(wanted), "{wanted} missing");
    }
    assert!(matches!(
        restored["letsencrypt/live/example.test/cert.pem"],
        Node::Link(_)
    ));
    for noise in ["node_modules", "media", "venv"] {
        assert!(!restored.keys().any(|p| p.starts_with(noise)), "{noise}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_list_dry_run_and_path_globs() {
    let source = sample_copy();
    let w = three_stores().await;
    let (out, report) = w
        .backup(source.path(), &["--store", "s3:r2", "--store", "s3:b2"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let key = copy_key(&report, "main", "r2");
    let artifact = format!("s3:r2/{key}");
    let key_file = w.key.to_str().unwrap();

    let out = w.run(&["verify", &artifact]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("verified {artifact}\n  "))
            && text.contains(" bytes, sha256 ")
            && text.ends_with("(matches the digest recorded at upload)\n"),
        "{text}"
    );
    let out = w
        .run(&["verify", &artifact, "--deep", "--key-file", key_file])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("match the manifest"),
        "{}",
        stdout(&out)
    );

    let out = w
        .run(&[
            "restore",
            &artifact,
            "--list",
            "--path",
            "nginx/**",
            "--key-file",
            key_file,
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listing = stdout(&out);
    assert!(listing.contains("nginx/nginx.conf"), "{listing}");
    assert!(listing.lines().all(|l| l.contains(" nginx")), "{listing}");

    let target = w.path("dry");
    let out = w
        .run(&[
            "restore",
            &artifact,
            "--dry-run",
            "--to",
            target.to_str().unwrap(),
            "--key-file",
            key_file,
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!target.exists(), "a dry run writes nothing");

    let target = w.path("only-k8s");
    let out = w
        .run(&[
            "restore",
            &artifact,
            "--path",
            "k8s/**",
            "--to",
            target.to_str().unwrap(),
            "--key-file",
            key_file,
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let restored = snapshot(&target);
    assert!(restored.contains_key("k8s/base/deployment.yaml"));
    assert!(
        restored.keys().all(|p| p.starts_with("k8s")),
        "{:?}",
        restored.keys()
    );
}
