//! `celeriac backup`: flags and the config file → one [`Pipeline`] run → the report on stdout
//! (text, or JSON with `--json`) and an exit code from its status (0 VERIFIED, 2 PARTIAL,
//! 1 FAILED).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use celeriac_backup::{
    BackupConfig, BackupReport, BackupStatus, Pipeline, RawBackupConfig, RawRoot, StoreCredentials,
    StoreTarget,
};
use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::cmd::config_file;
use crate::cmd::progress::{self, Display};
use crate::cmd::sections::CONFIG_ENV;
use crate::cmd::status::{self, Coded};
use crate::cmd::{backup_plan, keys, runtime, stdout};

/// Flags of `celeriac backup`. Flags win over the config file: `--source` replaces its
/// `[[collect.roots]]`, `--store` its `backup.stores`, `--key-file` its `[keys] main`.
#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// A directory to collect from (repeat for several roots)
    #[arg(long = "source", value_name = "DIR")]
    sources: Vec<PathBuf>,
    /// Where to write a copy: local:PATH or s3:NAME (a [stores.NAME] table); repeat for each
    #[arg(long = "store", value_name = "STORE")]
    stores: Vec<StoreTarget>,
    /// The main key (base64 of 32 bytes, from `celeriac keygen`) [default: $CELERIAC_KEY]
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// A separate key for the secrets bundle [default: $CELERIAC_SECRETS_KEY, else the main key]
    #[arg(long, value_name = "FILE")]
    secrets_key_file: Option<PathBuf>,
    /// TOML config file ([backup], [keys], [limits], [collect], [stores.NAME])
    #[arg(long, env = CONFIG_ENV, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the report as JSON (with each copy's object key) instead of text
    #[arg(long)]
    json: bool,
    /// Show what would be collected (per category and bundle), skipped and left out, without
    /// archiving or storing anything; needs no key and no store
    #[arg(long)]
    dry_run: bool,
    /// No progress output on stderr
    #[arg(long, short)]
    quiet: bool,
}

/// Runs one backup; the exit code follows the report's status.
pub(crate) fn run(args: &BackupArgs) -> anyhow::Result<u8> {
    let path = config_file::path(args.config.as_deref());
    let mut raw = config_file::load_raw(path.as_deref())?;
    apply_flags(&mut raw, args, path.is_some())?;
    if args.dry_run {
        let config = config_file::validate(raw, path.as_deref())?;
        let spec = collect_spec(&config)?;
        return backup_plan::run(&spec, args.json);
    }
    let keys = keys::backup_keys(
        args.key_file.as_deref(),
        args.secrets_key_file.as_deref(),
        &raw.keys,
    )?;
    let config = config_file::validate(raw, path.as_deref())?;
    let spec = collect_spec(&config)?;
    if config.targets.is_empty() {
        return Err(Coded::usage(anyhow::anyhow!(
            "no store: pass --store local:PATH or --store s3:NAME, or set `backup.stores`"
        )));
    }
    let stores = open_stores(&config)?;
    progress::init_log();
    let display = Display::detect(args.quiet);
    let mut pipeline = Pipeline::new(spec, stores, keys)
        .with_options(config.pipeline.clone())
        .with_limits(config.restore_limits.clone());
    if let Some(sink) = progress::sink(display) {
        pipeline = pipeline.with_progress(sink);
    }
    let outcome = runtime::block_on(async move {
        let cancel = CancellationToken::new();
        runtime::cancel_on_interrupt(cancel.clone());
        pipeline.with_cancel(cancel).run().await
    })?;
    let report = match outcome {
        Ok(report) => report,
        Err(err) => {
            let err = anyhow::Error::new(err).context("the backup failed");
            if args.json {
                print_failure(&err)?;
            }
            return Err(err);
        }
    };
    print_report(&report, args.json)?;
    Ok(exit_code(report.status))
}

/// The validated `[collect]` table, or a usage error when no root is given.
fn collect_spec(config: &BackupConfig) -> anyhow::Result<celeriac_backup::CollectSpec> {
    config.collect.clone().ok_or_else(|| {
        Coded::usage(anyhow::anyhow!(
            "nothing to collect: pass --source DIR or add [[collect.roots]] to the config file"
        ))
    })
}

/// Puts the command-line sources and stores in place of the config file's.
fn apply_flags(
    raw: &mut RawBackupConfig,
    args: &BackupArgs,
    has_config: bool,
) -> anyhow::Result<()> {
    if !args.sources.is_empty() {
        raw.collect.roots = args
            .sources
            .iter()
            .map(|dir| {
                std::path::absolute(dir)
                    .map(RawRoot::new)
                    .with_context(|| format!("cannot resolve {}", dir.display()))
            })
            .collect::<anyhow::Result<_>>()?;
    }
    if !args.stores.is_empty() {
        if !has_config
            && let Some(StoreTarget::S3 { name }) = args
                .stores
                .iter()
                .find(|s| matches!(s, StoreTarget::S3 { .. }))
        {
            return Err(Coded::usage(anyhow::anyhow!(
                "--store s3:{name} needs --config FILE with a [stores.{name}] table"
            )));
        }
        raw.backup.stores = args
            .stores
            .iter()
            .map(|s| match s {
                StoreTarget::Local { path } => std::path::absolute(path)
                    .map(|p| format!("local:{}", p.display()))
                    .with_context(|| format!("cannot resolve {}", path.display())),
                StoreTarget::S3 { .. } => Ok(s.to_string()),
            })
            .collect::<anyhow::Result<_>>()?;
    }
    Ok(())
}

/// Loads the S3 credentials (from the environment variables or files the config names) and
/// opens every target.
pub(crate) fn open_stores(
    config: &BackupConfig,
) -> anyhow::Result<Vec<Arc<dyn celeriac_store::Store>>> {
    let credentials = StoreCredentials::load_for_targets(config).map_err(Coded::config)?;
    config.open_targets(&credentials).map_err(Coded::config)
}

fn print_report(report: &BackupReport, json: bool) -> anyhow::Result<()> {
    if json {
        stdout::write(&format!("{}\n", report.to_json_pretty()))
    } else {
        stdout::write(&report.to_string())
    }
}

/// With `--json`, a run that ended in an error still prints one JSON object on stdout, so a
/// script reading it always gets a status: `{"status": "FAILED", "error": "..."}` (the
/// message names no secret; the errors never carry one).
fn print_failure(err: &anyhow::Error) -> anyhow::Result<()> {
    let failed = serde_json::json!({
        "status": BackupStatus::Failed,
        "error": format!("{err:#}"),
    });
    stdout::write(&format!("{failed:#}\n"))
}

/// 0 VERIFIED, 2 PARTIAL, 1 FAILED.
pub(crate) fn exit_code(status: BackupStatus) -> u8 {
    match status {
        BackupStatus::Verified => status::OK,
        BackupStatus::Partial => status::PARTIAL,
        BackupStatus::Failed => status::FAILURE,
    }
}
