//! Faults between the S3 store and a real s3s-fs server, injected by the testkit's
//! `FaultProxy`: cuts mid-upload, a lost completion response, a server that stays down, and
//! retries that run out.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use celeriac_store::conformance::{pattern, read_all};
use celeriac_store::{ObjectKey, Sha256Digest, Store, StoreError, verify_copy};
use celeriac_testkit::proxy::FaultProxy;
use celeriac_testkit::s3::{S3Server, TestBucket};
use object_store::{ObjectStoreExt as _, path::Path as ObjectPath};

use crate::s3::store_on;

const MIB: usize = 1024 * 1024;

fn target(server: &S3Server) -> anyhow::Result<SocketAddr> {
    let host = server
        .endpoint()
        .strip_prefix("http://")
        .context("test servers speak plain http")?;
    host.parse().context("endpoint is ip:port")
}

/// A store on a fresh bucket of `server`, reached through a new fault proxy.
async fn proxied(
    server: &S3Server,
) -> anyhow::Result<(FaultProxy, TestBucket, celeriac_store::S3Store)> {
    let proxy = FaultProxy::start(target(server)?).await;
    let (bucket, store) = store_on(server, &server.via(proxy.addr()), "").await;
    Ok((proxy, bucket, store))
}

/// Uploads `data` in 1 MiB chunks.
async fn put_all(upload: &mut celeriac_store::Upload, data: &[u8]) -> Result<(), StoreError> {
    for chunk in data.chunks(MIB) {
        upload.put(Bytes::copy_from_slice(chunk)).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cut_mid_part_is_retried_and_object_arrives_intact() -> anyhow::Result<()> {
    let server = S3Server::r2();
    let (proxy, bucket, store) = proxied(&server).await?;
    let key = ObjectKey::new("cut/mid-part.enc")?;
    let data = pattern(16 * MIB + 123, 11);
    let mut upload = store.begin(&key).await?;
    // Slow the link so that a part is surely in flight when the cut comes.
    proxy.set_delay(Duration::from_millis(5));
    let first = &data[..7 * MIB];
    put_all(&mut upload, first).await?; // past 5 MiB: multipart, part 1 uploading
    let before = proxy.stats().bytes_forwarded;
    proxy
        .wait_until(|s| s.bytes_forwarded >= before + MIB as u64)
        .await;
    proxy.cut_all();
    proxy.set_delay(Duration::ZERO);
    put_all(&mut upload, &data[7 * MIB..]).await?;
    let stored = upload.finish(Sha256Digest::of(&data)).await?;
    assert!(
        proxy.stats().cut >= 1,
        "the cut must have hit a live connection"
    );
    verify_copy(&store, &stored).await?;
    let direct = bucket.get(key.as_str()).await.context("object in bucket")?;
    assert!(direct == data, "stored bytes differ");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cut_during_single_put_is_retried() -> anyhow::Result<()> {
    let server = S3Server::b2();
    let (proxy, bucket, store) = proxied(&server).await?;
    let key = ObjectKey::new("cut/single-put.enc")?;
    let data = pattern(4 * MIB, 12);
    let mut upload = store.begin(&key).await?;
    put_all(&mut upload, &data).await?; // below the threshold: buffered, nothing sent yet
    proxy.set_delay(Duration::from_millis(5));
    let before = proxy.stats().bytes_forwarded;
    let finishing = tokio::spawn(upload.finish(Sha256Digest::of(&data)));
    proxy
        .wait_until(|s| s.bytes_forwarded >= before + MIB as u64)
        .await;
    proxy.cut_all();
    proxy.set_delay(Duration::ZERO);
    let stored = finishing.await??;
    assert!(proxy.stats().cut >= 1);
    verify_copy(&store, &stored).await?;
    assert_eq!(
        bucket.keys().await,
        ["cut/single-put.enc", "cut/single-put.enc.sha256"]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_completion_response_is_recognised_as_success() -> anyhow::Result<()> {
    let server = S3Server::r2();
    let (proxy, bucket, store) = proxied(&server).await?;
    let key = ObjectKey::new("lost/complete.enc")?;
    let data = pattern(10 * MIB, 13); // two full 5 MiB parts, uploaded while `put` runs
    let mut upload = store.begin(&key).await?;
    put_all(&mut upload, &data).await?;
    // Once both part bodies have passed, hold every later packet for a while: the completion
    // reaches the server, but its answer waits in the proxy.
    proxy
        .wait_until(|s| s.bytes_forwarded >= data.len() as u64)
        .await;
    proxy.set_delay(Duration::from_millis(400));
    let finishing = tokio::spawn(upload.finish(Sha256Digest::of(&data)));
    let path = ObjectPath::from(key.as_str());
    while bucket.store().head(&path).await.is_err() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The object exists on the server; the client has not heard so yet. Lose the answer.
    proxy.set_delay(Duration::ZERO);
    proxy.cut_all();
    let stored = finishing.await??;
    assert!(proxy.stats().cut >= 1);
    assert_eq!(stored.size, data.len() as u64);
    verify_copy(&store, &stored).await?;
    assert!(
        store.read_sidecar(&key).await?.is_some(),
        "sidecar written after recovery"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_give_a_transient_error_and_leave_nothing_visible() -> anyhow::Result<()>
{
    let server = S3Server::b2();
    let (proxy, bucket, store) = proxied(&server).await?;
    // Every connection dies after 1 MiB: no 5 MiB part and no 3 MiB PUT can ever get through.
    let big = ObjectKey::new("doomed/multipart.enc")?;
    let mut upload = store.begin(&big).await?;
    proxy.cut_after_bytes(Some(MIB as u64));
    let data = pattern(12 * MIB, 14);
    let result = match put_all(&mut upload, &data).await {
        Ok(()) => upload.finish(Sha256Digest::of(&data)).await.map(|_| ()),
        Err(e) => {
            upload.abort().await.ok();
            Err(e)
        }
    };
    let err = result.expect_err("no part can get through");
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(err.store().as_str(), "b2");

    let small = ObjectKey::new("doomed/single.enc")?;
    let err = store
        .put_small(&small, Bytes::from(pattern(3 * MIB, 15)))
        .await
        .expect_err("no PUT can get through");
    assert!(err.is_transient(), "{err:?}");

    proxy.cut_after_bytes(None);
    assert!(
        bucket.keys().await.is_empty(),
        "nothing may be visible: {:?}",
        bucket.keys().await
    );
    assert!(store.head(&big).await?.is_none());
    assert!(store.head(&small).await?.is_none());
    assert!(proxy.stats().cut >= 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_is_a_transient_error_naming_the_store() -> anyhow::Result<()> {
    let server = S3Server::r2();
    let (proxy, _bucket, store) = proxied(&server).await?;
    proxy.set_refuse(true);
    let key = ObjectKey::new("down/obj.enc")?;
    let err = store.begin(&key).await.expect_err("server is down");
    assert!(err.is_transient(), "{err:?}");
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert_eq!(err.store().as_str(), "r2");
    assert!(err.to_string().contains("store r2"), "{err}");
    assert!(
        store
            .put_small(&key, Bytes::from_static(b"x"))
            .await
            .is_err_and(|e| e.is_transient())
    );
    assert!(proxy.stats().refused >= 1);

    // Nothing listening at all: connection refused, same classification.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?
    };
    let (_b, nowhere) = store_on(&server, &server.via(closed), "").await;
    let err = nowhere.head(&key).await.expect_err("nothing listens there");
    assert!(
        err.is_transient() && err.store().as_str() == "r2",
        "{err:?}"
    );

    // Back up: the same store works again.
    proxy.set_refuse(false);
    store.put_small(&key, Bytes::from_static(b"x")).await?;
    assert_eq!(read_all(&store, &key).await, b"x");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_single_put_response_is_recognised_as_ours() -> anyhow::Result<()> {
    let server = S3Server::b2();
    let (proxy, bucket, store) = proxied(&server).await?;
    let key = ObjectKey::new("lost/report.json")?;
    let data = Bytes::from(pattern(8 * 1024, 16));
    // Hold every packet: the PUT reaches the server, its answer waits in the proxy.
    proxy.set_delay(Duration::from_millis(400));
    let writer = store.clone();
    let (k, d) = (key.clone(), data.clone());
    let putting = tokio::spawn(async move { writer.put_small(&k, d).await });
    let path = ObjectPath::from(key.as_str());
    while bucket.store().head(&path).await.is_err() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    proxy.set_delay(Duration::ZERO);
    proxy.cut_all();
    // The retry meets If-None-Match (412); size and x-amz-meta-sha256 show the object is ours.
    let stored = putting.await??;
    assert!(proxy.stats().cut >= 1);
    assert_eq!(stored.sha256, Sha256Digest::of(&data));
    verify_copy(&store, &stored).await?;
    assert_eq!(
        bucket.keys().await,
        ["lost/report.json", "lost/report.json.sha256"]
    );
    Ok(())
}
