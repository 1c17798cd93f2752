//! The two loopback S3 test servers (s3s-fs standing in for Cloudflare R2 and Backblaze B2) and a
//! fresh bucket per test, with helpers to read, list and corrupt what a test stored.

mod sigv4;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, RetryConfig};
use uuid::Uuid;

use crate::service::{env_or, unavailable};
use sigv4::{RequestToSign, Signer, encode_path};

/// One S3-compatible test server: where it listens and the credentials it accepts.
///
/// Values come from `CELERIAC_TEST_S3_<R2|B2>_{ENDPOINT,REGION,ACCESS_KEY,SECRET_KEY,DATA_DIR}`,
/// which `scripts/test` exports; unset variables fall back to the script's defaults. The two
/// servers accept different credentials, so a client mixing them up fails.
#[derive(Clone)]
pub struct S3Server {
    /// `R2` or `B2`: names the server in messages.
    label: &'static str,
    endpoint: String,
    region: String,
    access_key: String,
    secret_key: String,
    /// The s3s-fs storage root, when known; objects live at `<data_dir>/<bucket>/<key>`.
    data_dir: Option<PathBuf>,
}

impl S3Server {
    /// The server standing in for Cloudflare R2 (default `http://127.0.0.1:9101`, region `auto`).
    ///
    /// # Panics
    /// If one of its env vars is set to invalid UTF-8.
    pub fn r2() -> S3Server {
        S3Server::from_env("R2", "9101", "auto")
    }

    /// The server standing in for Backblaze B2 (default `http://127.0.0.1:9102`,
    /// region `us-west-004`).
    ///
    /// # Panics
    /// If one of its env vars is set to invalid UTF-8.
    pub fn b2() -> S3Server {
        S3Server::from_env("B2", "9102", "us-west-004")
    }

    fn from_env(label: &'static str, port: &str, region: &str) -> S3Server {
        let var = |field: &str| format!("CELERIAC_TEST_S3_{label}_{field}");
        let lower = label.to_ascii_lowercase();
        let data_dir = std::env::var_os(var("DATA_DIR")).map(PathBuf::from);
        S3Server {
            label,
            endpoint: env_or(&var("ENDPOINT"), &format!("http://127.0.0.1:{port}")),
            region: env_or(&var("REGION"), region),
            access_key: env_or(&var("ACCESS_KEY"), &format!("celeriac-{lower}-access-key")),
            secret_key: env_or(&var("SECRET_KEY"), &format!("celeriac-{lower}-secret-key")),
            data_dir,
        }
    }

    /// The same server reached through `proxy` (e.g. a [`FaultProxy`](crate::proxy::FaultProxy)
    /// address): only the endpoint changes.
    #[must_use]
    pub fn via(&self, proxy: SocketAddr) -> S3Server {
        S3Server {
            endpoint: format!("http://{proxy}"),
            ..self.clone()
        }
    }

    /// `R2` or `B2`.
    pub fn label(&self) -> &'static str {
        self.label
    }

    /// Base URL, e.g. `http://127.0.0.1:9101` (path-style requests, plain HTTP).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Region to sign with.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Access key id the server accepts.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// Secret key the server accepts (a throwaway test value, but still kept out of `Debug`).
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The s3s-fs storage root (`CELERIAC_TEST_S3_<R2|B2>_DATA_DIR`), if the script exported it.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self.data_dir.as_deref()
    }

    /// `host:port` of the endpoint, as sent in the `Host` header.
    fn host(&self) -> String {
        let without_scheme = self
            .endpoint
            .split_once("://")
            .map_or(self.endpoint.as_str(), |(_, rest)| rest);
        without_scheme
            .split('/')
            .next()
            .unwrap_or(without_scheme)
            .to_owned()
    }

    fn describe(&self) -> String {
        format!("S3 test server {} (s3s-fs)", self.label)
    }

    /// An `object_store` client for `bucket` on this server: path-style, plain HTTP, few retries.
    ///
    /// # Panics
    /// If the endpoint is not a valid URL.
    pub fn object_store(&self, bucket: &str) -> AmazonS3 {
        let retry = RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(10),
            ..RetryConfig::default()
        };
        AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_region(&self.region)
            .with_bucket_name(bucket)
            .with_access_key_id(&self.access_key)
            .with_secret_access_key(&self.secret_key)
            .with_retry(retry)
            .build()
            .unwrap_or_else(|e| panic!("{}: building an S3 client: {e}", self.describe()))
    }
}

impl fmt::Debug for S3Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Server")
            .field("label", &self.label)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

/// A bucket of its own for one test, created with a real (SigV4-signed) CreateBucket request.
///
/// Buckets are not deleted afterwards: `scripts/test` gives each run fresh, empty servers.
pub struct TestBucket {
    server: S3Server,
    name: String,
    store: AmazonS3,
}

impl TestBucket {
    /// Creates `ct-<16 hex digits>` on `server`. The name is short on purpose: s3s-fs keeps an
    /// object's metadata in a file named after the base64 of bucket and key (plus an upload id
    /// during a multipart upload), and that one file name must fit the filesystem's 255 bytes,
    /// so every byte of bucket name is a byte less for keys.
    ///
    /// # Panics
    /// If the server cannot be reached (naming it and how to start it) or refuses the request.
    pub async fn create(server: &S3Server) -> TestBucket {
        let name = format!("ct-{}", &Uuid::new_v4().simple().to_string()[..16]);
        let path = encode_path(&format!("/{name}"));
        let host = server.host();
        let signer = Signer {
            access_key: &server.access_key,
            secret_key: &server.secret_key,
            region: &server.region,
        };
        let request = RequestToSign {
            method: "PUT",
            host: &host,
            path: &path,
            query: &[],
            headers: &[],
            payload: b"",
        };
        let url = format!("{}{path}", server.endpoint.trim_end_matches('/'));
        let mut builder = reqwest::Client::new().put(&url).header("host", &host);
        for (header, value) in signer.sign(&request, chrono::Utc::now()) {
            builder = builder.header(header, value);
        }
        let response = match builder.send().await {
            Ok(response) => response,
            Err(e) => unavailable(&server.describe(), &server.endpoint, &e),
        };
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            panic!(
                "{}: CreateBucket {name} failed with {status}: {body}",
                server.describe()
            );
        }
        TestBucket {
            store: server.object_store(&name),
            server: server.clone(),
            name,
        }
    }

    /// The bucket name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server the bucket lives on.
    pub fn server(&self) -> &S3Server {
        &self.server
    }

    /// An `object_store` client bound to this bucket.
    pub fn store(&self) -> &AmazonS3 {
        &self.store
    }

    /// Stores `bytes` at `key` (overwriting).
    ///
    /// # Panics
    /// If the request fails.
    pub async fn put(&self, key: &str, bytes: impl Into<Bytes>) {
        let payload = bytes.into();
        self.store
            .put(&ObjectPath::from(key), payload.into())
            .await
            .unwrap_or_else(|e| self.fail("put", key, &e));
    }

    /// The object's bytes, or `None` when there is no such key.
    ///
    /// # Panics
    /// If the request fails for another reason.
    pub async fn get(&self, key: &str) -> Option<Bytes> {
        let result = match self.store.get(&ObjectPath::from(key)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return None,
            Err(e) => self.fail("get", key, &e),
        };
        Some(
            result
                .bytes()
                .await
                .unwrap_or_else(|e| self.fail("get", key, &e)),
        )
    }

    /// Every object in the bucket, sorted by key.
    ///
    /// # Panics
    /// If the request fails.
    pub async fn list(&self) -> Vec<ObjectMeta> {
        let mut objects: Vec<ObjectMeta> = self
            .store
            .list(None)
            .try_collect()
            .await
            .unwrap_or_else(|e| self.fail("list", "", &e));
        objects.sort_by(|a, b| a.location.cmp(&b.location));
        objects
    }

    /// The keys of every object in the bucket, sorted.
    ///
    /// # Panics
    /// If the request fails.
    pub async fn keys(&self) -> Vec<String> {
        self.list()
            .await
            .into_iter()
            .map(|meta| meta.location.to_string())
            .collect()
    }

    /// Deletes `key` (no error if it is absent).
    ///
    /// # Panics
    /// If the request fails.
    pub async fn delete(&self, key: &str) {
        self.store
            .delete(&ObjectPath::from(key))
            .await
            .unwrap_or_else(|e| self.fail("delete", key, &e));
    }

    /// Flips every bit of the byte at `offset` of `key`, rewriting the object through the S3 API
    /// (the server's own checksums then describe the corrupted bytes).
    ///
    /// # Panics
    /// If the object does not exist, `offset` is past its end, or a request fails.
    pub async fn corrupt(&self, key: &str, offset: usize) {
        let Some(stored) = self.get(key).await else {
            panic!("corrupt: no object {key} in bucket {}", self.name);
        };
        let mut bytes = stored.to_vec();
        flip(&mut bytes, offset, key);
        self.put(key, bytes).await;
    }

    /// Where s3s-fs keeps `key` on disk: `<data_dir>/<bucket>/<key>`.
    ///
    /// # Panics
    /// If the server's data dir is unknown (`CELERIAC_TEST_S3_<R2|B2>_DATA_DIR` unset).
    pub fn stored_path(&self, key: &str) -> PathBuf {
        let Some(root) = self.server.data_dir() else {
            panic!(
                "{}: CELERIAC_TEST_S3_{}_DATA_DIR is not set; {}",
                self.server.describe(),
                self.server.label,
                crate::service::START_HINT
            );
        };
        root.join(&self.name).join(key)
    }

    /// Flips every bit of the byte at `offset` in the server's stored file, behind its back:
    /// the server keeps serving the bytes with its old metadata, like silent bit rot.
    ///
    /// # Panics
    /// If the data dir is unknown, the file is missing, or `offset` is past its end.
    pub fn corrupt_on_disk(&self, key: &str, offset: usize) {
        let path = self.stored_path(key);
        let mut bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("corrupt_on_disk: reading {}: {e}", path.display()));
        flip(&mut bytes, offset, key);
        std::fs::write(&path, bytes)
            .unwrap_or_else(|e| panic!("corrupt_on_disk: writing {}: {e}", path.display()));
    }

    #[track_caller]
    fn fail(&self, operation: &str, key: &str, error: &object_store::Error) -> ! {
        panic!(
            "{}: {operation} {key:?} in bucket {}: {error}",
            self.server.describe(),
            self.name
        )
    }
}

impl fmt::Debug for TestBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestBucket")
            .field("server", &self.server)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn flip(bytes: &mut [u8], offset: usize, key: &str) {
    let len = bytes.len();
    let Some(byte) = bytes.get_mut(offset) else {
        panic!("corrupt: offset {offset} is past the end of {key} ({len} bytes)");
    };
    *byte ^= 0xFF;
}
