//! Store faults during a run, injected with the testkit's `FaultProxy` between the S3 store and
//! a real s3s-fs server: connections cut in the middle of the upload (the copy is uploaded again
//! from the verified local copy and verifies), and a server that stays down (the run is PARTIAL,
//! names it, and the other copies are complete and verified).

use std::sync::Arc;

use anyhow::{Context as _, Result, ensure};
use celeriac_backup::Bundle;
use celeriac_backup::internals::CopyOrigin;
use celeriac_backup::{BackupStatus, CopyErrorKind};
use celeriac_backup::{Pipeline, ProgressEvent};
use celeriac_store::Store;
use celeriac_testkit::proxy::FaultProxy;
use celeriac_testkit::s3::S3Server;

use crate::fixture::sample_copy;
use crate::harness::{KeyFiles, address_of, local_store, options, s3_store, spec_for};

/// Adds about 12 MiB of hex text (compresses to ~6.5 MiB: above the 5 MiB single-PUT threshold
/// of the test stores, so the upload is multipart) as a Kubernetes manifest.
fn add_big_manifest(root: &std::path::Path) -> Result<()> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\ndata:\n  blob: |\n");
    let mut line = [0u8; 48];
    for _ in 0..(12 << 20) / 100 {
        for byte in &mut line {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            *byte = (state >> 56) as u8;
        }
        text.push_str("    ");
        text.push_str(&hex::encode(line));
        text.push('\n');
    }
    std::fs::write(root.join("k8s/base/blob.yaml"), text)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_connection_cut_mid_upload_is_retried_from_the_local_copy() -> Result<()> {
    let source = sample_copy()?;
    add_big_manifest(source.path())?;
    let keys = KeyFiles::new()?;
    let r2 = S3Server::r2();
    let proxy = Arc::new(FaultProxy::start(address_of(&r2)?).await);
    let (_dir, local) = local_store()?;
    let (r2_bucket, r2_store) = s3_store(&r2, &r2.via(proxy.addr())).await;
    let (_b2_bucket, b2_store) = s3_store(&S3Server::b2(), &S3Server::b2()).await;
    let stores = vec![local, r2_store, b2_store];
    // Every connection to R2 is cut after 1 MiB, so no 5 MiB part can get through and the
    // store's own retries run out; once R2's streamed copy has failed, the network heals.
    proxy.cut_after_bytes(Some(1 << 20));
    let healer = Arc::clone(&proxy);
    let report = Pipeline::new(spec_for(source.path())?, stores, keys.backup_keys()?)
        .with_options(options()?)
        .with_progress(Arc::new(move |e: &ProgressEvent| {
            if let ProgressEvent::CopyFailed {
                store,
                bundle: Bundle::Main,
                ..
            } = e
                && store.as_str() == "r2"
            {
                healer.cut_after_bytes(None);
            }
        }))
        .run()
        .await?;

    ensure!(
        proxy.stats().cut >= 1,
        "the proxy must have cut a live upload"
    );
    ensure!(report.status == BackupStatus::Verified, "{report}");
    let main = report.artifact(Bundle::Main).context("main")?;
    ensure!(
        main.sizes().stored_bytes > 5 << 20,
        "the artifact must be multipart"
    );
    let copy = main.copy("r2").context("r2 copy")?;
    ensure!(copy.is_verified() && copy.attempts == 2, "{copy:?}");
    ensure!(
        copy.origin()
            == Some(CopyOrigin::Retry {
                from: celeriac_store::StoreId::new("local")?
            }),
        "{copy:?}"
    );
    for other in ["local", "b2"] {
        let c = main.copy(other).context("copy")?;
        ensure!(
            c.is_verified() && c.attempts == 1 && c.origin() == Some(CopyOrigin::Stream),
            "{c:?}"
        );
    }
    let object = r2_bucket
        .get(copy.key.as_str())
        .await
        .context("object in R2")?;
    ensure!(celeriac_store::Sha256Digest::of(&object) == main.sha256);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_server_that_stays_down_gives_a_partial_report_naming_it() -> Result<()> {
    let source = sample_copy()?;
    let keys = KeyFiles::new()?;
    let b2 = S3Server::b2();
    let proxy = FaultProxy::start(address_of(&b2)?).await;
    proxy.set_refuse(true);
    let (_dir, local) = local_store()?;
    let (_r2_bucket, r2_store) = s3_store(&S3Server::r2(), &S3Server::r2()).await;
    let (b2_bucket, b2_store) = s3_store(&b2, &b2.via(proxy.addr())).await;
    let stores: Vec<Arc<dyn Store>> = vec![local, r2_store, b2_store];
    let report = Pipeline::new(spec_for(source.path())?, stores, keys.backup_keys()?)
        .with_options(options()?)
        .run()
        .await?;

    ensure!(report.status == BackupStatus::Partial, "{report}");
    let incomplete: Vec<&str> = report
        .incomplete_stores()
        .map(celeriac_store::StoreId::as_str)
        .collect();
    ensure!(incomplete == ["b2"], "{incomplete:?}");
    ensure!(report.artifacts.len() == 2);
    for artifact in &report.artifacts {
        for name in ["local", "r2"] {
            let c = artifact.copy(name).context("copy")?;
            ensure!(
                c.is_stored() && c.is_verified() && c.error.is_none(),
                "{c:?}"
            );
        }
        let down = artifact.copy("b2").context("b2 copy")?;
        ensure!(
            !down.is_stored() && !down.is_verified() && down.origin().is_none(),
            "{down:?}"
        );
        ensure!(down.attempts == 3, "every attempt was made: {down:?}");
        let error = down.error.as_ref().context("b2 error")?;
        ensure!(
            error.kind == CopyErrorKind::Unavailable && error.transient,
            "{error:?}"
        );
        ensure!(error.message.contains("b2"), "{}", error.message);
    }
    ensure!(proxy.stats().refused >= 3, "{:?}", proxy.stats());
    ensure!(b2_bucket.keys().await.is_empty(), "nothing may reach B2");
    let text = report.to_string();
    ensure!(text.contains("PARTIAL") && text.contains("b2"), "{text}");
    Ok(())
}
