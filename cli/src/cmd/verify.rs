//! `celeriac verify`: read one stored artifact back and compare its size and SHA-256 with the
//! digest recorded at upload (or `--sha256`); with `--deep`, also decrypt it and walk its
//! archive against its manifest. Exit 0 when it verifies, 1 when not. Given a backup id of the
//! catalog instead, re-read every copy it lists and record the result (`verify_backup`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use celeriac_backup::ArtifactAddress;
use celeriac_backup::{DeepOptions, Expected, VerifyReport, verify_artifact};
use celeriac_store::Sha256Digest;
use clap::Args;

use crate::cmd::catalog_copies::{NamedStores, Subject};
use crate::cmd::database::{self, DatabaseArgs};
use crate::cmd::read_progress::Reading;
use crate::cmd::sections::CONFIG_ENV;
use crate::cmd::status::Coded;
use crate::cmd::{artifact, keys, progress, runtime, status, stdout, verify_backup};
use crate::cmd::{backup_setup, config_file};

/// Flags of `celeriac verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// A backup id of the catalog (every copy it lists is re-read and the rows updated), or
    /// one artifact: a local path, or s3:NAME/KEY for a store named in the config file
    #[arg(value_name = "ID|ARTIFACT")]
    subject: Subject,
    /// Key for --deep (repeat to offer several) [default: $CELERIAC_KEY, [keys] of the config]
    #[arg(long = "key-file", value_name = "FILE")]
    key_files: Vec<PathBuf>,
    /// Also decrypt the artifact and check every archive entry against its manifest
    #[arg(long)]
    deep: bool,
    /// Expected SHA-256 of the stored bytes (e.g. from the backup report) instead of the
    /// digest the store recorded (artifacts only: a catalog backup has its own)
    #[arg(long, value_name = "HEX")]
    sha256: Option<Sha256Digest>,
    /// TOML config file (for s3:NAME stores, keys, limits and [database])
    #[arg(long, env = CONFIG_ENV, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

/// Verifies the artifact; an error (exit 1) when it does not verify.
pub(crate) fn run(args: &VerifyArgs) -> anyhow::Result<u8> {
    let path = config_file::path(args.config.as_deref());
    let mut raw = config_file::load_raw(path.as_deref())?;
    backup_setup::offer_embedded_key(&mut raw, path.as_deref());
    let keyring = if args.deep {
        Some(keys::required_keyring(
            &args.key_files,
            &raw.keys,
            "--deep",
        )?)
    } else {
        None
    };
    let config = config_file::validate(raw, path.as_deref())?;
    progress::init_log();
    let reading = Reading::new(progress::Display::detect(args.json));
    let deep = keyring.map(|ring| DeepOptions::new(Arc::new(ring)).limits_of(&config));
    let artifact = match &args.subject {
        Subject::Artifact(address) => address,
        Subject::Backup(id) => {
            if args.sha256.is_some() {
                return Err(Coded::usage(anyhow::anyhow!(
                    "--sha256 is for an artifact; a catalog backup is checked against its rows"
                )));
            }
            let stores = NamedStores::from_config(&config, path.as_deref()).watched(&reading);
            let check = runtime::block_on(async {
                let catalog =
                    database::open_catalog(args.database.database_url.as_deref(), path.as_deref())
                        .await?;
                let check =
                    verify_backup::verify_backup(&catalog, *id, &stores, deep.as_ref()).await;
                catalog.close().await;
                check
            })??;
            stdout::write(&if args.json {
                format!("{:#}\n", check.to_json())
            } else {
                check.to_text()
            })?;
            return Ok(check.exit_code());
        }
    };
    let expected = args.sha256.map(|sha256| Expected { size: None, sha256 });
    let report = runtime::block_on(async {
        let copy = artifact::open(artifact, &config, None)?;
        let store = reading.watch(copy.store);
        verify_artifact(store.as_ref(), &copy.key, expected, deep.as_ref())
            .await
            .with_context(|| format!("{} does not verify", copy.label))
    })??;
    print(&report, artifact, args.json)?;
    Ok(status::OK)
}

fn print(report: &VerifyReport, artifact: &ArtifactAddress, json: bool) -> anyhow::Result<()> {
    if json {
        return stdout::write(&format!("{}\n", serde_json::to_string_pretty(report)?));
    }
    stdout::write(&format!("verified {artifact}\n{report}"))
}
