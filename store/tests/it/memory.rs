//! The in-memory store: conformance and corruption detection.

use celeriac_store::conformance::{self, pattern, upload_chunks};
use celeriac_store::{MemoryStore, ObjectKey, StoreError, StoreId, verify_copy};

fn store() -> MemoryStore {
    MemoryStore::new(StoreId::new("memory").expect("valid id"))
}

#[tokio::test]
async fn memory_store_passes_conformance() {
    conformance::run_all(&store()).await;
}

#[tokio::test]
async fn corrupted_copy_is_caught_by_verify_copy() -> anyhow::Result<()> {
    let store = store();
    let key = ObjectKey::new("obj.enc")?;
    let stored = upload_chunks(&store, &key, &pattern(70_000, 5), 999).await;
    verify_copy(&store, &stored).await?;
    assert!(store.corrupt(&key, 12_345));
    let err = verify_copy(&store, &stored)
        .await
        .expect_err("corruption must be seen");
    assert!(
        matches!(err, StoreError::ChecksumMismatch { .. }),
        "{err:?}"
    );
    Ok(())
}
