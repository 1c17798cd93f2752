//! [`S3Options`]: the typed, serde-deserializable configuration of an S3-compatible store, as
//! embedded in the backup config file, its validation, and [`S3Credentials`].
//!
//! ```toml
//! [stores.r2]
//! endpoint = "https://<account>.r2.cloudflarestorage.com"
//! region = "auto"
//! bucket = "dr-backups"
//! prefix = "celeriac"
//! access-key-id = { env = "R2_ACCESS_KEY_ID" }
//! secret-access-key = { file = "/run/secrets/r2_secret_access_key" }
//! upload = { single-put-max-mib = 8, part-size-mib = 8, parts-in-flight = 2 }
//! retry = { attempts = 3, max-retries = 5 }
//! ```
//!
//! Secrets are references ([`SecretRef`]), never values: the binary resolves them (this crate
//! reads no environment variable or file for configuration), builds [`S3Credentials::new`] and
//! hands it to [`S3Store::new`](super::S3Store::new).

use std::time::Duration;

use serde::Deserialize;

use crate::key::{KeyError, ObjectPrefix};
use crate::secret::{SecretRef, SecretString};

const MIB: u64 = 1024 * 1024;

/// S3's smallest non-final multipart part (5 MiB) and largest part or single PUT (5 GiB).
const MIN_PART_MIB: u64 = 5;
const MAX_PART_MIB: u64 = 5 * 1024;

/// Longest prefix: with a 512-byte key and the `.sha256` suffix, names stay under S3's 1024.
const MAX_PREFIX_LEN: usize = 256;

/// How an S3-compatible store is reached.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct S3Options {
    /// Service endpoint, `https://...` (or `http://...` with `allow-http`, for loopback tests).
    pub endpoint: String,
    /// Signing region (`auto` for R2, e.g. `us-west-004` for B2).
    #[serde(default = "default_region")]
    pub region: String,
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket (empty: the bucket root).
    #[serde(default)]
    pub prefix: String,
    /// Path-style (`endpoint/bucket/key`, the default) or virtual-hosted style
    /// (`bucket.endpoint-host/key`; give the plain service endpoint, the bucket is added).
    #[serde(default)]
    pub addressing: Addressing,
    /// Where the access key id is found.
    pub access_key_id: SecretRef,
    /// Where the secret access key is found.
    pub secret_access_key: SecretRef,
    /// Permit plain HTTP (loopback test servers only).
    #[serde(default)]
    pub allow_http: bool,
    /// Single-PUT threshold and multipart shape.
    #[serde(default)]
    pub upload: UploadOptions,
    /// Retry limits.
    #[serde(default)]
    pub retry: RetryOptions,
    /// Network timeouts.
    #[serde(default)]
    pub timeouts: TimeoutOptions,
}

fn default_region() -> String {
    "auto".to_owned()
}

/// URL style for bucket addressing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Addressing {
    /// `https://endpoint/bucket/key` (R2, B2 and test servers accept it).
    #[default]
    Path,
    /// `https://bucket.endpoint/key`.
    VirtualHosted,
}

/// When an upload stays a single PUT and how it goes multipart.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct UploadOptions {
    /// Objects up to this size (MiB) are buffered and sent in one PUT, with the SHA-256 in
    /// `x-amz-meta-sha256`. Larger ones go multipart.
    pub single_put_max_mib: u64,
    /// Size of every multipart part but the last (MiB, 5 to 5120); R2 needs equal parts.
    pub part_size_mib: u64,
    /// Parts uploading at once; `put` waits when this many are in flight.
    pub parts_in_flight: usize,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            single_put_max_mib: 8,
            part_size_mib: 8,
            parts_in_flight: 2,
        }
    }
}

/// Retry limits: object_store's per-request retries (transport errors, 5xx, throttling), and
/// this crate's own attempts around create-only PUTs and parts, which object_store does not
/// retry after an interrupted transfer because they are not idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct RetryOptions {
    /// object_store: retries of one request.
    pub max_retries: usize,
    /// object_store: give up retrying a request after this long (seconds).
    pub retry_timeout_secs: u64,
    /// First backoff (milliseconds), doubled after each retry.
    pub initial_backoff_ms: u64,
    /// Longest backoff (milliseconds).
    pub max_backoff_ms: u64,
    /// This crate: attempts (first try included) of a create-only PUT or a part.
    pub attempts: u32,
}

impl Default for RetryOptions {
    fn default() -> Self {
        Self {
            max_retries: 5,
            retry_timeout_secs: 120,
            initial_backoff_ms: 200,
            max_backoff_ms: 10_000,
            attempts: 3,
        }
    }
}

impl RetryOptions {
    /// Short limits for loopback tests: 2 request retries and 3 attempts, 10 ms to 100 ms apart.
    pub fn fast() -> Self {
        Self {
            max_retries: 2,
            retry_timeout_secs: 10,
            initial_backoff_ms: 10,
            max_backoff_ms: 100,
            attempts: 3,
        }
    }

    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(16);
        let ms = self.initial_backoff_ms.saturating_mul(1 << shift);
        Duration::from_millis(ms.min(self.max_backoff_ms))
    }
}

/// Network timeouts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct TimeoutOptions {
    /// Connecting (seconds).
    pub connect_secs: u64,
    /// One whole request, including a part's body (seconds).
    pub request_secs: u64,
}

impl Default for TimeoutOptions {
    fn default() -> Self {
        Self {
            connect_secs: 10,
            request_secs: 300,
        }
    }
}

impl S3Options {
    /// Options with defaults for everything but the endpoint, region, bucket and where the
    /// credentials are found.
    pub fn new(
        endpoint: impl Into<String>,
        region: impl Into<String>,
        bucket: impl Into<String>,
        access_key_id: SecretRef,
        secret_access_key: SecretRef,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            region: region.into(),
            bucket: bucket.into(),
            prefix: String::new(),
            addressing: Addressing::Path,
            access_key_id,
            secret_access_key,
            allow_http: false,
            upload: UploadOptions::default(),
            retry: RetryOptions::default(),
            timeouts: TimeoutOptions::default(),
        }
    }

    /// The URL object_store is given: the endpoint itself for path-style requests, or the
    /// endpoint with the bucket as first host label for virtual-hosted style.
    pub(super) fn endpoint_url(&self) -> String {
        match self.addressing {
            Addressing::Path => self.endpoint.clone(),
            Addressing::VirtualHosted => match self.endpoint.split_once("://") {
                Some((scheme, host)) => format!("{scheme}://{}.{host}", self.bucket),
                None => self.endpoint.clone(),
            },
        }
    }

    /// Checks the options without building a client, so that a config file can be refused
    /// at startup with the store's name (the S3 store checks again when it is built).
    pub fn check(&self) -> Result<(), S3ConfigError> {
        self.validate().map(|_| ())
    }

    /// Checks the options; the S3 store calls this when it is built.
    pub(super) fn validate(&self) -> Result<Limits, S3ConfigError> {
        let scheme_ok = self.endpoint.starts_with("https://")
            || (self.allow_http && self.endpoint.starts_with("http://"));
        if !scheme_ok {
            return Err(S3ConfigError::Endpoint);
        }
        if !valid_bucket(&self.bucket) {
            return Err(S3ConfigError::Bucket);
        }
        if self.region.is_empty() {
            return Err(S3ConfigError::Region);
        }
        let prefix = ObjectPrefix::new(self.prefix.clone()).map_err(S3ConfigError::Prefix)?;
        if prefix.as_str().len() > MAX_PREFIX_LEN {
            return Err(S3ConfigError::Prefix(KeyError::TooLong {
                len: prefix.as_str().len(),
                max: MAX_PREFIX_LEN,
            }));
        }
        let u = &self.upload;
        if !(MIN_PART_MIB..=MAX_PART_MIB).contains(&u.part_size_mib) {
            return Err(S3ConfigError::PartSize);
        }
        if !(1..=MAX_PART_MIB).contains(&u.single_put_max_mib) {
            return Err(S3ConfigError::SinglePutMax);
        }
        if !(1..=16).contains(&u.parts_in_flight) {
            return Err(S3ConfigError::PartsInFlight);
        }
        let r = &self.retry;
        if r.attempts == 0 || r.initial_backoff_ms > r.max_backoff_ms {
            return Err(S3ConfigError::Retry);
        }
        if self.timeouts.connect_secs == 0 || self.timeouts.request_secs == 0 {
            return Err(S3ConfigError::Timeouts);
        }
        Ok(Limits {
            prefix,
            single_put_max: u.single_put_max_mib * MIB,
            part_size: u.part_size_mib * MIB,
            parts_in_flight: u.parts_in_flight,
            retry: r.clone(),
        })
    }
}

/// Validated numbers the upload code works with.
#[derive(Debug, Clone)]
pub(super) struct Limits {
    pub(super) prefix: ObjectPrefix,
    pub(super) single_put_max: u64,
    pub(super) part_size: u64,
    pub(super) parts_in_flight: usize,
    pub(super) retry: RetryOptions,
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
}

/// Why [`S3Options`] cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3ConfigError {
    /// Not `https://`, or `http://` without `allow-http`.
    #[error("endpoint must start with https:// (or http:// with allow-http)")]
    Endpoint,
    /// Not a valid S3 bucket name.
    #[error("bucket name must be 3 to 63 characters of a-z, 0-9, `-` or `.`")]
    Bucket,
    /// Empty region.
    #[error("region must not be empty")]
    Region,
    /// The prefix is not a valid key prefix.
    #[error("invalid prefix")]
    Prefix(#[source] KeyError),
    /// Part size out of range.
    #[error("part-size-mib must be between {MIN_PART_MIB} and {MAX_PART_MIB}")]
    PartSize,
    /// Single-PUT threshold out of range.
    #[error("single-put-max-mib must be between 1 and {MAX_PART_MIB}")]
    SinglePutMax,
    /// Parts in flight out of range.
    #[error("parts-in-flight must be between 1 and 16")]
    PartsInFlight,
    /// Retry settings inconsistent.
    #[error("retry attempts must be at least 1 and initial backoff at most max backoff")]
    Retry,
    /// Zero timeout.
    #[error("timeouts must be at least one second")]
    Timeouts,
    /// object_store refused the configuration.
    #[error("the S3 client could not be built")]
    Client(#[source] crate::error::BoxError),
}

/// Resolved S3 credentials. `Debug` is redacted; values are zeroed on drop. (object_store
/// keeps its own copy inside the client for request signing; that copy is not zeroized and is
/// never printed by this crate.)
#[derive(Debug)]
pub struct S3Credentials {
    pub(super) access_key_id: SecretString,
    pub(super) secret_access_key: SecretString,
}

impl S3Credentials {
    /// Credentials from values already in hand (tests, or a binary with its own secret source).
    pub fn new(access_key_id: SecretString, secret_access_key: SecretString) -> Self {
        Self {
            access_key_id,
            secret_access_key,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    const FULL: &str = r#"
        endpoint = "https://acct.r2.cloudflarestorage.com"
        region = "auto"
        bucket = "dr-backups"
        prefix = "celeriac/"
        addressing = "virtual-hosted"
        access-key-id = { env = "R2_ACCESS_KEY_ID" }
        secret-access-key = { file = "/run/secrets/r2" }
        upload = { single-put-max-mib = 16, part-size-mib = 10, parts-in-flight = 3 }
        retry = { attempts = 4, max-retries = 1 }
        timeouts = { connect-secs = 3 }
    "#;

    #[test]
    fn parses_the_documented_form() {
        let o: S3Options = toml::from_str(FULL).unwrap();
        assert_eq!(o.addressing, Addressing::VirtualHosted);
        assert_eq!(o.access_key_id, SecretRef::Env("R2_ACCESS_KEY_ID".into()));
        assert_eq!(o.upload.part_size_mib, 10);
        assert_eq!(o.retry.attempts, 4);
        assert_eq!(o.retry.initial_backoff_ms, 200, "defaults fill the rest");
        assert_eq!(o.timeouts.request_secs, 300);
        let limits = o.validate().unwrap();
        assert_eq!(limits.prefix.as_str(), "celeriac");
        assert_eq!(limits.part_size, 10 * MIB);
    }

    #[test]
    fn rejects_unknown_fields_and_inline_secrets() {
        let unknown = FULL.replace("region = \"auto\"", "regoin = \"auto\"");
        assert!(toml::from_str::<S3Options>(&unknown).is_err());
        let inline = FULL.replace("{ env = \"R2_ACCESS_KEY_ID\" }", "\"AKIAEXAMPLE\"");
        assert!(toml::from_str::<S3Options>(&inline).is_err());
    }

    #[test]
    fn validation_catches_bad_values() {
        let base: S3Options = toml::from_str(FULL).unwrap();
        let check = |f: &dyn Fn(&mut S3Options)| {
            let mut o = base.clone();
            f(&mut o);
            o.validate().err()
        };
        assert!(matches!(
            check(&|o| o.endpoint = "http://127.0.0.1:9000".into()),
            Some(S3ConfigError::Endpoint)
        ));
        assert!(
            check(&|o| {
                o.endpoint = "http://127.0.0.1:9000".into();
                o.allow_http = true;
            })
            .is_none()
        );
        assert!(matches!(
            check(&|o| o.bucket = "Bad_Bucket".into()),
            Some(S3ConfigError::Bucket)
        ));
        assert!(matches!(
            check(&|o| o.prefix = "../x".into()),
            Some(S3ConfigError::Prefix(_))
        ));
        assert!(matches!(
            check(&|o| o.prefix = vec!["p".repeat(50); 6].join("/")),
            Some(S3ConfigError::Prefix(KeyError::TooLong { max: 256, .. }))
        ));
        assert!(matches!(
            check(&|o| o.upload.part_size_mib = 4),
            Some(S3ConfigError::PartSize)
        ));
        assert!(matches!(
            check(&|o| o.upload.parts_in_flight = 0),
            Some(S3ConfigError::PartsInFlight)
        ));
        assert!(matches!(
            check(&|o| o.retry.attempts = 0),
            Some(S3ConfigError::Retry)
        ));
    }

    #[test]
    fn virtual_hosted_style_puts_the_bucket_in_the_host() {
        let mut o: S3Options = toml::from_str(FULL).unwrap();
        assert_eq!(
            o.endpoint_url(),
            "https://dr-backups.acct.r2.cloudflarestorage.com"
        );
        o.addressing = Addressing::Path;
        assert_eq!(o.endpoint_url(), "https://acct.r2.cloudflarestorage.com");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let r = RetryOptions::default();
        assert_eq!(r.backoff(1), Duration::from_millis(200));
        assert_eq!(r.backoff(2), Duration::from_millis(400));
        assert_eq!(r.backoff(30), Duration::from_secs(10));
    }

    #[test]
    fn credentials_debug_is_redacted() {
        let c = S3Credentials::new(SecretString::new("AKID"), SecretString::new("SECRET"));
        let text = format!("{c:?}");
        assert!(!text.contains("AKID") && !text.contains("SECRET"), "{text}");
    }
}
