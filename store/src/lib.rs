//! Create-only object stores behind one small trait: where the backup pipeline puts each
//! encrypted artifact, reads it back to verify it, and restores from.
//!
//! This crate knows nothing of encryption, tar or Celery: it moves opaque bytes, refuses to
//! overwrite, and records the caller's own SHA-256 next to every object.
//!
//! # Brief overview
//!
//! - [`Store`]: the object-safe trait (`Arc<dyn Store>`): [`begin`](Store::begin) a streaming
//!   [`Upload`] (`put` with backpressure, `finish(sha256)`, `abort`), `put_small`, `open`
//!   (a [`ByteStream`]), `head`, `list`, `delete`, `read_sidecar`.
//! - [`LocalStore`]: files under a directory, staged, fsynced and hard-linked into place.
//! - [`S3Store`]: S3-compatible services (Cloudflare R2, Backblaze B2, ...) through
//!   `object_store`, configured by [`S3Options`] with credentials in [`S3Credentials`].
//! - `MemoryStore` and the `conformance` suite (feature `test-util`).
//! - [`ObjectKey`] / [`ObjectPrefix`]: validated names; [`StoreId`] / [`StoreKind`].
//! - [`Sha256Digest`], [`StoredObject`], [`ObjectInfo`]; [`read_back`] and [`verify_copy`]
//!   to check a copy.
//! - [`StoreError`] with [`StoreError::is_transient`].
//!
//! ```text
//!  caller (backup pipeline)                       store
//!  ───────────────────────                        ─────
//!  begin(key) ──────────────────────────────────► early AlreadyExists check, staging
//!  put(chunk) … put(chunk)   (awaits = backpressure) ► staging file / S3 buffer or parts
//!  finish(sha256) ──────────────────────────────► create-only publish + <key>.sha256 sidecar
//!        ◄─────────────────────────────── StoredObject { key, size, sha256 }
//!  verify_copy(store, &stored) ─── open ─► hash on a blocking thread ─► size + SHA-256 match
//! ```
//!
//! # Memory
//!
//! Nothing holds a whole object. A local upload queues at most 3 chunks for its writer
//! thread; an S3 upload holds about `max(T, (K + 1) × P) + 2c` bytes (single-PUT threshold
//! `T`, part size `P`, parts in flight `K`, caller chunk `c`; see the `s3` upload module);
//! `open` streams and [`read_back`] hashes through a queue of 4 chunks.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use celeriac_store::{LocalStore, ObjectKey, Sha256Digest, Store, StoreId, verify_copy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = LocalStore::new(StoreId::new("local")?, dir.path());
//! let key = ObjectKey::new("backups/2026-11-27/run.tar.gz.enc")?;
//!
//! let mut upload = store.begin(&key).await?;
//! upload.put(Bytes::from_static(b"encrypted ")).await?;
//! upload.put(Bytes::from_static(b"bytes")).await?;
//! let stored = upload.finish(Sha256Digest::of(b"encrypted bytes")).await?;
//!
//! verify_copy(&store, &stored).await?; // read back: size and SHA-256 match
//! let again = store.put_small(&key, Bytes::from_static(b"x")).await;
//! assert!(again.unwrap_err().is_already_exists()); // never overwritten
//! # Ok(())
//! # }
//! ```

mod digest;
mod error;
mod id;
mod key;
mod local;
mod s3;
mod secret;
mod store;
mod verify;

#[cfg(feature = "test-util")]
pub mod conformance;
#[cfg(feature = "test-util")]
mod memory;

pub use digest::{DigestParseError, Sha256Digest, SidecarError};
pub use error::{BoxError, Operation, StoreError};
pub use id::{StoreId, StoreIdError, StoreKind};
pub use key::{KeyError, ObjectKey, ObjectPrefix, SIDECAR_SUFFIX};
pub use local::LocalStore;
#[cfg(feature = "test-util")]
pub use memory::MemoryStore;
pub use s3::{
    Addressing, RetryOptions, S3ConfigError, S3Credentials, S3Options, S3Store, TimeoutOptions,
    UploadOptions,
};
pub use secret::{CredentialError, SecretRef, SecretString};
pub use store::{
    ByteStream, ObjectInfo, SMALL_OBJECT_LIMIT, Store, StoredObject, Upload, UploadSink,
};
pub use verify::{ReadBack, read_back, verify_copy};
