//! The S3 store against both s3s-fs test servers (R2 and B2 stand-ins): conformance, the
//! on-bucket layout, the single-PUT/multipart switch, credentials and config.

use anyhow::Context as _;
use bytes::Bytes;
use celeriac_store::conformance::{self, pattern, upload_chunks};
use celeriac_store::{
    ObjectKey, RetryOptions, S3Credentials, S3Options, S3Store, SecretRef, SecretString,
    Sha256Digest, Store, StoreError, StoreId, UploadOptions, verify_copy,
};
use celeriac_testkit::s3::{S3Server, TestBucket};
use object_store::{Attribute, GetOptions, ObjectStore as _, path::Path as ObjectPath};

/// Test-sized limits: 5 MiB single-PUT threshold and parts (S3's minimum part), fast retries.
pub(crate) fn options(server: &S3Server, bucket: &str, prefix: &str) -> S3Options {
    let mut o = S3Options::new(
        server.endpoint(),
        server.region(),
        bucket,
        SecretRef::Env(format!("CELERIAC_TEST_S3_{}_ACCESS_KEY", server.label())),
        SecretRef::Env(format!("CELERIAC_TEST_S3_{}_SECRET_KEY", server.label())),
    );
    prefix.clone_into(&mut o.prefix);
    o.allow_http = true;
    o.upload = UploadOptions {
        single_put_max_mib: 5,
        part_size_mib: 5,
        parts_in_flight: 2,
    };
    o.retry = RetryOptions::fast();
    o
}

pub(crate) fn credentials(server: &S3Server) -> S3Credentials {
    S3Credentials::new(
        SecretString::new(server.access_key()),
        SecretString::new(server.secret_key()),
    )
}

/// A store on a fresh bucket of `server`, through `endpoint_server` (the server itself or the
/// same server via a fault proxy).
pub(crate) async fn store_on(
    server: &S3Server,
    endpoint_server: &S3Server,
    prefix: &str,
) -> (TestBucket, S3Store) {
    let bucket = TestBucket::create(server).await;
    let id = StoreId::new(server.label().to_ascii_lowercase()).expect("valid id");
    let options = options(endpoint_server, bucket.name(), prefix);
    let store = S3Store::new(id, &options, &credentials(server)).expect("valid options");
    (bucket, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r2_store_passes_conformance() {
    let server = S3Server::r2();
    let (_bucket, store) = store_on(&server, &server, "celeriac/nightly").await;
    conformance::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b2_store_passes_conformance() {
    let server = S3Server::b2();
    let (_bucket, store) = store_on(&server, &server, "").await;
    conformance::run_all(&store).await;
}

async fn metadata_sha256(bucket: &TestBucket, key: &str) -> anyhow::Result<Option<String>> {
    let opts = GetOptions {
        head: true,
        ..GetOptions::default()
    };
    let got = bucket
        .store()
        .get_opts(&ObjectPath::from(key), opts)
        .await?;
    Ok(got
        .attributes
        .get(&Attribute::Metadata("sha256".into()))
        .map(|v| v.as_ref().to_owned()))
}

#[tokio::test]
async fn single_put_up_to_threshold_then_multipart_with_sidecar_always() -> anyhow::Result<()> {
    let server = S3Server::r2();
    let (bucket, store) = store_on(&server, &server, "pfx").await;
    let at = ObjectKey::new("at-threshold.enc")?;
    let over = ObjectKey::new("over-threshold.enc")?;
    let at_data = pattern(5 * 1024 * 1024, 1);
    let over_data = pattern(5 * 1024 * 1024 + 1, 2);
    let at_stored = upload_chunks(&store, &at, &at_data, 1 << 20).await;
    let over_stored = upload_chunks(&store, &over, &over_data, 1 << 20).await;

    // Exactly at the threshold: one PUT carrying x-amz-meta-sha256.
    let meta = metadata_sha256(&bucket, "pfx/at-threshold.enc").await?;
    assert_eq!(meta, Some(at_stored.sha256.to_hex()));
    // One byte more: multipart, so the digest lives in the sidecar only.
    assert_eq!(
        metadata_sha256(&bucket, "pfx/over-threshold.enc").await?,
        None
    );
    let head = store
        .head(&over)
        .await?
        .context("multipart object visible")?;
    assert_eq!(head.sha256, Some(over_stored.sha256));
    assert_eq!(head.size, over_data.len() as u64);

    // The bucket holds exactly the objects and their sidecars, under the prefix.
    let keys = bucket.keys().await;
    assert_eq!(
        keys,
        [
            "pfx/at-threshold.enc",
            "pfx/at-threshold.enc.sha256",
            "pfx/over-threshold.enc",
            "pfx/over-threshold.enc.sha256",
        ]
    );
    let sidecar = bucket
        .get("pfx/over-threshold.enc.sha256")
        .await
        .context("sidecar")?;
    assert_eq!(
        sidecar,
        format!("{}  over-threshold.enc\n", over_stored.sha256)
    );
    assert_eq!(
        bucket.get("pfx/over-threshold.enc").await.as_deref(),
        Some(&over_data[..])
    );
    Ok(())
}

#[tokio::test]
async fn wrong_secret_is_a_permanent_denial_naming_the_store() -> anyhow::Result<()> {
    let server = S3Server::b2();
    let bucket = TestBucket::create(&server).await;
    let options = options(&server, bucket.name(), "");
    let wrong = S3Credentials::new(
        SecretString::new(server.access_key()),
        SecretString::new("not-the-secret"),
    );
    let store = S3Store::new(StoreId::new("b2")?, &options, &wrong)?;
    let err = store
        .put_small(&ObjectKey::new("x")?, Bytes::from_static(b"x"))
        .await
        .expect_err("SigV4 with a wrong secret must be refused");
    assert!(matches!(err, StoreError::Denied { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(err.store().as_str(), "b2");
    assert!(
        !format!("{err:?} {err}").contains("not-the-secret"),
        "secret leaked: {err:?}"
    );
    assert!(
        !format!("{store:?}").contains(server.secret_key()),
        "secret in Debug"
    );
    Ok(())
}

#[tokio::test]
async fn api_corrupted_copy_is_caught_by_read_back() -> anyhow::Result<()> {
    let server = S3Server::r2();
    let (bucket, store) = store_on(&server, &server, "").await;
    let key = ObjectKey::new("2026/11/27/run.tar.gz.enc")?;
    let stored = upload_chunks(&store, &key, &pattern(2 * 1024 * 1024, 4), 256 * 1024).await;
    verify_copy(&store, &stored).await?;
    bucket.corrupt(key.as_str(), 777_777).await;
    match verify_copy(&store, &stored).await {
        Err(e @ StoreError::ChecksumMismatch { .. }) => {
            assert!(!e.is_transient());
            assert_eq!(e.store().as_str(), "r2");
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
    // The sidecar still records what was uploaded, so head tells a repair tool the truth.
    let head = store.head(&key).await?.context("object still there")?;
    assert_eq!(head.sha256, Some(stored.sha256));
    Ok(())
}

#[tokio::test]
async fn store_built_from_toml_with_file_secrets_works() -> anyhow::Result<()> {
    let server = S3Server::b2();
    let bucket = TestBucket::create(&server).await;
    let dir = tempfile::tempdir()?;
    let (ak, sk) = (dir.path().join("ak"), dir.path().join("sk"));
    std::fs::write(&ak, format!("{}\n", server.access_key()))?;
    std::fs::write(&sk, format!("{}\n", server.secret_key()))?;
    let text = format!(
        r#"
        endpoint = "{endpoint}"
        region = "{region}"
        bucket = "{bucket}"
        prefix = "from-config"
        allow-http = true
        access-key-id = {{ file = "{ak}" }}
        secret-access-key = {{ file = "{sk}" }}
        retry = {{ attempts = 2, max-retries = 1 }}
        "#,
        endpoint = server.endpoint(),
        region = server.region(),
        bucket = bucket.name(),
        ak = ak.display(),
        sk = sk.display(),
    );
    let options: S3Options = toml::from_str(&text)?;
    // The binary resolves the references; the test reads the two files itself.
    let read = |path: &std::path::Path| -> std::io::Result<SecretString> {
        Ok(SecretString::new(std::fs::read_to_string(path)?.trim()))
    };
    let credentials = S3Credentials::new(read(&ak)?, read(&sk)?);
    let store = S3Store::new(StoreId::new("b2")?, &options, &credentials)?;
    let key = ObjectKey::new("report.json")?;
    let stored = store.put_small(&key, Bytes::from_static(b"{}")).await?;
    assert_eq!(stored.sha256, Sha256Digest::of(b"{}"));
    assert_eq!(
        bucket.keys().await,
        ["from-config/report.json", "from-config/report.json.sha256"]
    );
    Ok(())
}
