//! Removing one backup's objects from a store: everything under its per-backup folder
//! (`…/<backup id>/`: both artifacts and their sidecars), used to clear what an interrupted
//! attempt left and by retention. A key that does not sit in its backup's folder (an older
//! layout) loses only itself and its secrets bundle beside it, never its neighbours.

use celeriac_backup::{ArtifactName, Bundle};
use celeriac_store::{ObjectKey, ObjectPrefix, Store, StoreError};
use uuid::Uuid;

/// The folder of backup `id` that `key` sits in, if it does.
pub(crate) fn backup_folder(key: &str, id: Uuid) -> Option<ObjectPrefix> {
    let (folder, _) = key.rsplit_once('/')?;
    let last = folder.rsplit('/').next()?;
    (last == id.to_string())
        .then(|| ObjectPrefix::new(folder).ok())
        .flatten()
}

/// Deletes every object of backup `id` whose main artifact is `key` in `store`; returns how
/// many objects went.
///
/// # Errors
/// The first [`StoreError`] (what was deleted before it stays deleted).
pub(crate) async fn delete_backup_objects(
    store: &dyn Store,
    key: &ObjectKey,
    id: Uuid,
) -> Result<usize, StoreError> {
    let keys: Vec<ObjectKey> = match backup_folder(key.as_str(), id) {
        Some(prefix) => store
            .list(&prefix)
            .await?
            .into_iter()
            .map(|o| o.key)
            .collect(),
        None => std::iter::once(key.clone())
            .chain(ArtifactName::sibling_key(key, Bundle::Secrets).ok())
            .collect(),
    };
    let mut deleted = 0;
    for key in &keys {
        if store.delete(key).await? {
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Deletes everything under `prefix` in `store`; returns how many objects went.
///
/// # Errors
/// The first [`StoreError`].
pub(crate) async fn delete_prefix(
    store: &dyn Store,
    prefix: &ObjectPrefix,
) -> Result<usize, StoreError> {
    let mut deleted = 0;
    for object in store.list(prefix).await? {
        if store.delete(&object.key).await? {
            deleted += 1;
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_folder_named_after_the_backup_is_its_folder() {
        let id = Uuid::from_u128(7);
        let key =
            format!("celeriac/2026/12/04/{id}/backup_configuration_20261204_040000.tar.gz.enc");
        assert_eq!(
            backup_folder(&key, id).map(|p| p.to_string()),
            Some(format!("celeriac/2026/12/04/{id}"))
        );
        assert!(backup_folder("celeriac/2026/12/04/x.tar.gz.enc", id).is_none());
        assert!(backup_folder("x.tar.gz.enc", id).is_none());
    }
}
