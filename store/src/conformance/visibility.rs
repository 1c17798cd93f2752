//! Conformance checks about what is visible when: create-only publishing, aborted, dropped and
//! unfinished uploads, missing keys, listing and deletion.

use bytes::Bytes;

use super::{
    assert_absent, expect_exists, fresh_key, key_in, ok, parent_prefix, pattern, read_all,
    upload_chunks,
};
use crate::digest::Sha256Digest;
use crate::key::ObjectPrefix;
use crate::store::Store;

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
