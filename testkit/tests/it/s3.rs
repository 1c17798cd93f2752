//! The two S3 test servers: bucket per test, object helpers, corruption, distinct credentials.

use std::net::SocketAddr;

use celeriac_testkit::proxy::FaultProxy;
use celeriac_testkit::s3::{S3Server, TestBucket};
use object_store::{ObjectStoreExt, PutPayload};

fn socket_addr(server: &S3Server) -> SocketAddr {
    let host = server
        .endpoint()
        .trim_start_matches("http://")
        .trim_end_matches('/');
    host.parse()
        .expect("test S3 endpoints are http://<ip>:<port>")
}

#[tokio::test]
async fn each_server_creates_buckets_and_round_trips_objects() {
    for server in [S3Server::r2(), S3Server::b2()] {
        let bucket = TestBucket::create(&server).await;
        // `ct-` and 16 hex digits: short, so s3s-fs's metadata file names stay under 255 bytes.
        assert!(
            bucket.name().starts_with("ct-") && bucket.name().len() == 19,
            "{}",
            bucket.name()
        );
        assert!(bucket.keys().await.is_empty(), "a new bucket is empty");

        bucket.put("dir/one.bin", &b"first object"[..]).await;
        bucket.put("two.bin", vec![0_u8; 1000]).await;
        assert_eq!(
            bucket.get("dir/one.bin").await.as_deref(),
            Some(&b"first object"[..])
        );
        assert_eq!(bucket.get("missing").await, None);
        assert_eq!(bucket.keys().await, ["dir/one.bin", "two.bin"]);
        let sizes: Vec<u64> = bucket.list().await.iter().map(|m| m.size).collect();
        assert_eq!(sizes, [12, 1000]);

        bucket.delete("two.bin").await;
        assert_eq!(bucket.keys().await, ["dir/one.bin"], "{}", server.label());
    }
}

#[tokio::test]
async fn buckets_are_isolated_per_test() {
    let server = S3Server::r2();
    let first = TestBucket::create(&server).await;
    let second = TestBucket::create(&server).await;
    assert_ne!(first.name(), second.name());
    first.put("only-in-first", &b"x"[..]).await;
    assert!(second.keys().await.is_empty());
}

#[tokio::test]
async fn the_servers_accept_only_their_own_credentials() {
    let r2 = S3Server::r2();
    let b2 = S3Server::b2();
    assert_ne!(r2.access_key(), b2.access_key());
    assert_ne!(r2.secret_key(), b2.secret_key());
    let bucket = TestBucket::create(&r2).await;

    let wrong = b2.via(socket_addr(&r2)).object_store(bucket.name());
    let refused = wrong.put(&"k".into(), PutPayload::from_static(b"v")).await;
    let err = refused.expect_err("R2 must refuse B2's credentials");
    assert!(
        matches!(err, object_store::Error::PermissionDenied { .. }),
        "expected an auth refusal, got {err}"
    );

    let right = r2.object_store(bucket.name());
    right
        .put(&"k".into(), PutPayload::from_static(b"v"))
        .await
        .expect("R2 accepts its own credentials");
}

#[tokio::test]
async fn corrupt_flips_one_byte_through_the_api() {
    let bucket = TestBucket::create(&S3Server::b2()).await;
    bucket.put("artifact", &b"abcdef"[..]).await;
    bucket.corrupt("artifact", 2).await;
    let stored = bucket.get("artifact").await.expect("still there");
    assert_eq!(stored.as_ref(), [b'a', b'b', b'c' ^ 0xFF, b'd', b'e', b'f']);
}

#[tokio::test]
async fn corrupt_on_disk_changes_what_the_server_serves() {
    let bucket = TestBucket::create(&S3Server::r2()).await;
    bucket.put("nested/artifact", &b"0123456789"[..]).await;
    assert!(bucket.stored_path("nested/artifact").is_file());
    bucket.corrupt_on_disk("nested/artifact", 9);
    let stored = bucket.get("nested/artifact").await.expect("still listed");
    assert_eq!(stored.as_ref(), b"012345678\xC6");
}

#[tokio::test]
async fn a_server_can_be_reached_through_the_fault_proxy() {
    let r2 = S3Server::r2();
    let proxy = FaultProxy::start(socket_addr(&r2)).await;
    let bucket = TestBucket::create(&r2.via(proxy.addr())).await;
    bucket.put("through-proxy", &b"ok"[..]).await;
    assert_eq!(
        bucket.get("through-proxy").await.as_deref(),
        Some(&b"ok"[..])
    );
    assert!(proxy.stats().accepted >= 1);
    assert!(proxy.stats().bytes_forwarded > 0);
}

#[tokio::test]
#[should_panic(expected = "required test service unavailable: S3 test server R2 (s3s-fs)")]
async fn an_unreachable_server_fails_the_test_naming_it() {
    let r2 = S3Server::r2();
    let proxy = FaultProxy::start(socket_addr(&r2)).await;
    proxy.set_refuse(true);
    TestBucket::create(&r2.via(proxy.addr())).await;
}
