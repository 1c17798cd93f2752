//! The S3 store's request layer: object paths under the store prefix, create-only PUTs with
//! this crate's own retries, and the lost-response checks that tell "our earlier attempt
//! landed" from "someone else's object".

use std::future::Future;

use bytes::Bytes;
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, GetOptions, ObjectMeta, ObjectStore as _, ObjectStoreExt as _, PutMode,
    PutOptions, PutPayload,
};

use super::classify::classify;
use super::options::Limits;
use crate::digest::{Sha256Digest, parse_sidecar, render_sidecar};
use crate::error::{Operation, StoreError};
use crate::id::StoreId;
use crate::key::ObjectKey;
use crate::store::StoredObject;

/// User metadata key of the object's SHA-256 (sent as `x-amz-meta-sha256`).
pub(super) const SHA256_METADATA: &str = "sha256";

/// What a create-only PUT found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PutOutcome {
    /// The object was created by this PUT.
    Created,
    /// The key was taken. `after_retry` says an earlier attempt of ours failed in transit, so
    /// the object may be our own whose response was lost.
    Taken { after_retry: bool },
}

/// Shared by the store and its uploads.
#[derive(Debug)]
pub(super) struct Client {
    pub(super) id: StoreId,
    pub(super) s3: AmazonS3,
    pub(super) limits: Limits,
}

impl Client {
    pub(super) fn path(&self, key: &ObjectKey) -> Path {
        self.join(key.as_str())
    }

    pub(super) fn sidecar_path(&self, key: &ObjectKey) -> Path {
        self.join(&key.sidecar_name())
    }

    /// `<prefix>/<name>`; keys and the prefix are validated, so each segment is already a
    /// legal object_store path part and `from_iter` changes nothing.
    pub(super) fn join(&self, name: &str) -> Path {
        let prefix = self.limits.prefix.as_str();
        let parts = prefix
            .split('/')
            .filter(|s| !s.is_empty())
            .chain(name.split('/'));
        parts.collect()
    }

    pub(super) fn err(&self, op: Operation, key: &ObjectKey, e: object_store::Error) -> StoreError {
        classify(&self.id, op, Some(key), e)
    }

    /// Runs `f` until it succeeds, fails permanently, or the attempts run out.
    pub(super) async fn retrying<T, F, Fut>(&self, mut f: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut attempt = 1;
        loop {
            match f().await {
                Err(e) if e.is_transient() && attempt < self.limits.retry.attempts => {
                    tracing::info!(store = %self.id, attempt, error = %e, "retrying after a transient error");
                    tokio::time::sleep(self.limits.retry.backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// PUT with `If-None-Match: *`, retried on transient errors (object_store does not retry
    /// an interrupted non-idempotent PUT itself).
    pub(super) async fn put_create(
        &self,
        op: Operation,
        key: &ObjectKey,
        path: &Path,
        payload: PutPayload,
        attributes: Attributes,
    ) -> Result<PutOutcome, StoreError> {
        let mut failed_before = false;
        let outcome = self
            .retrying(|| {
                let opts = PutOptions {
                    mode: PutMode::Create,
                    attributes: attributes.clone(),
                    ..PutOptions::default()
                };
                let payload = payload.clone();
                let first = !std::mem::replace(&mut failed_before, true);
                async move {
                    match self.s3.put_opts(path, payload, opts).await {
                        Ok(_) => Ok(PutOutcome::Created),
                        Err(e) => match self.err(op, key, e) {
                            e if e.is_already_exists() => Ok(PutOutcome::Taken {
                                after_retry: !first,
                            }),
                            e => Err(e),
                        },
                    }
                }
            })
            .await?;
        Ok(outcome)
    }

    /// Size, modification time and `x-amz-meta-sha256` of an object, or `None`.
    pub(super) async fn head_object(
        &self,
        op: Operation,
        key: &ObjectKey,
    ) -> Result<Option<(ObjectMeta, Option<Sha256Digest>)>, StoreError> {
        let path = self.path(key);
        let opts = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        match self.s3.get_opts(&path, opts).await {
            Ok(r) => {
                let digest = r
                    .attributes
                    .get(&Attribute::Metadata(SHA256_METADATA.into()))
                    .and_then(|v| v.as_ref().parse().ok());
                Ok(Some((r.meta, digest)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(op, key, e)),
        }
    }

    /// The whole content of a small object, or `None`.
    pub(super) async fn read_small(
        &self,
        op: Operation,
        key: &ObjectKey,
        path: &Path,
    ) -> Result<Option<Bytes>, StoreError> {
        let got = async { self.s3.get(path).await?.bytes().await };
        match got.await {
            Ok(b) => Ok(Some(b)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(op, key, e)),
        }
    }

    /// The digest in the object's sidecar, or `None` without one.
    pub(super) async fn sidecar_digest(
        &self,
        op: Operation,
        key: &ObjectKey,
    ) -> Result<Option<Sha256Digest>, StoreError> {
        let text = self.read_small(op, key, &self.sidecar_path(key)).await?;
        text.map(|t| {
            parse_sidecar(&t, key.basename()).map_err(|reason| StoreError::BadSidecar {
                store: self.id.clone(),
                key: key.clone(),
                reason,
            })
        })
        .transpose()
    }

    /// Writes the `sha256sum` sidecar create-only. An existing identical sidecar (our own
    /// lost response, or a retried run) is accepted; a different one is a conflict.
    pub(super) async fn write_sidecar(
        &self,
        key: &ObjectKey,
        digest: &Sha256Digest,
    ) -> Result<(), StoreError> {
        let text = Bytes::from(render_sidecar(digest, key.basename()));
        let path = self.sidecar_path(key);
        let outcome = self
            .put_create(
                Operation::Sidecar,
                key,
                &path,
                text.clone().into(),
                Attributes::new(),
            )
            .await?;
        if outcome == PutOutcome::Created {
            return Ok(());
        }
        match self.read_small(Operation::Sidecar, key, &path).await? {
            Some(existing) if existing == text => Ok(()),
            _ => Err(StoreError::SidecarConflict {
                store: self.id.clone(),
                key: key.clone(),
            }),
        }
    }

    /// Publishes a whole object in one create-only PUT with `x-amz-meta-sha256`, then its
    /// sidecar.
    pub(super) async fn publish_single(
        &self,
        op: Operation,
        key: &ObjectKey,
        payload: PutPayload,
        sha256: Sha256Digest,
    ) -> Result<StoredObject, StoreError> {
        let size = payload.content_length() as u64;
        let mut attributes = Attributes::new();
        attributes.insert(
            Attribute::Metadata(SHA256_METADATA.into()),
            sha256.to_hex().into(),
        );
        let outcome = self
            .put_create(op, key, &self.path(key), payload, attributes)
            .await?;
        let ours = match outcome {
            PutOutcome::Created => true,
            // A lost response: the object is ours if it has our size and digest.
            PutOutcome::Taken { after_retry: true } => matches!(
                self.head_object(op, key).await?,
                Some((meta, Some(d))) if meta.size == size && d == sha256
            ),
            PutOutcome::Taken { after_retry: false } => false,
        };
        if !ours {
            return Err(StoreError::AlreadyExists {
                store: self.id.clone(),
                key: key.clone(),
            });
        }
        self.write_sidecar(key, &sha256).await?;
        Ok(StoredObject {
            key: key.clone(),
            size,
            sha256,
        })
    }
}
