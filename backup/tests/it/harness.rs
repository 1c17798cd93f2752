//! Pipeline test harness: the three stores of the nightly backup (a local directory and the two
//! S3 test servers standing in for R2 and B2, each on a fresh bucket), key files, and options
//! with short retry backoffs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use celeriac_backup::internals::RawRoot;
use celeriac_backup::internals::{PipelineOptions, RawCollectConfig, RetryPolicy};
use celeriac_backup::{BackupKeys, CollectSpec};
use celeriac_crypto::{Key, Keyring};
use celeriac_store::{
    LocalStore, ObjectPrefix, RetryOptions, S3Credentials, S3Options, S3Store, SecretRef,
    SecretString, Store, StoreId, UploadOptions,
};
use celeriac_testkit::s3::{S3Server, TestBucket};

/// An S3 store on a fresh bucket of `server`, reached at `endpoint` (the server itself, or the
/// same server through a fault proxy). Fast retries, 5 MiB single-PUT threshold and parts.
pub(crate) async fn s3_store(
    server: &S3Server,
    endpoint: &S3Server,
) -> (TestBucket, Arc<dyn Store>) {
    let bucket = TestBucket::create(server).await;
    let id = StoreId::new(server.label().to_ascii_lowercase()).expect("r2 and b2 are valid ids");
    let mut options = S3Options::new(
        endpoint.endpoint(),
        endpoint.region(),
        bucket.name(),
        SecretRef::Env("UNUSED_IN_TESTS".into()),
        SecretRef::Env("UNUSED_IN_TESTS".into()),
    );
    options.allow_http = true;
    options.upload = UploadOptions {
        single_put_max_mib: 5,
        part_size_mib: 5,
        parts_in_flight: 2,
    };
    options.retry = RetryOptions::fast();
    let credentials = S3Credentials::new(
        SecretString::new(server.access_key()),
        SecretString::new(server.secret_key()),
    );
    let store = S3Store::new(id, &options, &credentials).expect("test S3 options are valid");
    (bucket, Arc::new(store))
}

/// The `ip:port` an S3 test server listens on.
pub(crate) fn address_of(server: &S3Server) -> Result<SocketAddr> {
    let host = server
        .endpoint()
        .strip_prefix("http://")
        .context("test servers speak plain http")?;
    host.trim_end_matches('/')
        .parse()
        .context("endpoint is ip:port")
}

/// A local store named `local` in a fresh temp dir.
pub(crate) fn local_store() -> Result<(tempfile::TempDir, Arc<dyn Store>)> {
    let dir = tempfile::tempdir()?;
    let store = LocalStore::new(StoreId::new("local")?, dir.path().join("backups"));
    Ok((dir, Arc::new(store)))
}

/// The main and secrets key files (as `celeriac keygen` writes them).
pub(crate) struct KeyFiles {
    _dir: tempfile::TempDir,
    pub(crate) main: PathBuf,
    pub(crate) secrets: PathBuf,
}

impl KeyFiles {
    pub(crate) fn new() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let (main, secrets) = (dir.path().join("main.key"), dir.path().join("secrets.key"));
        Key::generate_file(&main)?;
        Key::generate_file(&secrets)?;
        Ok(Self {
            _dir: dir,
            main,
            secrets,
        })
    }

    /// Main key for the main archive, secrets key for the secrets bundle.
    pub(crate) fn backup_keys(&self) -> Result<BackupKeys> {
        Ok(BackupKeys::new(Key::from_file(&self.main)?)
            .with_secrets_key(Key::from_file(&self.secrets)?))
    }

    pub(crate) fn main_ring(&self) -> Result<Arc<Keyring>> {
        Ok(Arc::new(Keyring::from(Key::from_file(&self.main)?)))
    }

    pub(crate) fn secrets_ring(&self) -> Result<Arc<Keyring>> {
        Ok(Arc::new(Keyring::from(Key::from_file(&self.secrets)?)))
    }
}

/// A collection spec for one root.
pub(crate) fn spec_for(root: &Path) -> Result<CollectSpec> {
    Ok(CollectSpec::try_from(RawCollectConfig {
        roots: vec![RawRoot::new(root)],
        ..Default::default()
    })?)
}

/// Prefix `celeriac`, small chunks (so the test data spans many), quick retries.
pub(crate) fn options() -> Result<PipelineOptions> {
    Ok(PipelineOptions {
        prefix: ObjectPrefix::new("celeriac")?,
        chunk_size: 256 * 1024,
        retry: RetryPolicy {
            attempts: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
        },
        ..PipelineOptions::default()
    })
}
