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

use std::fmt::Display;

use bytes::Bytes;
use futures::StreamExt as _;

use crate::digest::{Sha256Digest, render_sidecar};
use crate::error::StoreError;
use crate::key::{ObjectKey, ObjectPrefix};
use crate::store::{Store, StoredObject};
use crate::verify::{read_back, verify_copy};

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

/// `put_small` then `open`, `head` and `read_back` give the same bytes, size and digest.
pub async fn round_trip_small(store: &dyn Store) {
    let key = fresh_key(store, "small", "report.json");
    let data = Bytes::from_static(b"{\"files\": 42}\n");
    let stored = ok(
        store,
        "put_small",
        store.put_small(&key, data.clone()).await,
    );
    assert_eq!(
        stored.size,
        data.len() as u64,
        "{}: put_small size",
        store.id()
    );
    assert_eq!(
        stored.sha256,
        Sha256Digest::of(&data),
        "{}: put_small digest",
        store.id()
    );
    assert_eq!(
        read_all(store, &key).await,
        data,
        "{}: small round trip",
        store.id()
    );
    let info = ok(store, "head", store.head(&key).await);
    let info = info.unwrap_or_else(|| panic!("{}: head of a finished object is None", store.id()));
    assert_eq!(info.size, data.len() as u64, "{}: head size", store.id());
    assert_eq!(
        info.sha256,
        Some(stored.sha256),
        "{}: head digest",
        store.id()
    );
}

/// An upload with no bytes and an empty `put_small` both make an empty object.
pub async fn round_trip_empty(store: &dyn Store) {
    let key = fresh_key(store, "empty", "upload.bin");
    let empty = Sha256Digest::of(b"");
    let upload = ok(store, "begin", store.begin(&key).await);
    let stored = ok(store, "finish", upload.finish(empty).await);
    assert_eq!(stored.size, 0, "{}: empty upload size", store.id());
    assert!(
        read_all(store, &key).await.is_empty(),
        "{}: empty upload content",
        store.id()
    );
    let small = fresh_key(store, "empty", "small.bin");
    ok(
        store,
        "put_small",
        store.put_small(&small, Bytes::new()).await,
    );
    let info = ok(store, "head", store.head(&small).await);
    assert_eq!(
        info.map(|i| (i.size, i.sha256)),
        Some((0, Some(empty))),
        "{}",
        store.id()
    );
}

/// A large object streamed in odd-sized chunks comes back byte-identical.
pub async fn round_trip_large(store: &dyn Store) {
    let key = fresh_key(store, "large", "artifact.tar.gz.enc");
    let data = pattern(LARGE_OBJECT_SIZE, 7);
    let stored = upload_chunks(store, &key, &data, 1024 * 1024 + 7).await;
    assert_eq!(stored.size, data.len() as u64, "{}: large size", store.id());
    let back = read_all(store, &key).await;
    assert!(
        back == data,
        "{}: large object differs after round trip",
        store.id()
    );
    let checked = ok(store, "verify_copy", verify_copy(store, &stored).await);
    assert_eq!(checked.sha256, stored.sha256, "{}", store.id());
}

/// Finishing an upload onto a key that got taken meanwhile fails and keeps the original;
/// `begin` on a taken key fails early.
pub async fn finish_is_create_only(store: &dyn Store) {
    let key = fresh_key(store, "create-only", "obj");
    let mut first = ok(store, "begin", store.begin(&key).await);
    let mut second = ok(store, "begin", store.begin(&key).await);
    ok(
        store,
        "put",
        first.put(Bytes::from_static(b"original")).await,
    );
    ok(
        store,
        "put",
        second.put(Bytes::from_static(b"intruder")).await,
    );
    ok(
        store,
        "finish",
        first.finish(Sha256Digest::of(b"original")).await,
    );
    let err = second.finish(Sha256Digest::of(b"intruder")).await;
    expect_exists(store, "second finish", err);
    assert_eq!(
        read_all(store, &key).await,
        &b"original"[..],
        "{}: original replaced",
        store.id()
    );
    let info = ok(store, "head", store.head(&key).await).map(|i| i.sha256);
    assert_eq!(
        info,
        Some(Some(Sha256Digest::of(b"original"))),
        "{}: digest replaced",
        store.id()
    );
    expect_exists(store, "begin on a taken key", store.begin(&key).await);
}

/// `put_small` onto an existing key fails and keeps the original.
pub async fn put_small_is_create_only(store: &dyn Store) {
    let key = fresh_key(store, "create-only-small", "obj");
    ok(
        store,
        "put_small",
        store.put_small(&key, Bytes::from_static(b"one")).await,
    );
    let again = store.put_small(&key, Bytes::from_static(b"two")).await;
    expect_exists(store, "second put_small", again);
    assert_eq!(
        read_all(store, &key).await,
        &b"one"[..],
        "{}: original replaced",
        store.id()
    );
}

/// An aborted upload leaves no object, no sidecar, and the key free.
pub async fn abort_leaves_nothing(store: &dyn Store) {
    let key = fresh_key(store, "abort", "obj");
    let mut upload = ok(store, "begin", store.begin(&key).await);
    ok(
        store,
        "put",
        upload.put(Bytes::from(pattern(100_000, 3))).await,
    );
    ok(store, "abort", upload.abort().await);
    assert_absent(store, &key).await;
    let stored = upload_chunks(store, &key, b"after abort", 4).await;
    assert_eq!(
        stored.size,
        11,
        "{}: key not reusable after abort",
        store.id()
    );
}

/// A dropped (neither finished nor aborted) upload leaves nothing visible.
pub async fn dropped_upload_leaves_nothing(store: &dyn Store) {
    let key = fresh_key(store, "dropped", "obj");
    let mut upload = ok(store, "begin", store.begin(&key).await);
    ok(
        store,
        "put",
        upload.put(Bytes::from(pattern(50_000, 4))).await,
    );
    drop(upload);
    assert_absent(store, &key).await;
}

/// An upload in progress is not visible to head, list or open until it finishes.
pub async fn in_progress_upload_is_invisible(store: &dyn Store) {
    let key = fresh_key(store, "in-progress", "obj");
    let prefix = parent_prefix(&key);
    let mut upload = ok(store, "begin", store.begin(&key).await);
    ok(
        store,
        "put",
        upload.put(Bytes::from(pattern(200_000, 5))).await,
    );
    assert_absent(store, &key).await;
    let listed = ok(store, "list", store.list(&prefix).await);
    assert!(
        listed.is_empty(),
        "{}: list shows an unfinished upload: {listed:?}",
        store.id()
    );
    let digest = Sha256Digest::of(&pattern(200_000, 5));
    ok(store, "finish", upload.finish(digest).await);
    let listed = ok(store, "list", store.list(&prefix).await);
    assert_eq!(
        listed.len(),
        1,
        "{}: finished object not listed",
        store.id()
    );
}

/// The digest given at `finish` comes back from `head` and `list`, whatever the content.
pub async fn sha256_is_recorded_and_returned(store: &dyn Store) {
    let key = fresh_key(store, "digest", "obj");
    // The store records the caller's digest; it does not recompute it.
    let recorded = Sha256Digest::of(b"the caller's own hash of the stored bytes");
    let stored = upload_chunks_with(store, &key, b"payload", 3, recorded).await;
    assert_eq!(stored.sha256, recorded, "{}", store.id());
    let head = ok(store, "head", store.head(&key).await).and_then(|i| i.sha256);
    assert_eq!(head, Some(recorded), "{}: head digest", store.id());
    let listed = ok(store, "list", store.list(&parent_prefix(&key)).await);
    let digests: Vec<_> = listed.iter().map(|i| i.sha256).collect();
    assert_eq!(digests, vec![Some(recorded)], "{}: list digest", store.id());
}

/// Reading, heading and deleting a missing key: typed NotFound, None, false.
pub async fn missing_key_is_not_found(store: &dyn Store) {
    let key = fresh_key(store, "missing", "nothing-here");
    match store.open(&key).await {
        Err(e) if e.is_not_found() => {}
        Err(e) => panic!(
            "{}: open of a missing key: expected NotFound, got {e:?}",
            store.id()
        ),
        Ok(_) => panic!("{}: open of a missing key succeeded", store.id()),
    }
    assert!(
        ok(store, "head", store.head(&key).await).is_none(),
        "{}",
        store.id()
    );
    assert!(
        !ok(store, "delete", store.delete(&key).await),
        "{}",
        store.id()
    );
    assert!(
        ok(store, "sidecar", store.read_sidecar(&key).await).is_none(),
        "{}",
        store.id()
    );
}

/// Every object has a `<key>.sha256` sidecar in `sha256sum` format.
pub async fn sidecar_is_sha256sum_line(store: &dyn Store) {
    let key = fresh_key(store, "sidecar", "backup.tar.gz.enc");
    let data = pattern(300_000, 9);
    let stored = upload_chunks(store, &key, &data, 65_536).await;
    let want = render_sidecar(&stored.sha256, "backup.tar.gz.enc");
    let got = ok(store, "read_sidecar", store.read_sidecar(&key).await);
    assert_eq!(
        got.as_deref(),
        Some(want.as_bytes()),
        "{}: upload sidecar",
        store.id()
    );
    let small = fresh_key(store, "sidecar", "report.json");
    let stored = ok(
        store,
        "put_small",
        store.put_small(&small, Bytes::from_static(b"{}")).await,
    );
    let want = render_sidecar(&stored.sha256, "report.json");
    let got = ok(store, "read_sidecar", store.read_sidecar(&small).await);
    assert_eq!(
        got.as_deref(),
        Some(want.as_bytes()),
        "{}: put_small sidecar",
        store.id()
    );
}

/// `list` returns the finished objects under a prefix, sorted, without sidecars.
pub async fn list_sees_only_finished_objects_under_prefix(store: &dyn Store) {
    let base = fresh_key(store, "list", "x");
    let root = parent_prefix(&base);
    let name = |s: &str| key_in(&root, s);
    for k in ["b/2", "a/1", "a/sub/3", "ab/4"] {
        ok(
            store,
            "put_small",
            store.put_small(&name(k), Bytes::from(k.to_owned())).await,
        );
    }
    let mut open_upload = ok(store, "begin", store.begin(&name("a/unfinished")).await);
    ok(
        store,
        "put",
        open_upload.put(Bytes::from_static(b"partial")).await,
    );
    let under_a = ObjectPrefix::new(format!("{root}/a")).unwrap_or_else(|e| panic!("{e}"));
    let keys = |v: Vec<crate::ObjectInfo>| v.into_iter().map(|i| i.key).collect::<Vec<_>>();
    let listed = keys(ok(store, "list", store.list(&under_a).await));
    assert_eq!(
        listed,
        vec![name("a/1"), name("a/sub/3")],
        "{}: list a/",
        store.id()
    );
    let all = keys(ok(store, "list", store.list(&root).await));
    let want = vec![name("a/1"), name("a/sub/3"), name("ab/4"), name("b/2")];
    assert_eq!(all, want, "{}: list of the whole prefix", store.id());
    ok(store, "abort", open_upload.abort().await);
}

/// `delete` removes the object and its sidecar, freeing the key.
pub async fn delete_removes_object_and_sidecar(store: &dyn Store) {
    let key = fresh_key(store, "delete", "obj");
    ok(
        store,
        "put_small",
        store.put_small(&key, Bytes::from_static(b"bye")).await,
    );
    assert!(
        ok(store, "delete", store.delete(&key).await),
        "{}: delete",
        store.id()
    );
    assert_absent(store, &key).await;
    ok(
        store,
        "put_small",
        store.put_small(&key, Bytes::from_static(b"again")).await,
    );
}

/// `verify_copy` reports a wrong digest or size as a permanent typed error.
pub async fn verify_detects_wrong_expectations(store: &dyn Store) {
    let key = fresh_key(store, "verify", "obj");
    let stored = ok(
        store,
        "put_small",
        store.put_small(&key, Bytes::from_static(b"abc")).await,
    );
    let wrong_digest = StoredObject {
        sha256: Sha256Digest::of(b"abd"),
        ..stored.clone()
    };
    match verify_copy(store, &wrong_digest).await {
        Err(e @ StoreError::ChecksumMismatch { .. }) => assert!(!e.is_transient()),
        other => panic!("{}: expected ChecksumMismatch, got {other:?}", store.id()),
    }
    let wrong_size = StoredObject { size: 4, ..stored };
    match verify_copy(store, &wrong_size).await {
        Err(StoreError::SizeMismatch {
            expected: 4,
            actual: 3,
            ..
        }) => {}
        other => panic!("{}: expected SizeMismatch, got {other:?}", store.id()),
    }
}

/// Several uploads to different keys, interleaved, all arrive intact.
pub async fn concurrent_uploads_to_different_keys(store: &dyn Store) {
    let keys: Vec<_> = (0..4)
        .map(|i| fresh_key(store, "concurrent", &format!("obj-{i}")))
        .collect();
    let datas: Vec<_> = (0..4_usize)
        .zip(0_u64..)
        .map(|(i, seed)| pattern(6 * 1024 * 1024 + 1000 * i, seed))
        .collect();
    let tasks = keys
        .iter()
        .zip(&datas)
        .map(|(k, d)| upload_chunks(store, k, d, 512 * 1024));
    let stored = futures::future::join_all(tasks).await;
    for ((key, data), stored) in keys.iter().zip(&datas).zip(&stored) {
        assert_eq!(stored.sha256, Sha256Digest::of(data), "{}", store.id());
        assert!(
            read_all(store, key).await == *data,
            "{}: {key} differs",
            store.id()
        );
    }
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

async fn upload_chunks_with(
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
fn fresh_key(store: &dyn Store, check: &str, name: &str) -> ObjectKey {
    let key = format!("conformance/{:016x}/{check}/{name}", rand::random::<u64>());
    ObjectKey::new(key).unwrap_or_else(|e| panic!("{}: bad test key: {e}", store.id()))
}

fn parent_prefix(key: &ObjectKey) -> ObjectPrefix {
    let parent = key.as_str().rsplit_once('/').map_or("", |(p, _)| p);
    ObjectPrefix::new(parent).unwrap_or_else(|e| panic!("bad prefix: {e}"))
}

fn key_in(prefix: &ObjectPrefix, name: &str) -> ObjectKey {
    ObjectKey::new(format!("{prefix}/{name}")).unwrap_or_else(|e| panic!("bad key: {e}"))
}

async fn assert_absent(store: &dyn Store, key: &ObjectKey) {
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

fn expect_exists<T: std::fmt::Debug>(store: &dyn Store, what: &str, r: Result<T, StoreError>) {
    match r {
        Err(e) if e.is_already_exists() => assert!(!e.is_transient(), "{}", store.id()),
        other => panic!(
            "{}: {what}: expected AlreadyExists, got {other:?}",
            store.id()
        ),
    }
}

fn ok<T>(store: &dyn Store, what: impl Display, r: Result<T, StoreError>) -> T {
    r.unwrap_or_else(|e| panic!("{}: {what} failed: {}", store.id(), chain(&e)))
}

/// The error and all its sources, for a readable panic message.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
