//! A test's world: a work dir with keys, buckets on the S3 test servers (optionally behind a
//! fault proxy), a config file naming them, and the environment variables holding their
//! credentials, which the config file names (never the values).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use celeriac_testkit::s3::{S3Server, TestBucket};
use serde_json::Value;

use crate::run::{celeriac, keygen};

/// One S3 store of the config file.
pub(crate) struct S3Store {
    /// `r2` or `b2`: the `[stores.<name>]` table.
    pub(crate) name: &'static str,
    /// The bucket (reached directly by the test).
    pub(crate) bucket: TestBucket,
    /// The endpoint the binary uses (the server's, or a proxy's).
    pub(crate) endpoint: String,
}

impl S3Store {
    /// A fresh bucket on `server`, used by the binary through `via` (the same server, or
    /// the same server behind a proxy).
    pub(crate) async fn new(name: &'static str, server: &S3Server, via: &S3Server) -> Self {
        Self {
            name,
            bucket: TestBucket::create(server).await,
            endpoint: via.endpoint().to_owned(),
        }
    }

    fn table(&self) -> String {
        let server = self.bucket.server();
        let upper = self.name.to_ascii_uppercase();
        format!(
            "[stores.{name}]\nendpoint = \"{endpoint}\"\nregion = \"{region}\"\n\
             bucket = \"{bucket}\"\nallow-http = true\n\
             access-key-id = {{ env = \"TEST_{upper}_ACCESS_KEY_ID\" }}\n\
             secret-access-key = {{ env = \"TEST_{upper}_SECRET_ACCESS_KEY\" }}\n\
             retry = {{ max-retries = 1, retry-timeout-secs = 10, initial-backoff-ms = 10, \
             max-backoff-ms = 50, attempts = 2 }}\n\
             timeouts = {{ connect-secs = 5, request-secs = 30 }}\n\n",
            name = self.name,
            endpoint = self.endpoint,
            region = server.region(),
            bucket = self.bucket.name(),
        )
    }

    fn env(&self) -> [(String, String); 2] {
        let server = self.bucket.server();
        let upper = self.name.to_ascii_uppercase();
        [
            (
                format!("TEST_{upper}_ACCESS_KEY_ID"),
                server.access_key().to_owned(),
            ),
            (
                format!("TEST_{upper}_SECRET_ACCESS_KEY"),
                server.secret_key().to_owned(),
            ),
        ]
    }
}

/// Work dir, keys and config file of one test.
pub(crate) struct World {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) key: PathBuf,
    pub(crate) secrets_key: PathBuf,
    pub(crate) config: PathBuf,
    pub(crate) s3: Vec<S3Store>,
}

impl World {
    /// Keys and a config file with `s3` stores, `backup.stores = targets`, prefix `nightly` and
    /// quick retries.
    pub(crate) fn new(s3: Vec<S3Store>, targets: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("main.key");
        let secrets_key = dir.path().join("secrets.key");
        keygen(&key);
        keygen(&secrets_key);
        let mut text = String::from("[backup]\nprefix = \"nightly\"\nstores = [");
        for (i, t) in targets.iter().enumerate() {
            let _ = write!(text, "{}\"{t}\"", if i == 0 { "" } else { ", " });
        }
        text.push_str(
            "]\n\n[limits]\nretry-attempts = 3\nretry-initial-backoff-ms = 50\n\
             retry-max-backoff-ms = 200\n\n",
        );
        for store in &s3 {
            text.push_str(&store.table());
        }
        let config = dir.path().join("backup.toml");
        std::fs::write(&config, text).unwrap();
        Self {
            dir,
            key,
            secrets_key,
            config,
            s3,
        }
    }

    /// A path in the work dir.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The S3 store `name`.
    pub(crate) fn store(&self, name: &str) -> &S3Store {
        self.s3.iter().find(|s| s.name == name).unwrap()
    }

    /// `celeriac <args> --config <file>` with the credential variables set.
    pub(crate) fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::from(celeriac());
        cmd.args(args).arg("--config").arg(&self.config);
        for store in &self.s3 {
            for (k, v) in store.env() {
                cmd.env(k, v);
            }
        }
        cmd.kill_on_drop(true);
        cmd
    }

    /// Runs [`World::command`] to completion.
    pub(crate) async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.unwrap()
    }

    /// `backup --source <source> --key-file main.key --secrets-key-file secrets.key --json`
    /// plus `extra`; returns the output and the parsed report.
    pub(crate) async fn backup(&self, source: &Path, extra: &[&str]) -> (Output, Value) {
        let mut args = vec!["backup", "--json", "--source", source.to_str().unwrap()];
        args.extend(["--key-file", self.key.to_str().unwrap()]);
        args.extend(["--secrets-key-file", self.secrets_key.to_str().unwrap()]);
        args.extend(extra);
        let out = self.run(&args).await;
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "backup printed no JSON report ({e}); exit {:?}; stderr:\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out, report)
    }
}

/// The object key of `bundle`'s copy in `store`.
pub(crate) fn copy_key(report: &Value, bundle: &str, store: &str) -> String {
    copy(report, bundle, store)["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The copy report of `bundle` in `store`.
pub(crate) fn copy<'a>(report: &'a Value, bundle: &str, store: &str) -> &'a Value {
    let artifact = report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["bundle"] == bundle)
        .unwrap_or_else(|| panic!("no {bundle} artifact in {report:#}"));
    artifact["copies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["store"] == store)
        .unwrap_or_else(|| panic!("no copy in {store} in {artifact:#}"))
}
