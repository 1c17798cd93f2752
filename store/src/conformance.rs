//! The shared store conformance suite (feature `test-util`): one async fn per property of the
//! [`Store`] contract, and [`run_all`]. Every implementation (local, memory, each S3 server)
//! must pass it.
//!
//! Each check works under its own random prefix, so the suite can run against a shared
//! bucket, and panics with a message naming the store and the property when the store
//! misbehaves.
#![allow(
    clippy::missing_panics_doc,
    reason = "a conformance check reports a violation by panicking, like assert!"
)]

mod round_trip;
mod visibility;

use std::fmt::Display;

use bytes::Bytes;
use futures::StreamExt as _;

use crate::digest::Sha256Digest;
use crate::error::StoreError;
use crate::key::{ObjectKey, ObjectPrefix};
use crate::store::{Store, StoredObject};
use crate::verify::read_back;

pub use round_trip::{
    concurrent_uploads_to_different_keys, round_trip_empty, round_trip_large, round_trip_small,
    sha256_is_recorded_and_returned, sidecar_is_sha256sum_line, verify_detects_wrong_expectations,
};
pub use visibility::{
    abort_leaves_nothing, delete_removes_object_and_sidecar, dropped_upload_leaves_nothing,
    finish_is_create_only, in_progress_upload_is_invisible,
    list_sees_only_finished_objects_under_prefix, missing_key_is_not_found,
    put_small_is_create_only,
};

/// Size of the "large" object: several 5 MiB parts plus a tail, so S3 stores go multipart.
pub const LARGE_OBJECT_SIZE: usize = 17 * 1024 * 1024 + 4321;

/// Runs every check against `store`.
pub async fn run_all(store: &dyn Store) {
    round_trip_small(store).await;
    round_trip_empty(store).await;
    round_trip_large(store).await;
    finish_is_create_only(store).await;
    put_small_is_create_only(store).await;
    abort_leaves_nothing(store).await;
    dropped_upload_leaves_nothing(store).await;
    in_progress_upload_is_invisible(store).await;
    sha256_is_recorded_and_returned(store).await;
    missing_key_is_not_found(store).await;
    sidecar_is_sha256sum_line(store).await;
    list_sees_only_finished_objects_under_prefix(store).await;
    delete_removes_object_and_sidecar(store).await;
    verify_detects_wrong_expectations(store).await;
    concurrent_uploads_to_different_keys(store).await;
}

/// Deterministic pseudo-random bytes (xorshift64), so failures are reproducible.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Uploads `data` in chunks of `chunk` bytes with its true digest.
pub async fn upload_chunks(
    store: &dyn Store,
    key: &ObjectKey,
    data: &[u8],
    chunk: usize,
) -> StoredObject {
    upload_chunks_with(store, key, data, chunk, Sha256Digest::of(data)).await
}

pub(crate) async fn upload_chunks_with(
    store: &dyn Store,
    key: &ObjectKey,
    data: &[u8],
    chunk: usize,
    digest: Sha256Digest,
) -> StoredObject {
    let mut upload = ok(store, "begin", store.begin(key).await);
    for part in data.chunks(chunk.max(1)) {
        ok(store, "put", upload.put(Bytes::copy_from_slice(part)).await);
    }
    ok(store, "finish", upload.finish(digest).await)
}

/// Reads a whole object into memory (tests only).
pub async fn read_all(store: &dyn Store, key: &ObjectKey) -> Vec<u8> {
    let mut stream = ok(store, "open", store.open(key).await);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&ok(store, "read", chunk));
    }
    out
}

/// A key under a fresh random prefix: `conformance/<random>/<check>/<name>`.
pub(crate) fn fresh_key(store: &dyn Store, check: &str, name: &str) -> ObjectKey {
    let key = format!("conformance/{:016x}/{check}/{name}", rand::random::<u64>());
    ObjectKey::new(key).unwrap_or_else(|e| panic!("{}: bad test key: {e}", store.id()))
}

pub(crate) fn parent_prefix(key: &ObjectKey) -> ObjectPrefix {
    let parent = key.as_str().rsplit_once('/').map_or("", |(p, _)| p);
    ObjectPrefix::new(parent).unwrap_or_else(|e| panic!("bad prefix: {e}"))
}

pub(crate) fn key_in(prefix: &ObjectPrefix, name: &str) -> ObjectKey {
    ObjectKey::new(format!("{prefix}/{name}")).unwrap_or_else(|e| panic!("bad key: {e}"))
}

pub(crate) async fn assert_absent(store: &dyn Store, key: &ObjectKey) {
    let head = ok(store, "head", store.head(key).await);
    assert!(head.is_none(), "{}: {key} visible: {head:?}", store.id());
    assert!(
        store.open(key).await.is_err(),
        "{}: {key} readable",
        store.id()
    );
    let sidecar = ok(store, "read_sidecar", store.read_sidecar(key).await);
    assert!(
        sidecar.is_none(),
        "{}: sidecar of {key} visible",
        store.id()
    );
    let listed = ok(store, "list", store.list(&parent_prefix(key)).await);
    assert!(listed.is_empty(), "{}: list shows {listed:?}", store.id());
    // read_back is how callers verify; it must agree.
    assert!(
        read_back(store, key).await.is_err(),
        "{}: read_back of {key}",
        store.id()
    );
}

pub(crate) fn expect_exists<T: std::fmt::Debug>(
    store: &dyn Store,
    what: &str,
    r: Result<T, StoreError>,
) {
    match r {
        Err(e) if e.is_already_exists() => assert!(!e.is_transient(), "{}", store.id()),
        other => panic!(
            "{}: {what}: expected AlreadyExists, got {other:?}",
            store.id()
        ),
    }
}

pub(crate) fn ok<T>(store: &dyn Store, what: impl Display, r: Result<T, StoreError>) -> T {
    r.unwrap_or_else(|e| {
        panic!(
            "{}: {what} failed: {}",
            store.id(),
            celeriac_error_chain::error_chain(&e)
        )
    })
}
