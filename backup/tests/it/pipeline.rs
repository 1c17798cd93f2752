//! The whole pipeline against real stores: a backup of the sample project to a local directory
//! and both S3 test servers, every copy verified; restores byte-identical (modes, mtimes,
//! symlinks); the sanitized `.env` and the separately keyed secrets bundle; no secret in the
//! report; the report's JSON shape.

use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context as _, Result, ensure};
use celeriac_backup::Bundle;
use celeriac_backup::internals::Classification;
use celeriac_backup::internals::CopyOrigin;
use celeriac_backup::{ArtifactReport, BackupReport, BackupStatus};
use celeriac_backup::{
    BackupId, Pipeline, ProgressEvent, RestoreError, RestoreOptions, RestoreSource, restore,
};
use celeriac_crypto::Key;
use celeriac_store::{MemoryStore, Store, StoreId};
use celeriac_testkit::s3::S3Server;
use celeriac_testkit::tree::SourceTree;
use chrono::{DateTime, Utc};

use crate::fixture::{Node, sample_copy, set_mtime, snapshot};
use crate::harness::{KeyFiles, local_store, options, s3_store, spec_for};

/// Values of the sample project's secrets that must never leave the secrets bundle.
const SECRET_VALUES: [&str; 6] = [
    "django-insecure-FAKE-k3y-0nly-f0r-th3-s4mpl3-pr0j3ct",
    "FakeDbPassw0rd",
    "FakeRedisPass",
    "FAKEfakeFAKEfakeFAKEfakeFAKEfake0123",
    "fake-mail-password",
    "fakepublickey",
];

/// Restore sources for every copy of `artifact`, in the order of `stores`.
pub(crate) fn sources(artifact: &ArtifactReport, stores: &[Arc<dyn Store>]) -> Vec<RestoreSource> {
    stores
        .iter()
        .filter_map(|store| {
            let copy = artifact.copy(store.id().as_str())?;
            Some(RestoreSource {
                store: Arc::clone(store),
                key: copy.key.clone(),
                expected: None,
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nightly_backup_to_local_r2_and_b2_is_verified_and_restores_byte_identical() -> Result<()> {
    let source = sample_copy()?;
    set_mtime(&source.path().join("nginx/nginx.conf"), 1_600_000_000)?;
    let keys = KeyFiles::new()?;
    let (_local_dir, local) = local_store()?;
    let (r2_bucket, r2) = s3_store(&S3Server::r2(), &S3Server::r2()).await;
    let (b2_bucket, b2) = s3_store(&S3Server::b2(), &S3Server::b2()).await;
    let stores = vec![Arc::clone(&local), Arc::clone(&r2), Arc::clone(&b2)];
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let report = Pipeline::new(
        spec_for(source.path())?,
        stores.clone(),
        keys.backup_keys()?,
    )
    .with_options(options()?)
    .with_progress(Arc::new(move |e: &ProgressEvent| {
        sink.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(e.clone());
    }))
    .run()
    .await?;

    check_copies(&report, &keys)?;
    let main = report.artifact(Bundle::Main).context("main artifact")?;
    let secrets = report
        .artifact(Bundle::Secrets)
        .context("secrets artifact")?;

    // Every bucket holds both artifacts and their sha256sum sidecars, with the reported bytes.
    for bucket in [&r2_bucket, &b2_bucket] {
        let mut expected: Vec<String> = [main, secrets]
            .iter()
            .flat_map(|a| {
                let key = a.copies[0].key.to_string();
                [format!("{key}.sha256"), key]
            })
            .collect();
        expected.sort();
        ensure!(bucket.keys().await == expected, "{:?}", bucket.keys().await);
        let object = bucket
            .get(main.copies[0].key.as_str())
            .await
            .context("object")?;
        ensure!(celeriac_store::Sha256Digest::of(&object) == main.sha256);
    }

    // The report holds no secret value.
    let json = report.to_json_pretty();
    for value in SECRET_VALUES {
        ensure!(!json.contains(value), "report leaks {value}");
    }

    // Progress: collection, both artifacts streamed, every copy stored and verified.
    let events = events
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    ensure!(matches!(
        events.first(),
        Some(ProgressEvent::Collected { .. })
    ));
    let verified = events
        .iter()
        .filter(|e| matches!(e, ProgressEvent::CopyVerified { .. }))
        .count();
    ensure!(verified == 6, "{events:?}");

    let in_order = [Arc::clone(&r2), Arc::clone(&b2), Arc::clone(&local)];
    check_main_restore(main, &in_order, &keys, source.path()).await?;
    check_secrets_bundle(secrets, &stores, &keys, source.path()).await
}

/// Every copy of both artifacts is stored and verified from the stream, one (local) copy is
/// deep-checked, and each artifact names its own key.
fn check_copies(report: &BackupReport, keys: &KeyFiles) -> Result<()> {
    ensure!(report.status == BackupStatus::Verified, "{report}");
    ensure!(report.stores().iter().all(|s| s.complete));
    let main = report.artifact(Bundle::Main).context("main artifact")?;
    let secrets = report
        .artifact(Bundle::Secrets)
        .context("secrets artifact")?;
    for artifact in [main, secrets] {
        ensure!(artifact.copies.len() == 3);
        for copy in &artifact.copies {
            ensure!(
                copy.is_stored()
                    && copy.is_verified()
                    && copy.attempts == 1
                    && copy.error.is_none(),
                "{copy:?}"
            );
            ensure!(copy.origin() == Some(CopyOrigin::Stream), "{copy:?}");
            ensure!(copy.key.basename() == artifact.file_name);
            ensure!(copy.key.as_str().starts_with(&format!(
                "celeriac/{}/{}/",
                report.started_at.format("%Y/%m/%d"),
                report.backup_id
            )));
        }
        let deep: Vec<&str> = artifact
            .copies
            .iter()
            .filter(|c| c.is_deep_verified())
            .map(|c| c.store.as_str())
            .collect();
        ensure!(
            deep == ["local", "r2", "b2"],
            "every verified copy is covered by the deep check of the stream: {deep:?}"
        );
    }
    ensure!(main.key_ids == [Key::from_file(&keys.main)?.id()]);
    ensure!(secrets.key_ids == [Key::from_file(&keys.secrets)?.id()]);
    ensure!(main.plain_sha256.is_some() && secrets.plain_sha256.is_none());
    ensure!(main.compression_ratio > 1.0 && main.sizes().stored_bytes > main.sizes().gz_bytes);

    Ok(())
}

/// The main archive restores from R2, byte-identical for every plain member; the `.env` in it
/// is the sanitized one.
async fn check_main_restore(
    main: &ArtifactReport,
    stores: &[Arc<dyn Store>],
    keys: &KeyFiles,
    source: &std::path::Path,
) -> Result<()> {
    // Restore the main archive from R2: byte-identical for every plain member.
    let out = tempfile::tempdir()?;
    let target = out.path().join("restored");
    let restored = restore(
        &sources(main, stores),
        keys.main_ring()?,
        &RestoreOptions::extract_to(&target),
    )
    .await?;
    ensure!(restored.store.as_str() == "r2" && restored.skipped_copies.is_empty());
    ensure!(restored.sha256 == main.sha256);
    let (src, got) = (snapshot(source)?, snapshot(&target)?);
    let members: Vec<_> = restored
        .manifest()
        .entries()
        .filter(celeriac_backup::ManifestEntryRef::is_member)
        .collect();
    ensure!(
        got.len() == members.len(),
        "{:?}",
        got.keys().collect::<Vec<_>>()
    );
    for entry in members
        .iter()
        .filter(|e| e.classification() == Classification::Plain)
    {
        let path = entry.path().to_owned();
        ensure!(src.get(&path) == got.get(&path), "{path} differs");
    }
    ensure!(matches!(
        got.get("letsencrypt/live/example.test/cert.pem"),
        Some(Node::Symlink { target, .. }) if target == "../../archive/example.test/cert1.pem"
    ));
    ensure!(matches!(
        got.get("nginx/nginx.conf"),
        Some(Node::File {
            mtime: 1_600_000_000,
            ..
        })
    ));

    // The sanitized .env keeps every key and hides the secret values.
    let env = std::fs::read_to_string(target.join(".env"))?;
    for key in [
        "SECRET_KEY=",
        "DATABASE_URL=",
        "AWS_SECRET_ACCESS_KEY=",
        "DEBUG=False",
    ] {
        ensure!(env.contains(key), "sanitized .env lost {key}:\n{env}");
    }
    for value in SECRET_VALUES {
        ensure!(!env.contains(value), "sanitized .env shows {value}");
    }
    ensure!(!target.join("certs/test-only.key").exists());

    Ok(())
}

/// The secrets bundle restores the real files, only when asked for and only with its own key.
async fn check_secrets_bundle(
    secrets: &ArtifactReport,
    stores: &[Arc<dyn Store>],
    keys: &KeyFiles,
    source: &std::path::Path,
) -> Result<()> {
    let out = tempfile::tempdir()?;
    let copies = sources(secrets, stores);

    let wrong_key = restore(
        &copies,
        keys.main_ring()?,
        &secrets_options(out.path().join("a")),
    )
    .await
    .err()
    .context("the main key must not open the secrets bundle")?;
    ensure!(
        matches!(wrong_key, RestoreError::WrongKey { .. }),
        "{wrong_key:?}"
    );

    let as_main = RestoreOptions::extract_to(out.path().join("b"));
    let refused = restore(&copies, keys.secrets_ring()?, &as_main).await;
    ensure!(
        matches!(refused, Err(RestoreError::AllCopiesFailed { .. })),
        "restoring the secrets bundle must be explicit: {refused:?}"
    );
    ensure!(!out.path().join("b").exists());

    let target = out.path().join("secrets");
    restore(
        &copies,
        keys.secrets_ring()?,
        &secrets_options(target.clone()),
    )
    .await?;
    for file in [
        ".env",
        "certs/test-only.key",
        "letsencrypt/archive/example.test/privkey1.pem",
    ] {
        let (restored, original) = (
            std::fs::read(target.join(file))?,
            std::fs::read(source.join(file))?,
        );
        ensure!(restored == original, "{file} differs from the original");
    }
    Ok(())
}

fn secrets_options(target: std::path::PathBuf) -> RestoreOptions {
    let mut options = RestoreOptions::extract_to(target);
    options.bundle = Bundle::Secrets;
    options
}

/// A small tree with known contents and times, backed up into memory stores under a fixed id
/// and time, gives this exact report (run-dependent values redacted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_json_has_a_stable_shape() -> Result<()> {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let tree = SourceTree::new()
        .file("docker-compose.yml", "services:\n  web:\n    image: app\n")
        .mtime(at)
        .file(".env", "DEBUG=1\nSECRET_KEY=s3cr3t-value\n")
        .mode(0o600)
        .mtime(at)
        .file("nginx/nginx.conf", "events {}\n")
        .mtime(at)
        .build();
    let stores: Vec<Arc<dyn Store>> = vec![
        Arc::new(MemoryStore::new(StoreId::new("a")?)),
        Arc::new(MemoryStore::new(StoreId::new("b")?)),
    ];
    let id: BackupId = "019ac4a1-52e3-7a10-8f00-0123456789ab".parse()?;
    let started: DateTime<Utc> = "2026-11-27T02:30:00Z".parse()?;
    let keys = KeyFiles::new()?;
    let report = Pipeline::new(spec_for(tree.path())?, stores, keys.backup_keys()?)
        .with_options(options()?)
        .with_identity(id, started)
        .run()
        .await?;
    let mut json = serde_json::to_value(&report)?;
    redact(&mut json);
    let expected = serde_json::json!({
        "backup_id": "019ac4a1-52e3-7a10-8f00-0123456789ab",
        "status": "VERIFIED",
        "started_at": "2026-11-27T02:30:00Z",
        "collection": {
            "files_collected": 3,
            "file_categories": {"docker": 1, "env": 1, "nginx": 1},
            "file_list_sha256": celeriac_store::Sha256Digest::of(
                b".env\ndocker-compose.yml\nnginx/nginx.conf\n"
            ).to_string(),
            "bytes": 74, "main_entries": 4, "secrets_entries": 1,
            "categories": {
                "docker": {"files": 1, "bytes": 32, "secrets": 0},
                "env": {"files": 1, "bytes": 32, "secrets": 1},
                "nginx": {"files": 1, "bytes": 10, "secrets": 0}
            },
            "skipped": [],
            "left_out": {"count": 0, "paths": []},
            "secrets_suspected": []
        },
        "artifacts": [
            artifact("main", "", 4, 3, true),
            artifact("secrets", ".secrets", 1, 1, false),
        ],
        "stores": [
            {"store": "a", "kind": "memory", "complete": true},
            {"store": "b", "kind": "memory", "complete": true}
        ],
        "timings": {
            "collect_ms": "<ms>", "stream_main_ms": "<ms>", "stream_secrets_ms": "<ms>",
            "verify_ms": "<ms>", "retry_ms": "<ms>", "total_ms": "<ms>"
        }
    });
    ensure!(
        json == expected,
        "got:\n{}\nexpected:\n{}",
        serde_json::to_string_pretty(&json)?,
        serde_json::to_string_pretty(&expected)?
    );
    Ok(())
}

fn artifact(bundle: &str, marker: &str, entries: u64, files: u64, main: bool) -> serde_json::Value {
    let name = format!("backup_configuration_20261127_023000{marker}.tar.gz.enc");
    let copy = |store: &str, deep: bool| {
        serde_json::json!({
            "store": store, "kind": "memory", "key": format!(
                "celeriac/2026/11/27/019ac4a1-52e3-7a10-8f00-0123456789ab/{name}"
            ),
            "state": if deep { "deep-verified" } else { "verified" },
            "stored": true, "verified": true, "deep_verified": deep, "attempts": 1,
            "origin": {"via": "stream"}
        })
    };
    let mut value = serde_json::json!({
        "bundle": bundle,
        "file_name": name,
        "entries": entries,
        "files": files,
        "sizes": {"file_bytes": "<n>", "tar_bytes": "<n>", "gz_bytes": "<n>", "stored_bytes": "<n>"},
        "compression_ratio": "<ratio>",
        "sha256": "<sha256>",
        "key_ids": ["<key id>"],
        "copies": [copy("a", true), copy("b", true)]
    });
    if main {
        value["plain_sha256"] = "<sha256>".into();
        value["manifest_sha256"] = "<sha256>".into();
    }
    value
}

/// Replaces run-dependent values (timings, sizes, digests, key ids).
fn redact(json: &mut serde_json::Value) {
    match json {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let placeholder = match k.as_str() {
                    "key_ids" => serde_json::json!(["<key id>"]),
                    k if k.ends_with("_ms") => "<ms>".into(),
                    "file_bytes" | "tar_bytes" | "gz_bytes" | "stored_bytes" => "<n>".into(),
                    "sha256" | "plain_sha256" | "manifest_sha256" => "<sha256>".into(),
                    "compression_ratio" => "<ratio>".into(),
                    _ => {
                        redact(v);
                        continue;
                    }
                };
                *v = placeholder;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// The deep check reads the stream as it is uploaded: when it refuses the artifact (here: more
/// entries than the restore limits allow, as a restore would refuse it), no copy counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_deep_check_fails_every_copy() -> Result<()> {
    let source = sample_copy()?;
    let keys = KeyFiles::new()?;
    let stores: Vec<Arc<dyn Store>> = vec![
        Arc::new(MemoryStore::new(StoreId::new("a")?)),
        Arc::new(MemoryStore::new(StoreId::new("b")?)),
    ];
    let tight = celeriac_backup::internals::Limits {
        max_entries: 3,
        ..celeriac_backup::internals::Limits::default()
    };
    let report = Pipeline::new(spec_for(source.path())?, stores, keys.backup_keys()?)
        .with_options(options()?)
        .with_limits(tight)
        .run()
        .await?;
    ensure!(report.status == BackupStatus::Failed, "{report}");
    let main = report.artifact(Bundle::Main).context("main")?;
    for copy in &main.copies {
        ensure!(
            copy.is_stored() && !copy.is_verified() && !copy.is_deep_verified(),
            "{copy:?}"
        );
        let error = copy.error.as_ref().context("error")?;
        ensure!(
            error.kind == celeriac_backup::CopyErrorKind::Corrupt
                && error.message.contains("more than 3 entries"),
            "{error:?}"
        );
    }

    // Without the deep check the same run verifies by checksum alone.
    let stores: Vec<Arc<dyn Store>> = vec![Arc::new(MemoryStore::new(StoreId::new("c")?))];
    let mut no_deep = options()?;
    no_deep.deep_verify = false;
    let report = Pipeline::new(spec_for(source.path())?, stores, keys.backup_keys()?)
        .with_options(no_deep)
        .with_limits(celeriac_backup::internals::Limits {
            max_entries: 3,
            ..celeriac_backup::internals::Limits::default()
        })
        .run()
        .await?;
    ensure!(report.status == BackupStatus::Verified, "{report}");
    ensure!(
        report
            .artifacts
            .iter()
            .flat_map(|a| &a.copies)
            .all(|c| !c.is_deep_verified())
    );
    Ok(())
}

/// Cancellation is cooperative: the token, checked between files, stops the producer; the
/// fan-out aborts every upload, and nothing becomes visible in any store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_the_run_and_leaves_no_object() -> Result<()> {
    let source = sample_copy()?;
    let keys = KeyFiles::new()?;
    let store = Arc::new(MemoryStore::new(StoreId::new("a")?));
    let cancel = tokio_util::sync::CancellationToken::new();
    let trigger = cancel.clone();
    let result = Pipeline::new(
        spec_for(source.path())?,
        vec![Arc::clone(&store) as Arc<dyn Store>],
        keys.backup_keys()?,
    )
    .with_options(options()?)
    .with_cancel(cancel)
    .with_progress(Arc::new(move |e: &ProgressEvent| {
        if matches!(e, ProgressEvent::EntryArchived { done: 3, .. }) {
            trigger.cancel();
        }
    }))
    .run()
    .await;
    ensure!(
        matches!(result, Err(celeriac_backup::BackupError::Cancelled)),
        "{result:?}"
    );
    let left = store.list(&celeriac_store::ObjectPrefix::root()).await?;
    ensure!(left.is_empty(), "{left:?}");
    Ok(())
}
