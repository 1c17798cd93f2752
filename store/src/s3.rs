//! [`S3Store`]: an S3-compatible service (Cloudflare R2, Backblaze B2, AWS S3) through
//! `object_store`, create-only, with our own SHA-256 recorded.
//!
//! Provider quirks this module respects (see backup-security.md §3.7):
//! - no ETag is ever used as a content hash (R2's multipart ETags are random);
//! - no `x-amz-checksum-*` header is sent (B2 has rejected them; R2's SHA-256 is composite for
//!   multipart): the digest travels as `x-amz-meta-sha256` on single PUTs and, always, as a
//!   `<key>.sha256` sidecar object;
//! - `Content-Encoding` is never set (R2 would transparently gunzip a `.tar.gz`);
//! - create-only via `If-None-Match: *` on PUT (R2, B2 and AWS S3 support it).
//!
//! Only this module (and its children) imports `object_store`.

mod classify;
mod client;
mod options;
mod upload;

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::aws::AmazonS3Builder;
use object_store::{
    BackoffConfig, ClientOptions, ObjectMeta, ObjectStore as _, ObjectStoreExt as _, RetryConfig,
};

use crate::digest::Sha256Digest;
use crate::error::{Operation, StoreError};
use crate::id::{StoreId, StoreKind};
use crate::key::{ObjectKey, ObjectPrefix, SIDECAR_SUFFIX};
use crate::store::{ByteStream, ObjectInfo, SMALL_OBJECT_LIMIT, Store, StoredObject, Upload};
use client::Client;
pub use options::{
    Addressing, RetryOptions, S3ConfigError, S3Credentials, S3Options, TimeoutOptions,
    UploadOptions,
};

/// Sidecars fetched at once while listing.
const LIST_SIDECAR_CONCURRENCY: usize = 8;

/// A bucket (and prefix) on an S3-compatible service.
#[derive(Clone)]
pub struct S3Store {
    client: Arc<Client>,
    endpoint: String,
    bucket: String,
}

impl S3Store {
    /// Builds the client. No request is made until the first operation.
    pub fn new(
        id: StoreId,
        options: &S3Options,
        credentials: &S3Credentials,
    ) -> Result<Self, S3ConfigError> {
        let limits = options.validate()?;
        let r = &options.retry;
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(r.initial_backoff_ms),
                max_backoff: Duration::from_millis(r.max_backoff_ms),
                base: 2.0,
            },
            max_retries: r.max_retries,
            retry_timeout: Duration::from_secs(r.retry_timeout_secs),
        };
        let client_options = ClientOptions::new()
            .with_allow_http(options.allow_http)
            .with_connect_timeout(Duration::from_secs(options.timeouts.connect_secs))
            .with_timeout(Duration::from_secs(options.timeouts.request_secs));
        let s3 = AmazonS3Builder::new()
            .with_endpoint(options.endpoint_url())
            .with_region(&options.region)
            .with_bucket_name(&options.bucket)
            .with_access_key_id(credentials.access_key_id.expose_secret())
            .with_secret_access_key(credentials.secret_access_key.expose_secret())
            .with_virtual_hosted_style_request(options.addressing == Addressing::VirtualHosted)
            .with_allow_http(options.allow_http)
            .with_retry(retry)
            .with_client_options(client_options)
            .build()
            .map_err(|e| S3ConfigError::Client(Box::new(e)))?;
        Ok(Self {
            client: Arc::new(Client { id, s3, limits }),
            endpoint: options.endpoint.clone(),
            bucket: options.bucket.clone(),
        })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix inside the bucket.
    pub fn prefix(&self) -> &ObjectPrefix {
        &self.client.limits.prefix
    }

    /// Builds an [`ObjectInfo`] from listing metadata and an optional sidecar digest.
    fn info(key: ObjectKey, meta: &ObjectMeta, sha256: Option<Sha256Digest>) -> ObjectInfo {
        ObjectInfo {
            key,
            size: meta.size,
            sha256,
            last_modified: meta.last_modified,
        }
    }

    /// The object key of a listed location, or `None` for sidecars and foreign names.
    fn key_of(&self, meta: &ObjectMeta) -> Option<ObjectKey> {
        let full = meta.location.as_ref();
        let prefix = self.client.limits.prefix.as_str();
        let rel = if prefix.is_empty() {
            full
        } else {
            full.strip_prefix(prefix)?.strip_prefix('/')?
        };
        ObjectKey::new(rel).ok()
    }
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Deliberately not the object_store client: its builder would print credentials.
        f.debug_struct("S3Store")
            .field("id", &self.client.id)
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.client.limits.prefix)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Store for S3Store {
    fn id(&self) -> &StoreId {
        &self.client.id
    }

    fn kind(&self) -> StoreKind {
        StoreKind::S3
    }

    async fn begin(&self, key: &ObjectKey) -> Result<Upload, StoreError> {
        if self
            .client
            .head_object(Operation::Begin, key)
            .await?
            .is_some()
        {
            return Err(StoreError::AlreadyExists {
                store: self.client.id.clone(),
                key: key.clone(),
            });
        }
        let sink = upload::S3Upload::new(Arc::clone(&self.client), key.clone());
        Ok(Upload::new(
            self.client.id.clone(),
            key.clone(),
            Box::new(sink),
        ))
    }

    async fn put_small(&self, key: &ObjectKey, data: Bytes) -> Result<StoredObject, StoreError> {
        let size = data.len() as u64;
        if size > SMALL_OBJECT_LIMIT {
            return Err(StoreError::TooLarge {
                store: self.client.id.clone(),
                key: key.clone(),
                size,
                limit: SMALL_OBJECT_LIMIT,
            });
        }
        let sha256 = if data.len() > 256 * 1024 {
            let data = data.clone();
            tokio::task::spawn_blocking(move || Sha256Digest::of(&data))
                .await
                .map_err(|e| StoreError::task(&self.client.id, Operation::PutSmall, e))?
        } else {
            Sha256Digest::of(&data)
        };
        self.client
            .publish_single(Operation::PutSmall, key, data.into(), sha256)
            .await
    }

    async fn open(&self, key: &ObjectKey) -> Result<ByteStream, StoreError> {
        let client = Arc::clone(&self.client);
        let got = self.client.s3.get(&self.client.path(key)).await;
        let result = got.map_err(|e| client.err(Operation::Read, key, e))?;
        let key = key.clone();
        let stream = result
            .into_stream()
            .map_err(move |e| client.err(Operation::Read, &key, e));
        Ok(Box::pin(stream))
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError> {
        let Some((meta, digest)) = self.client.head_object(Operation::Head, key).await? else {
            return Ok(None);
        };
        let digest = match digest {
            Some(d) => Some(d),
            None => self.client.sidecar_digest(Operation::Head, key).await?,
        };
        Ok(Some(Self::info(key.clone(), &meta, digest)))
    }

    async fn list(&self, prefix: &ObjectPrefix) -> Result<Vec<ObjectInfo>, StoreError> {
        let client = &self.client;
        let location = (!prefix.is_root()).then(|| client.join(prefix.as_str()));
        let metas: Vec<ObjectMeta> = client
            .s3
            .list(location.as_ref())
            .try_collect()
            .await
            .map_err(|e| crate::s3::classify::classify(&client.id, Operation::List, None, e))?;
        let sidecars: HashSet<String> = metas
            .iter()
            .filter_map(|m| m.location.as_ref().strip_suffix(SIDECAR_SUFFIX))
            .map(str::to_owned)
            .collect();
        let objects: Vec<(ObjectKey, ObjectMeta, bool)> = metas
            .into_iter()
            .filter(|m| !m.location.as_ref().ends_with(SIDECAR_SUFFIX))
            .filter_map(|m| {
                let key = self.key_of(&m)?;
                let has_sidecar = sidecars.contains(m.location.as_ref());
                Some((key, m, has_sidecar))
            })
            .collect();
        let mut out: Vec<ObjectInfo> = futures::stream::iter(objects)
            .map(|(key, meta, has_sidecar)| {
                let client = Arc::clone(client);
                async move {
                    let digest = if has_sidecar {
                        client.sidecar_digest(Operation::List, &key).await?
                    } else {
                        None
                    };
                    Ok::<_, StoreError>(Self::info(key, &meta, digest))
                }
            })
            .buffered(LIST_SIDECAR_CONCURRENCY)
            .try_collect()
            .await?;
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<bool, StoreError> {
        let client = &self.client;
        let object = client.head_object(Operation::Delete, key).await?.is_some();
        let sidecar_path = client.sidecar_path(key);
        let sidecar = client
            .read_small(Operation::Delete, key, &sidecar_path)
            .await?
            .is_some();
        for (present, path) in [(object, client.path(key)), (sidecar, sidecar_path)] {
            if present {
                client
                    .s3
                    .delete(&path)
                    .await
                    .map_err(|e| client.err(Operation::Delete, key, e))?;
            }
        }
        Ok(object || sidecar)
    }

    async fn read_sidecar(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        self.client
            .read_small(Operation::Sidecar, key, &self.client.sidecar_path(key))
            .await
    }
}
