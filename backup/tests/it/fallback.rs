//! Restore and verify against damaged copies: a missing copy and a copy with a flipped byte are
//! skipped for the next one; a damaged copy without a recorded digest is caught by decryption;
//! verification names the bad copy; listing, dry runs and path globs write nothing they should not.

use std::sync::Arc;

use anyhow::{Context as _, Result, ensure};
use celeriac_backup::Bundle;
use celeriac_backup::internals::Limits;
use celeriac_backup::{BackupReport, BackupStatus, CopyErrorKind};
use celeriac_backup::{
    DeepOptions, Pipeline, RestoreError, RestoreMode, RestoreOptions, VerifyError, restore,
    verify_artifact,
};
use celeriac_store::{MemoryStore, Store, StoreError, StoreId};
use celeriac_testkit::s3::S3Server;

use crate::fixture::{listing, sample_copy};
use crate::harness::{KeyFiles, local_store, options, s3_store, spec_for};
use crate::pipeline::sources;

async fn backup(
    stores: &[Arc<dyn Store>],
    keys: &KeyFiles,
) -> Result<(tempfile::TempDir, BackupReport)> {
    let source = sample_copy()?;
    let report = Pipeline::new(
        spec_for(source.path())?,
        stores.to_vec(),
        keys.backup_keys()?,
    )
    .with_options(options()?)
    .run()
    .await?;
    ensure!(report.status == BackupStatus::Verified, "{report}");
    Ok((source, report))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_falls_back_past_a_missing_and_a_corrupted_copy() -> Result<()> {
    let keys = KeyFiles::new()?;
    let (_dir, local) = local_store()?;
    let (r2_bucket, r2) = s3_store(&S3Server::r2(), &S3Server::r2()).await;
    let (b2_bucket, b2) = s3_store(&S3Server::b2(), &S3Server::b2()).await;
    let stores = vec![Arc::clone(&r2), Arc::clone(&b2), Arc::clone(&local)];
    let (source, report) = backup(&stores, &keys).await?;
    let main = report.artifact(Bundle::Main).context("main")?;
    let key = main.copies[0].key.as_str().to_owned();

    // R2 lost its copy: B2 serves the restore.
    r2_bucket.delete(&key).await;
    let out = tempfile::tempdir()?;
    let first = restore(
        &sources(main, &stores),
        keys.main_ring()?,
        &RestoreOptions::extract_to(out.path().join("one")),
    )
    .await?;
    ensure!(first.store.as_str() == "b2", "{first:?}");
    let skipped: Vec<_> = first
        .skipped_copies
        .iter()
        .map(|a| (a.store.as_str(), a.error.kind))
        .collect();
    ensure!(skipped == [("r2", CopyErrorKind::NotFound)], "{skipped:?}");

    // B2's copy now has a flipped byte in the middle of the payload: the local copy serves.
    b2_bucket
        .corrupt(&key, usize::try_from(main.sizes().stored_bytes / 2)?)
        .await;
    let second = restore(
        &sources(main, &stores),
        keys.main_ring()?,
        &RestoreOptions::extract_to(out.path().join("two")),
    )
    .await?;
    ensure!(second.store.as_str() == "local", "{second:?}");
    let skipped: Vec<_> = second
        .skipped_copies
        .iter()
        .map(|a| (a.store.as_str(), a.error.kind))
        .collect();
    ensure!(
        skipped
            == [
                ("r2", CopyErrorKind::NotFound),
                ("b2", CopyErrorKind::ChecksumMismatch)
            ],
        "{skipped:?}"
    );
    for name in ["one", "two"] {
        let compose = std::fs::read(out.path().join(name).join("docker-compose.yml"))?;
        ensure!(compose == std::fs::read(source.path().join("docker-compose.yml"))?);
    }
    ensure!(
        listing(out.path())? == ["one", "two"],
        "temp files left: {:?}",
        listing(out.path())?
    );

    // Verification names the damaged copy and passes the good one, deep included.
    let bad = verify_artifact(b2.as_ref(), &main.copies[0].key, None, None).await;
    ensure!(
        matches!(
            &bad,
            Err(VerifyError::Store(StoreError::ChecksumMismatch { .. }))
        ),
        "{bad:?}"
    );
    ensure!(bad.as_ref().err().is_some_and(VerifyError::is_corrupt));
    let mut deep = DeepOptions::new(keys.main_ring()?).with_limits(Limits::default());
    deep.bundle = Some(Bundle::Main);
    let good = verify_artifact(local.as_ref(), &main.copies[0].key, None, Some(&deep)).await?;
    let walked = good.deep().context("deep report")?;
    ensure!(walked.entries == main.entries && walked.files == main.files);
    ensure!(good.sha256 == main.sha256);
    let missing = verify_artifact(r2.as_ref(), &main.copies[0].key, None, None).await;
    ensure!(
        matches!(
            missing,
            Err(VerifyError::Store(StoreError::NotFound { .. }))
        ),
        "{missing:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_copy_without_a_recorded_digest_fails_decryption_and_is_skipped() -> Result<()> {
    let keys = KeyFiles::new()?;
    let (dir_a, a) = local_store()?;
    let b: Arc<dyn Store> = Arc::new(MemoryStore::new(StoreId::new("b")?));
    let stores = vec![Arc::clone(&a), Arc::clone(&b)];
    let (_source, report) = backup(&stores, &keys).await?;
    let main = report.artifact(Bundle::Main).context("main")?;
    let key = &main.copies[0].key;
    let path = dir_a.path().join("backups").join(key.as_str());
    let mut bytes = std::fs::read(&path)?;
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40; // inside the final chunk's tag
    std::fs::write(&path, bytes)?;
    std::fs::remove_file(dir_a.path().join("backups").join(key.sidecar_name()))?;

    let out = tempfile::tempdir()?;
    let restored = restore(
        &sources(main, &stores),
        keys.main_ring()?,
        &RestoreOptions::extract_to(out.path().join("t")),
    )
    .await?;
    ensure!(restored.store.as_str() == "b");
    ensure!(
        restored.skipped_copies.len() == 1
            && restored.skipped_copies[0].error.kind == CopyErrorKind::Corrupt
    );

    // With no usable copy at all, every attempt is named.
    let only_bad = vec![Arc::clone(&a)];
    let err = restore(
        &sources(main, &only_bad),
        keys.main_ring()?,
        &RestoreOptions::extract_to(out.path().join("u")),
    )
    .await
    .err()
    .context("no usable copy")?;
    let RestoreError::AllCopiesFailed { attempts, .. } = &err else {
        anyhow::bail!("{err:?}")
    };
    ensure!(attempts.len() == 1 && attempts[0].store.as_str() == "local");
    ensure!(
        !out.path().join("u").exists(),
        "nothing is committed from a bad copy"
    );
    ensure!(listing(out.path())? == ["t"], "{:?}", listing(out.path())?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_dry_run_and_path_globs() -> Result<()> {
    let keys = KeyFiles::new()?;
    let a: Arc<dyn Store> = Arc::new(MemoryStore::new(StoreId::new("a")?));
    let (_source, report) = backup(std::slice::from_ref(&a), &keys).await?;
    let main = report.artifact(Bundle::Main).context("main")?;
    let copies = sources(main, std::slice::from_ref(&a));
    let out = tempfile::tempdir()?;

    let listed = restore(
        &copies,
        keys.main_ring()?,
        &RestoreOptions::with_mode(RestoreMode::List),
    )
    .await?;
    ensure!(listed.manifest().bundle() == Bundle::Main);
    ensure!(
        listed
            .manifest()
            .entries()
            .any(|e| e.path() == "nginx/nginx.conf")
    );
    let dry = restore(
        &copies,
        keys.main_ring()?,
        &RestoreOptions::with_mode(RestoreMode::DryRun),
    )
    .await?;
    ensure!(dry.entries == main.entries && dry.selected == main.entries);

    let mut only_nginx = RestoreOptions::extract_to(out.path().join("nginx-only"));
    only_nginx.only = vec!["nginx/**".into()];
    let picked = restore(&copies, keys.main_ring()?, &only_nginx).await?;
    ensure!(picked.selected < picked.entries && picked.selected >= 2);
    let mut got = listing(&out.path().join("nginx-only"))?;
    got.sort();
    ensure!(got == ["nginx"], "{got:?}");
    ensure!(
        out.path()
            .join("nginx-only/nginx/conf.d/app.conf")
            .is_file()
    );

    // An existing, non-empty target is refused before anything is downloaded.
    let busy = RestoreOptions::extract_to(out.path().join("nginx-only"));
    let refused = restore(&copies, keys.main_ring()?, &busy).await;
    ensure!(
        matches!(refused, Err(RestoreError::Target(_))),
        "{refused:?}"
    );
    ensure!(
        listing(out.path())? == ["nginx-only"],
        "{:?}",
        listing(out.path())?
    );

    // A local artifact file addressed by its path reads like any store.
    let (dir, local) = local_store()?;
    let (_s, report) = backup(std::slice::from_ref(&local), &keys).await?;
    let file = dir
        .path()
        .join("backups")
        .join(report.artifacts[0].copies[0].key.as_str());
    let (store, key) = celeriac_backup::ArtifactAddress::local_store(&file)?;
    let store: Arc<dyn Store> = Arc::new(store);
    let listed = restore(
        &[celeriac_backup::RestoreSource {
            store,
            key,
            expected: None,
        }],
        keys.main_ring()?,
        &RestoreOptions::with_mode(RestoreMode::List),
    )
    .await?;
    ensure!(listed.sha256 == report.artifacts[0].sha256);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_without_recorded_digests_and_a_foreign_key_report_the_wrong_key() -> Result<()> {
    let keys = KeyFiles::new()?;
    let (dir_a, a) = local_store()?;
    let (dir_b, _) = local_store()?;
    let b: Arc<dyn Store> = Arc::new(celeriac_store::LocalStore::new(
        StoreId::new("other")?,
        dir_b.path().join("backups"),
    ));
    let stores = vec![Arc::clone(&a), Arc::clone(&b)];
    let (_source, report) = backup(&stores, &keys).await?;
    let main = report.artifact(Bundle::Main).context("main")?;
    let key = &main.copies[0].key;
    for dir in [dir_a.path(), dir_b.path()] {
        std::fs::remove_file(dir.join("backups").join(key.sidecar_name()))?;
    }
    let out = tempfile::tempdir()?;
    let err = restore(
        &sources(main, &stores),
        keys.secrets_ring()?,
        &RestoreOptions::extract_to(out.path().join("t")),
    )
    .await
    .err()
    .context("the secrets key does not open the main archive")?;
    let RestoreError::WrongKey { wanted } = &err else {
        anyhow::bail!("{err:?}")
    };
    ensure!(*wanted == main.key_ids, "{wanted:?}");
    ensure!(listing(out.path())?.is_empty());
    Ok(())
}
