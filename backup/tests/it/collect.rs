//! Collection: the default rules on the sample project, noise left out, symlink and special-file
//! policy, the Let's Encrypt layout, vanished files under both policies, multiple roots.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use celeriac_backup::BackupStatus;
use celeriac_backup::Bundle;
use celeriac_backup::CollectSpec;
use celeriac_backup::internals::CollectError;
use celeriac_backup::internals::LinkProblem;
use celeriac_backup::internals::RawRoot;
use celeriac_backup::internals::collect_with_cancel;
use celeriac_backup::internals::{Category, Classification};
use celeriac_backup::internals::{EntryKind, collect};
use celeriac_backup::internals::{RawCollectConfig, UnreadablePolicy};
use celeriac_backup::internals::{SkipReason, SpecialKind};

use crate::fixture::{collect_dir, sample_copy, spec_for};

fn paths(entries: &[celeriac_backup::internals::Entry], files_only: bool) -> Vec<String> {
    entries
        .iter()
        .filter(|e| !files_only || e.kind != EntryKind::Dir)
        .map(|e| e.path.to_string())
        .collect()
}

#[test]
fn default_rules_pick_the_sample_projects_config_and_leave_noise_out() -> Result<()> {
    let dir = sample_copy()?;
    let c = collect_dir(dir.path())?;
    let main = paths(&c.main, true);
    assert_eq!(
        main,
        [
            ".dockerignore",
            ".env",
            ".env.example",
            ".pre-commit-config.yaml",
            "Dockerfile",
            "Makefile",
            "app/settings/__init__.py",
            "app/settings/base.py",
            "app/settings/production.py",
            "certs/test-only.crt",
            "docker-compose.prod.yml",
            "docker-compose.yml",
            "docker/postgres/init-db.sh",
            "docker/web/entrypoint.sh",
            "k8s/base/deployment.yaml",
            "k8s/base/service.yml",
            "letsencrypt/archive/example.test/cert1.pem",
            "letsencrypt/archive/example.test/chain1.pem",
            "letsencrypt/archive/example.test/fullchain1.pem",
            "letsencrypt/live/example.test/cert.pem",
            "letsencrypt/live/example.test/chain.pem",
            "letsencrypt/live/example.test/fullchain.pem",
            "letsencrypt/renewal/example.test.conf",
            "nginx/conf.d/app.conf",
            "nginx/nginx.conf",
            "postgres/init-wal-archive.sh",
            "postgres/postgresql.conf",
            "pyproject.toml",
            "pytest.ini",
            "requirements.txt",
            "setup.cfg",
        ]
    );
    let secrets = paths(&c.secrets, true);
    // `.env.example` holds a URL with credentials (secret-looking): its real copy goes to the
    // secrets bundle, a sanitized one to main.
    assert_eq!(
        secrets,
        [
            ".env",
            ".env.example",
            "certs/test-only.key",
            "k8s/base/secret.yaml",
            "letsencrypt/archive/example.test/privkey1.pem",
            "letsencrypt/live/example.test/privkey.pem",
        ]
    );
    let all = paths(&c.main, false).join("\n");
    for noise in [
        "node_modules",
        "media",
        ".git",
        ".svn",
        "venv",
        "__pycache__",
        "README",
        "models.py",
    ] {
        assert!(!all.contains(noise), "{noise} leaked into the collection");
    }
    assert!(c.skipped.is_empty(), "{:?}", c.skipped);
    Ok(())
}

#[test]
fn entries_are_sorted_and_directories_carry_their_metadata() -> Result<()> {
    let dir = sample_copy()?;
    std::fs::set_permissions(
        dir.path().join("nginx"),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )?;
    let c = collect_dir(dir.path())?;
    let main = paths(&c.main, false);
    let mut sorted = main.clone();
    sorted.sort();
    assert_eq!(main, sorted);
    let nginx = c
        .main
        .iter()
        .find(|e| e.path.as_str() == "nginx")
        .expect("nginx dir collected");
    assert_eq!((nginx.kind.clone(), nginx.mode), (EntryKind::Dir, 0o750));
    Ok(())
}

#[test]
fn counts_per_category_cover_main_and_secrets() -> Result<()> {
    let dir = sample_copy()?;
    let c = collect_dir(dir.path())?;
    let files: BTreeMap<Category, (u64, u64)> = c
        .counts
        .iter()
        .map(|(k, v)| (*k, (v.files, v.secrets)))
        .collect();
    let expected = BTreeMap::from([
        (Category::Docker, (5, 0)),
        (Category::Env, (2, 2)),
        (Category::Nginx, (2, 0)),
        (Category::Ssl, (11, 3)),
        (Category::Kubernetes, (3, 1)),
        (Category::Postgres, (3, 0)),
        (Category::Project, (6, 0)),
        (Category::Django, (3, 0)),
    ]);
    assert_eq!(files, expected);
    Ok(())
}

#[test]
fn lets_encrypt_live_links_stay_relative_symlinks_and_follow_their_target_bundle() -> Result<()> {
    let dir = sample_copy()?;
    let c = collect_dir(dir.path())?;
    let cert = c
        .main
        .iter()
        .find(|e| e.path.as_str() == "letsencrypt/live/example.test/cert.pem")
        .expect("cert link");
    assert_eq!(
        cert.kind,
        EntryKind::Symlink {
            target: "../../archive/example.test/cert1.pem".into()
        }
    );
    let key = c
        .secrets
        .iter()
        .find(|e| e.path.as_str() == "letsencrypt/live/example.test/privkey.pem")
        .expect("key link");
    assert_eq!(key.classification, Classification::Secret);
    assert!(matches!(key.kind, EntryKind::Symlink { .. }));
    let manifest = c.manifest(Bundle::Main);
    let moved = manifest
        .entries
        .iter()
        .find(|e| e.path.as_str() == "letsencrypt/live/example.test/privkey.pem");
    assert_eq!(
        moved.map(|e| e.classification),
        Some(Classification::MovedToSecrets)
    );
    Ok(())
}

#[test]
fn escaping_absolute_dangling_links_and_fifos_are_recorded_skips() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("project");
    std::fs::create_dir_all(root.join("nginx"))?;
    std::fs::write(root.join("nginx/nginx.conf"), "events {}\n")?;
    std::fs::write(dir.path().join("outside.conf"), "stolen\n")?;
    std::os::unix::fs::symlink("../../outside.conf", root.join("nginx/escape.conf"))?;
    std::os::unix::fs::symlink("/etc/passwd", root.join("nginx/abs.conf"))?;
    std::os::unix::fs::symlink("missing.conf", root.join("nginx/dangling.conf"))?;
    std::os::unix::fs::symlink("nginx.conf", root.join("nginx/ok.conf"))?;
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("requirements.txt"),
        rustix::fs::FileType::Fifo,
        0o644.into(),
        0,
    )?;
    let c = collect_dir(&root)?;
    let reasons: Vec<(String, SkipReason)> = c
        .skipped
        .iter()
        .map(|s| {
            (
                s.path
                    .strip_prefix(&format!("{}/", root.display()))
                    .unwrap_or(&s.path)
                    .to_owned(),
                s.reason.clone(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "nginx/abs.conf".to_owned(),
                SkipReason::Symlink {
                    problem: LinkProblem::Absolute
                }
            ),
            (
                "nginx/dangling.conf".to_owned(),
                SkipReason::Symlink {
                    problem: LinkProblem::TargetNotMember
                }
            ),
            (
                "nginx/escape.conf".to_owned(),
                SkipReason::Symlink {
                    problem: LinkProblem::Escapes
                }
            ),
            (
                "requirements.txt".to_owned(),
                SkipReason::SpecialFile {
                    kind: SpecialKind::Fifo
                }
            ),
        ]
    );
    assert_eq!(paths(&c.main, true), ["nginx/nginx.conf", "nginx/ok.conf"]);
    Ok(())
}

#[test]
fn a_symlinked_directory_is_not_entered() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("project");
    let host = dir.path().join("host-secrets/docker");
    std::fs::create_dir_all(&host)?;
    std::fs::write(host.join("id_rsa.conf"), "host file\n")?;
    std::fs::create_dir_all(&root)?;
    std::os::unix::fs::symlink(&host, root.join("docker"))?;
    let c = collect_dir(&root)?;
    assert!(c.main.is_empty() && c.secrets.is_empty(), "{:?}", c.main);
    Ok(())
}

/// Deletes `victim` the first time the collector asks whether to cancel (between the walk and
/// the reads), so the file vanishes deterministically.
fn vanish_on_first_check(victim: std::path::PathBuf) -> celeriac_backup::internals::CancelCheck {
    let done = Arc::new(AtomicBool::new(false));
    Arc::new(move || {
        if !done.swap(true, Ordering::SeqCst) {
            std::fs::remove_file(&victim).expect("victim exists");
        }
        false
    })
}

#[test]
fn a_vanished_file_is_a_recorded_skip_under_the_skip_policy() -> Result<()> {
    let dir = sample_copy()?;
    let check = vanish_on_first_check(dir.path().join("setup.cfg"));
    let c = collect_with_cancel(&spec_for(dir.path())?, Some(&check))?;
    assert_eq!(c.skipped.len(), 1);
    assert_eq!(c.skipped[0].reason, SkipReason::Vanished);
    assert!(c.skipped[0].path.ends_with("/setup.cfg"));
    assert!(!paths(&c.main, true).contains(&"setup.cfg".to_owned()));
    Ok(())
}

#[test]
fn an_env_file_that_cannot_be_read_is_a_missing_secret_and_caps_the_status() -> Result<()> {
    let dir = sample_copy()?;
    let check = vanish_on_first_check(dir.path().join(".env"));
    let c = collect_with_cancel(&spec_for(dir.path())?, Some(&check))?;
    assert_eq!(c.skipped.len(), 1, "{:?}", c.skipped);
    let skip = &c.skipped[0];
    assert!(skip.path.ends_with("/.env"), "{skip:?}");
    assert!(skip.secret && skip.is_missing_secret(), "{skip:?}");
    assert_eq!(
        BackupStatus::Verified.with_missing_secrets(true),
        BackupStatus::Partial
    );
    assert_eq!(
        BackupStatus::Failed.with_missing_secrets(true),
        BackupStatus::Failed
    );

    // An ordinary file missing is recorded, but does not make the backup's secrets incomplete.
    let dir = sample_copy()?;
    let check = vanish_on_first_check(dir.path().join("setup.cfg"));
    let c = collect_with_cancel(&spec_for(dir.path())?, Some(&check))?;
    assert!(!c.skipped[0].secret && !c.skipped[0].is_missing_secret());
    Ok(())
}

#[test]
fn a_vanished_file_fails_collection_under_the_fail_policy() -> Result<()> {
    let dir = sample_copy()?;
    let raw = RawCollectConfig {
        roots: vec![RawRoot::new(dir.path())],
        on_unreadable: UnreadablePolicy::Fail,
        ..Default::default()
    };
    let check = vanish_on_first_check(dir.path().join("setup.cfg"));
    let err =
        collect_with_cancel(&CollectSpec::try_from(raw)?, Some(&check)).expect_err("must fail");
    assert!(
        matches!(
            err,
            CollectError::Unreadable {
                reason: SkipReason::Vanished,
                ..
            }
        ),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn several_roots_get_prefixes_and_a_missing_optional_root_is_a_skip() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let project = dir.path().join("app");
    let etc_nginx = dir.path().join("etc/nginx");
    std::fs::create_dir_all(project.join("k8s"))?;
    std::fs::write(project.join("k8s/web.yaml"), "kind: Deployment\n")?;
    std::fs::create_dir_all(etc_nginx.join("sites-enabled"))?;
    std::fs::write(etc_nginx.join("nginx.conf"), "events {}\n")?;
    std::fs::write(etc_nginx.join("sites-enabled/default"), "server {}\n")?;
    let raw = RawCollectConfig {
        roots: vec![
            RawRoot::new(&project),
            RawRoot::new(&etc_nginx),
            RawRoot {
                prefix: Some("letsencrypt".into()),
                optional: true,
                ..RawRoot::new(dir.path().join("nope"))
            },
        ],
        ..Default::default()
    };
    let c = collect(&CollectSpec::try_from(raw)?)?;
    assert_eq!(
        paths(&c.main, false),
        [
            "app",
            "app/k8s",
            "app/k8s/web.yaml",
            "nginx",
            "nginx/nginx.conf",
            "nginx/sites-enabled",
            "nginx/sites-enabled/default"
        ]
    );
    assert!(
        matches!(c.skipped.as_slice(), [s] if matches!(s.reason, SkipReason::RootUnavailable { .. }))
    );
    let required_missing = CollectSpec::try_from(RawCollectConfig {
        roots: vec![RawRoot::new(dir.path().join("nope"))],
        ..Default::default()
    })?;
    assert!(matches!(
        collect(&required_missing),
        Err(CollectError::RootUnavailable { .. })
    ));
    Ok(())
}
