//! The configuration room: the one step from raw TOML to validated, typed values. The rest of
//! the crate sees only what this module hands out (`BackupConfig`, `CollectSpec`,
//! `PipelineOptions`, `Limits`, `BackupKeys`, store targets and artifact names); its children
//! each own one table or value: `limits` (`[limits]`), `options`, `spec` (`[collect]`, the
//! collection rules), `allowlist` (the `.env` key allowlist), `keys`, `address`, `stores`,
//! `naming`.
//!
//! The backup config file: [`RawBackupConfig`] mirrors the TOML (strict: unknown keys are
//! errors) and becomes a validated [`BackupConfig`], whose errors name the offending key.
//!
//! ```toml
//! [backup]
//! prefix = "celeriac"                               # object key prefix in every store
//! stores = ["local:/var/backups/celeriac", "s3:r2", "s3:b2"]
//! deep-verify = true                                # decrypt the stream and walk its archive
//!
//! [keys]
//! main = { file = "/etc/celeriac/backup.key" }      # or { env = "CELERIAC_KEY" } (base64)
//! secrets = { file = "/etc/celeriac/secrets.key" }  # optional: the secrets bundle's own key
//! previous = [{ file = "/etc/celeriac/backup-2025.key" }]  # decrypt-only, after a rotation
//!
//! [limits]
//! chunk-kib = 1024
//! queue-chunks = 2
//! retry-attempts = 3
//!
//! [collect]
//! [[collect.roots]]
//! path = "/srv/platform"
//!
//! [stores.r2]
//! endpoint = "https://<account>.r2.cloudflarestorage.com"
//! bucket = "dr-backups"
//! access-key-id = { env = "R2_ACCESS_KEY_ID" }
//! secret-access-key = { env = "R2_SECRET_ACCESS_KEY" }
//! ```
//!
//! Secrets are never inline: keys and S3 credentials are references to environment variables or
//! files, resolved by the binary (the `celeriac` command's `cmd/secrets.rs`), which hands this
//! crate keys and [`StoreCredentials`]: the crate itself reads no
//! environment variable and no file for its configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use celeriac_store::{
    CredentialError, ObjectPrefix, S3ConfigError, S3Options, StoreId, StoreIdError,
};
use serde::Deserialize;

pub(crate) mod address;
pub(crate) mod address_error;
pub(crate) mod allowlist;
pub(crate) mod keys;
pub(crate) mod limits;
pub(crate) mod naming;
pub(crate) mod options;
pub(crate) mod spec;
pub(crate) mod stores;

pub use address::{AddressError, ArtifactAddress, StoreTarget};
pub use keys::BackupKeys;
pub use limits::{Limits, RawLimits};
pub use naming::ArtifactName;
pub use options::PipelineOptions;
use spec::RawRoot;
pub use spec::{CollectSpec, RawCollectConfig};
pub use stores::StoreCredentials;

/// The whole config file as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawBackupConfig {
    /// `[backup]`: where copies go (see [`Self::store_targets`]).
    pub(crate) backup: RawBackupSection,
    /// `[keys]`: where the keys are.
    pub keys: RawKeys,
    /// `[limits]`: sizes, retries, restore limits.
    pub(crate) limits: RawLimits,
    /// `[collect]`: what to collect (see [`Self::set_roots`]).
    pub(crate) collect: RawCollectConfig,
    /// `[stores.<name>]`: S3-compatible stores, addressed as `s3:<name>`.
    pub stores: BTreeMap<String, S3Options>,
}

/// `[backup]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawBackupSection {
    /// Object key prefix in every store (empty: none).
    pub prefix: String,
    /// Where each run writes a copy: `local:PATH` or `s3:NAME`.
    pub stores: Vec<StoreTarget>,
    /// Decrypt each artifact as it streams and walk its archive against its manifest.
    pub deep_verify: bool,
}

impl Default for RawBackupSection {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            stores: Vec::new(),
            deep_verify: true,
        }
    }
}

/// Where a key is: `{ file = "PATH" }` or `{ env = "VAR" }` (base64 of 32 bytes either way).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum KeyRef {
    /// An environment variable holding the base64 key.
    Env(String),
    /// A key file (as written by `celeriac keygen`).
    File(PathBuf),
}

/// `[keys]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawKeys {
    /// The key of the main archive (and of the secrets bundle unless `secrets` is set).
    pub main: Option<KeyRef>,
    /// The secrets bundle's own key.
    pub secrets: Option<KeyRef>,
    /// Retired keys, still accepted when reading (verify, restore).
    pub previous: Vec<KeyRef>,
}

/// Why a config file was refused (each such variant names the key, as a TOML path, at fault),
/// or why the stores it names could not be opened ([`BackupConfig::open_targets`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not TOML, an unknown key, or a value of the wrong type (the parser's message has the line).
    #[error("config file does not match the schema")]
    Parse(#[source] toml::de::Error),
    /// A value out of range.
    #[error("invalid value for `{key}`: {expected}")]
    Invalid {
        /// The key, e.g. `limits.chunk-kib`.
        key: &'static str,
        /// What is allowed.
        expected: &'static str,
    },
    /// The `[collect]` table is invalid.
    #[error("invalid `[collect]` table")]
    Collect(#[source] crate::cause::Cause),
    /// A `[stores.<name>]` table name is not a valid store id.
    #[error("invalid store name `[stores.{name}]`")]
    StoreName {
        /// The name as written.
        name: String,
        /// Why.
        #[source]
        source: StoreIdError,
    },
    /// A `[stores.<name>]` table is invalid.
    #[error("invalid `[stores.{name}]` table")]
    Store {
        /// The store's name.
        name: StoreId,
        /// Why.
        #[source]
        source: S3ConfigError,
    },
    /// `backup.stores` names an S3 store without a table.
    #[error("`backup.stores` names s3:{name}, but there is no `[stores.{name}]` table")]
    UnknownStore {
        /// The name.
        name: StoreId,
    },
    /// The same store twice in `backup.stores`.
    #[error("`backup.stores` lists {target} twice")]
    DuplicateTarget {
        /// The repeated entry.
        target: String,
    },

    /// Opening: no `[stores.<name>]` table for this name.
    #[error("no store named {name} in the config file")]
    NoSuchStore {
        /// The name.
        name: StoreId,
    },
    /// No credentials were loaded for this store.
    #[error("no credentials loaded for store {name}")]
    NoCredentials {
        /// The name.
        name: StoreId,
    },
    /// A credential reference could not be read.
    #[error("cannot load the credentials of store {name}")]
    Credentials {
        /// The name.
        name: StoreId,
        /// Why (names the variable or file, never the value).
        #[source]
        source: CredentialError,
    },
    /// The S3 client could not be built.
    #[error("cannot set up store {name}")]
    Client {
        /// The name.
        name: StoreId,
        /// Why.
        #[source]
        source: S3ConfigError,
    },
    /// Two targets end up with the same id.
    #[error("two stores share the id {name}")]
    DuplicateId {
        /// The id.
        name: StoreId,
    },
}

/// The validated config.
#[derive(Debug, Clone)]
pub struct BackupConfig {
    /// What to collect; `None` when no root is configured (fine for verify and restore).
    pub collect: Option<CollectSpec>,
    /// Where each run writes a copy, in order.
    pub targets: Vec<StoreTarget>,
    /// Every `[stores.<name>]` table.
    pub s3: BTreeMap<StoreId, S3Options>,
    /// Where the keys are.
    pub keys: RawKeys,
    /// Streaming, retry and verification settings (a `Pipeline` takes them with
    /// `with_config`).
    pub(crate) pipeline: PipelineOptions,
    /// Limits applied when restoring or deep-verifying (`RestoreOptions::limits_of`,
    /// `DeepOptions::limits_of`).
    pub(crate) restore_limits: Limits,
}

impl RawBackupConfig {
    /// The collection roots: `[[collect.roots]]`.
    pub fn roots(&self) -> impl ExactSizeIterator<Item = &Path> + '_ {
        self.collect.roots.iter().map(|r| r.path.as_path())
    }

    /// Replaces the collection roots with required roots at `paths`, each with the default
    /// archive prefix (what `--source DIR` does).
    pub fn set_roots(&mut self, paths: impl IntoIterator<Item = PathBuf>) {
        self.collect.roots = paths.into_iter().map(RawRoot::new).collect();
    }

    /// Where each run writes a copy: `backup.stores`.
    pub fn store_targets(&self) -> &[StoreTarget] {
        &self.backup.stores
    }

    /// Replaces `backup.stores` (what `--store` does).
    pub fn set_store_targets(&mut self, targets: Vec<StoreTarget>) {
        self.backup.stores = targets;
    }

    /// Parses TOML text.
    ///
    /// # Errors
    /// [`ConfigError::Parse`].
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(ConfigError::Parse)
    }

    /// Makes relative paths (collection roots, `local:` stores, key files) relative to `base`,
    /// usually the config file's directory.
    pub fn resolve_paths(&mut self, base: &Path) {
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for root in &mut self.collect.roots {
            abs(&mut root.path);
        }
        for target in &mut self.backup.stores {
            if let StoreTarget::Local { path } = target {
                abs(path);
            }
        }
        let keys = &mut self.keys;
        for key in keys
            .main
            .iter_mut()
            .chain(&mut keys.secrets)
            .chain(&mut keys.previous)
        {
            if let KeyRef::File(path) = key {
                abs(path);
            }
        }
    }
}

impl BackupConfig {
    /// The object-key prefix of every artifact (`backup.prefix`).
    pub fn prefix(&self) -> &ObjectPrefix {
        &self.pipeline.prefix
    }

    /// Parses and validates TOML text.
    ///
    /// # Errors
    /// [`ConfigError`].
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::try_from(RawBackupConfig::from_toml(text)?)
    }
}

impl TryFrom<RawBackupConfig> for BackupConfig {
    type Error = ConfigError;

    fn try_from(raw: RawBackupConfig) -> Result<Self, ConfigError> {
        let s3 = validate_stores(raw.stores)?;
        let targets = validate_targets(&raw.backup.stores, &s3)?;
        let collect = if raw.collect.roots.is_empty() {
            None
        } else {
            Some(CollectSpec::from_raw(&raw.collect).map_err(|e| ConfigError::Collect(e.into()))?)
        };
        let prefix = ObjectPrefix::new(raw.backup.prefix).map_err(|_| ConfigError::Invalid {
            key: "backup.prefix",
            expected: "a key prefix: letters, digits, `._-+=@,` and `/` between segments",
        })?;
        let mut pipeline = limits::pipeline_options(&raw.limits)?;
        pipeline.prefix = prefix;
        pipeline.deep_verify = raw.backup.deep_verify;
        Ok(Self {
            collect,
            targets,
            s3,
            keys: raw.keys,
            pipeline,
            restore_limits: limits::restore_limits(&raw.limits)?,
        })
    }
}

fn validate_stores(
    raw: BTreeMap<String, S3Options>,
) -> Result<BTreeMap<StoreId, S3Options>, ConfigError> {
    let mut out = BTreeMap::new();
    for (name, options) in raw {
        let id =
            StoreId::new(name.clone()).map_err(|source| ConfigError::StoreName { name, source })?;
        options.check().map_err(|source| ConfigError::Store {
            name: id.clone(),
            source,
        })?;
        out.insert(id, options);
    }
    Ok(out)
}

fn validate_targets(
    raw: &[StoreTarget],
    s3: &BTreeMap<StoreId, S3Options>,
) -> Result<Vec<StoreTarget>, ConfigError> {
    let mut seen = BTreeSet::new();
    let mut targets = Vec::new();
    for target in raw {
        let target = target.clone();
        if let StoreTarget::S3 { name } = &target
            && !s3.contains_key(name)
        {
            return Err(ConfigError::UnknownStore { name: name.clone() });
        }
        if !seen.insert(target.to_string()) {
            return Err(ConfigError::DuplicateTarget {
                target: target.to_string(),
            });
        }
        targets.push(target);
    }
    Ok(targets)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use std::time::Duration;

    use super::*;

    const MIB: u64 = 1024 * 1024;

    /// The example at the top of this module, with real values where it has placeholders.
    const FULL: &str = r#"
        [backup]
        prefix = "celeriac"
        stores = ["local:/var/backups/celeriac", "s3:r2", "s3:b2"]
        deep-verify = true

        [keys]
        main = { file = "/etc/celeriac/backup.key" }
        secrets = { env = "CELERIAC_SECRETS_KEY" }
        previous = [{ file = "/etc/celeriac/backup-2025.key" }]

        [limits]
        chunk-kib = 512
        queue-chunks = 3
        gzip-threads = 2
        retry-attempts = 5
        retry-initial-backoff-ms = 250
        retry-max-backoff-ms = 4000
        restore-max-file-mib = 64

        [collect]
        env-allowlist = ["SENTRY_ENVIRONMENT"]
        [[collect.roots]]
        path = "/srv/platform"
        [[collect.roots]]
        path = "/etc/letsencrypt"
        optional = true

        [stores.r2]
        endpoint = "https://acct.r2.cloudflarestorage.com"
        bucket = "dr-backups"
        access-key-id = { env = "R2_ACCESS_KEY_ID" }
        secret-access-key = { env = "R2_SECRET_ACCESS_KEY" }

        [stores.b2]
        endpoint = "https://s3.us-west-004.backblazeb2.com"
        region = "us-west-004"
        bucket = "dr-backups-b2"
        access-key-id = { file = "/run/secrets/b2_key_id" }
        secret-access-key = { file = "/run/secrets/b2_key" }
    "#;

    #[test]
    fn full_example_parses_into_typed_settings() {
        let c = BackupConfig::from_toml(FULL).unwrap();
        let targets: Vec<String> = c.targets.iter().map(ToString::to_string).collect();
        assert_eq!(targets, ["local:/var/backups/celeriac", "s3:r2", "s3:b2"]);
        assert_eq!(c.s3.len(), 2);
        assert_eq!(c.collect.as_ref().unwrap().roots().len(), 2);
        assert_eq!(c.pipeline.prefix.as_str(), "celeriac");
        assert_eq!(c.pipeline.chunk_size, 512 * 1024);
        assert_eq!(c.pipeline.queue_chunks, 3);
        assert_eq!(c.pipeline.gzip.threads.get(), 2);
        assert_eq!(c.pipeline.retry.attempts, 5);
        assert_eq!(c.pipeline.retry.backoff(2), Duration::from_millis(250));
        assert_eq!(c.restore_limits.max_file_bytes, 64 * MIB);
        assert_eq!(
            c.keys.secrets,
            Some(KeyRef::Env("CELERIAC_SECRETS_KEY".into()))
        );
        assert_eq!(c.keys.previous.len(), 1);
    }

    #[test]
    fn empty_config_is_valid_and_has_the_documented_defaults() {
        let c = BackupConfig::from_toml("").unwrap();
        assert!(c.collect.is_none() && c.targets.is_empty() && c.s3.is_empty());
        assert_eq!(c.pipeline, PipelineOptions::default());
        assert_eq!(c.restore_limits, Limits::default());
    }

    fn error_of(text: &str) -> String {
        BackupConfig::from_toml(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_offending_key() {
        assert_eq!(
            error_of("[limits]\nchunk-kib = 1"),
            "invalid value for `limits.chunk-kib`: 64 to 65536"
        );
        assert_eq!(
            error_of("[backup]\nstores = [\"s3:r3\"]"),
            "`backup.stores` names s3:r3, but there is no `[stores.r3]` table"
        );
        assert_eq!(
            error_of("[backup]\nstores = [\"local:/a\", \"local:/a\"]"),
            "`backup.stores` lists local:/a twice"
        );
        assert_eq!(
            error_of("[backup]\nprefix = \"../x\""),
            "invalid value for `backup.prefix`: a key prefix: letters, digits, `._-+=@,` and `/` between segments"
        );
        let bad_store = FULL.replace("bucket = \"dr-backups\"", "bucket = \"Bad_Bucket\"");
        assert_eq!(error_of(&bad_store), "invalid `[stores.r2]` table");
        let relative = "[[collect.roots]]\npath = \"relative\"";
        assert_eq!(error_of(relative), "invalid `[collect]` table");
        let Err(ConfigError::Parse(err)) =
            BackupConfig::from_toml("[backup]\nstores = [\"ftp:x\"]")
        else {
            panic!("an unknown scheme was accepted");
        };
        assert!(
            err.to_string().contains("invalid entry in `backup.stores`"),
            "{err}"
        );
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn unknown_keys_and_inline_secrets_are_refused() {
        assert!(matches!(
            BackupConfig::from_toml("[backup]\nprefx = \"x\""),
            Err(ConfigError::Parse(_))
        ));
        assert!(matches!(
            BackupConfig::from_toml("[keys]\nmain = \"c2VjcmV0\""),
            Err(ConfigError::Parse(_))
        ));
        let inline = FULL.replace("{ env = \"R2_ACCESS_KEY_ID\" }", "\"AKIAEXAMPLE\"");
        assert!(matches!(
            BackupConfig::from_toml(&inline),
            Err(ConfigError::Parse(_))
        ));
    }

    #[test]
    fn relative_paths_resolve_against_the_config_directory() {
        let mut raw = RawBackupConfig::from_toml(
            "[backup]\nstores = [\"local:backups\", \"local:/abs\"]\n[keys]\nmain = { file = \"k.key\" }\n[[collect.roots]]\npath = \"project\"",
        )
        .unwrap();
        raw.resolve_paths(Path::new("/etc/celeriac"));
        let stores: Vec<String> = raw.backup.stores.iter().map(ToString::to_string).collect();
        assert_eq!(stores, ["local:/etc/celeriac/backups", "local:/abs"]);
        assert_eq!(
            raw.keys.main,
            Some(KeyRef::File("/etc/celeriac/k.key".into()))
        );
        assert_eq!(
            raw.collect.roots[0].path,
            Path::new("/etc/celeriac/project")
        );
        assert!(BackupConfig::try_from(raw).is_ok());
    }
}
