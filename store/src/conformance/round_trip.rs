//! Conformance checks about content: bytes, sizes and digests survive the trip.

use bytes::Bytes;

use super::{
    LARGE_OBJECT_SIZE, fresh_key, ok, parent_prefix, pattern, read_all, upload_chunks,
    upload_chunks_with,
};
use crate::digest::{Sha256Digest, render_sidecar};
use crate::error::StoreError;
use crate::store::{Store, StoredObject};
use crate::verify::verify_copy;

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
