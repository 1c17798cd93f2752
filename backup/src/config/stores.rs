//! Turning configured [`StoreTarget`]s into live stores: [`StoreCredentials`] (resolved S3
//! secrets, loaded by the binary) and [`BackupConfig::open_targets`] / [`BackupConfig::open_s3`].
//!
//! Local targets get the ids `local`, `local-2`, `local-3`, … in configuration order; S3
//! targets keep their `[stores.<name>]` name.

use std::collections::BTreeMap;
use std::sync::Arc;

use celeriac_store::{LocalStore, S3Credentials, S3Store, Store, StoreId};

use crate::config::address::StoreTarget;
use crate::config::{BackupConfig, ConfigError};

/// Resolved credentials of S3 stores, by store name. `Debug` shows names only.
#[derive(Debug, Default)]
pub struct StoreCredentials(BTreeMap<StoreId, S3Credentials>);

impl StoreCredentials {
    /// No credentials.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the credentials of `name`.
    pub fn insert(&mut self, name: StoreId, credentials: S3Credentials) {
        self.0.insert(name, credentials);
    }
}

impl BackupConfig {
    /// Opens the S3 store `name`.
    ///
    /// # Errors
    /// [`ConfigError`].
    pub fn open_s3(
        &self,
        name: &StoreId,
        credentials: &StoreCredentials,
    ) -> Result<Arc<dyn Store>, ConfigError> {
        let options = self
            .s3
            .get(name)
            .ok_or_else(|| ConfigError::NoSuchStore { name: name.clone() })?;
        let creds = credentials
            .0
            .get(name)
            .ok_or_else(|| ConfigError::NoCredentials { name: name.clone() })?;
        let store =
            S3Store::new(name.clone(), options, creds).map_err(|source| ConfigError::Client {
                name: name.clone(),
                source,
            })?;
        Ok(Arc::new(store))
    }

    /// Opens every target, in order.
    ///
    /// # Errors
    /// [`ConfigError`].
    pub fn open_targets(
        &self,
        credentials: &StoreCredentials,
    ) -> Result<Vec<Arc<dyn Store>>, ConfigError> {
        open_targets(&self.targets, |name| self.open_s3(name, credentials))
    }

    /// The local targets' store ids (as [`BackupConfig::open_targets`] names them) and
    /// directories, for callers that record where a local copy lives on disk.
    pub fn local_roots(&self) -> Vec<(StoreId, std::path::PathBuf)> {
        local_roots(&self.targets)
    }
}

/// Opens `targets`, S3 ones through `open_s3`; local ones as [`LocalStore`]s named `local`,
/// `local-2`, ….
///
/// # Errors
/// What `open_s3` returns, or [`ConfigError::DuplicateId`].
pub(crate) fn open_targets(
    targets: &[StoreTarget],
    mut open_s3: impl FnMut(&StoreId) -> Result<Arc<dyn Store>, ConfigError>,
) -> Result<Vec<Arc<dyn Store>>, ConfigError> {
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    let mut locals = 0;
    for target in targets {
        let store: Arc<dyn Store> = match target {
            StoreTarget::Local { path } => {
                locals += 1;
                let id = local_id(locals);
                Arc::new(LocalStore::new(id, path))
            }
            StoreTarget::S3 { name } => open_s3(name)?,
        };
        if stores.iter().any(|s| s.id() == store.id()) {
            return Err(ConfigError::DuplicateId {
                name: store.id().clone(),
            });
        }
        stores.push(store);
    }
    Ok(stores)
}

fn local_id(n: usize) -> StoreId {
    let name = if n == 1 {
        "local".to_owned()
    } else {
        format!("local-{n}")
    };
    // `local` and `local-<digits>` are valid ids by construction.
    StoreId::new(name).unwrap_or_else(|_| unreachable!("local-<n> is a valid store id"))
}

/// The local targets' store ids (as `open_targets` names them) and directories.
fn local_roots(targets: &[StoreTarget]) -> Vec<(StoreId, std::path::PathBuf)> {
    targets
        .iter()
        .filter_map(|t| match t {
            StoreTarget::Local { path } => Some(path.clone()),
            StoreTarget::S3 { .. } => None,
        })
        .enumerate()
        .map(|(i, path)| (local_id(i + 1), path))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use super::*;

    #[test]
    fn local_targets_are_numbered_and_s3_ids_must_not_clash() {
        let targets: Vec<StoreTarget> = ["local:/a", "local:/b", "s3:r2"]
            .iter()
            .map(|t| t.parse().unwrap())
            .collect();
        let opened = open_targets(&targets, |name| {
            Ok(Arc::new(LocalStore::new(name.clone(), "/unused")) as Arc<dyn Store>)
        })
        .unwrap();
        let ids: Vec<&str> = opened.iter().map(|s| s.id().as_str()).collect();
        assert_eq!(ids, ["local", "local-2", "r2"]);
        let clash: Vec<StoreTarget> = ["local:/a", "s3:local"]
            .iter()
            .map(|t| t.parse().unwrap())
            .collect();
        let err = open_targets(&clash, |name| {
            Ok(Arc::new(LocalStore::new(name.clone(), "/unused")) as Arc<dyn Store>)
        })
        .err()
        .unwrap();
        assert!(matches!(err, ConfigError::DuplicateId { .. }));
    }

    #[test]
    fn opening_needs_a_configured_store_and_its_credentials() {
        let config = BackupConfig::from_toml(
            "[stores.r2]\nendpoint = \"https://x.example\"\nbucket = \"bkt\"\naccess-key-id = { env = \"CELERIAC_TEST_UNSET_A\" }\nsecret-access-key = { env = \"CELERIAC_TEST_UNSET_B\" }",
        )
        .unwrap();
        let r2 = StoreId::new("r2").unwrap();
        let nope = StoreId::new("nope").unwrap();
        assert!(matches!(
            config.open_s3(&nope, &StoreCredentials::new()),
            Err(ConfigError::NoSuchStore { .. })
        ));
        assert!(matches!(
            config.open_s3(&r2, &StoreCredentials::new()),
            Err(ConfigError::NoCredentials { .. })
        ));
    }
}
