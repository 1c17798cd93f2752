//! `celeriac backup`: flags and the config file → one [`Pipeline`] run (`backup_setup`), recorded
//! in the catalog (trigger `CLI`) → the report on stdout (text, or JSON with `--json`) and an
//! exit code from its status (0 VERIFIED, 2 PARTIAL, 1 FAILED). With no config file, no store
//! and no key, the embedded default in `CELERIAC_HOME` is used.

use std::path::PathBuf;

use anyhow::Context;
use celeriac_backup::StoreTarget;
use celeriac_backup::{BackupId, Pipeline};
use celeriac_backup::{BackupReport, BackupStatus};
use celeriac_catalog::{Catalog, Trigger};
use celeriac_job::{Begun, JobSettings, LocalRoots, Recorder, RunStart, outcome};
use chrono::Utc;
use clap::Args;
use tokio_util::sync::CancellationToken;

pub(crate) use crate::cmd::backup_setup::open_stores;
use crate::cmd::database::DatabaseArgs;
use crate::cmd::progress::{self, Display};
use crate::cmd::sections::CONFIG_ENV;
use crate::cmd::status;
use crate::cmd::{backup_plan, backup_setup, config_file, database, runtime, stdout};

/// Flags of `celeriac backup`. Flags win over the config file: `--source` replaces its
/// `[[collect.roots]]`, `--store` its `backup.stores`, `--key-file` its `[keys] main`.
/// Without a config file, a missing store is `$CELERIAC_HOME/store` and a missing key
/// `$CELERIAC_HOME/keys/main.key` (generated on first use).
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
    /// TOML config file ([backup], [keys], [limits], [collect], [stores.NAME], [database])
    #[arg(long, env = CONFIG_ENV, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    database: DatabaseArgs,
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

/// Runs one backup, recorded in the catalog (trigger `CLI`); the exit code follows the report's
/// status.
pub(crate) fn run(args: &BackupArgs) -> anyhow::Result<u8> {
    let path = config_file::path(args.config.as_deref());
    let request = backup_setup::Request {
        sources: &args.sources,
        stores: &args.stores,
        key_file: args.key_file.as_deref(),
        secrets_key_file: args.secrets_key_file.as_deref(),
        config: path.as_deref(),
    };
    if args.dry_run {
        let (_, spec) = backup_setup::plan(&request)?;
        return backup_plan::run(&spec, args.json);
    }
    let setup = backup_setup::setup(&request)?;
    progress::init_log();
    let display = Display::detect(args.quiet);
    let (mut pipeline, _, roots) = setup.into_pipeline();
    if let Some(sink) = progress::sink(display) {
        pipeline = pipeline.with_progress(sink);
    }
    let database_url = args.database.database_url.as_deref();
    let recorded = runtime::block_on(async move {
        let catalog = database::open_catalog(database_url, path.as_deref()).await?;
        let cancel = CancellationToken::new();
        runtime::cancel_on_interrupt(cancel.clone());
        let result = recorded_run(&catalog, pipeline.with_cancel(cancel), &roots).await;
        catalog.close().await;
        result
    })??;
    let Recorded { row, result } = recorded;
    let report = match result {
        Ok(report) => report,
        Err(err) => {
            let err = anyhow::Error::new(err).context(format!(
                "the backup failed (recorded as {} {})",
                row.id, row.status
            ));
            if args.json {
                print_failure(&err)?;
            }
            return Err(err);
        }
    };
    print_report(&report, args.json)?;
    if !args.quiet {
        eprintln!("celeriac: recorded backup {} as {}", row.id, row.status);
    }
    Ok(exit_code(report.status))
}

/// A run and its catalog row as recorded at the end.
struct Recorded {
    row: celeriac_catalog::Backup,
    result: Result<BackupReport, celeriac_backup::BackupError>,
}

/// Records the run `IN_PROGRESS`, takes the single-flight lock, runs the pipeline under the
/// row's id and records its outcome (copies, alerts, final status). A backup that cannot be
/// recorded is not run; one whose end cannot be recorded is an error after it ran.
async fn recorded_run(
    catalog: &Catalog,
    pipeline: Pipeline,
    roots: &LocalRoots,
) -> anyhow::Result<Recorded> {
    let recorder = Recorder::new(catalog.clone());
    let at = Utc::now();
    let start = RunStart {
        id: *BackupId::new_at(at).as_uuid(),
        trigger: Trigger::Cli,
        celery_task_id: None,
        initiated_by_id: None,
        at,
    };
    let row = match recorder
        .begin(&start)
        .await
        .context("cannot record the backup in the catalog")?
    {
        Begun::New(row) | Begun::Resumed(row) | Begun::Finished(row) => row,
    };
    let wait = JobSettings::default().lock_wait;
    let Some(lock) = catalog
        .lock_backups(wait)
        .await
        .context("cannot take the backup lock")?
    else {
        let outcome = outcome::of_busy(row.id, wait, Utc::now());
        let row = recorder.finish(row.id, &outcome).await?;
        return Err(anyhow::anyhow!(
            "another configuration backup is still running after {}s; recorded {} as {}",
            wait.as_secs(),
            row.id,
            row.status
        ));
    };
    let result = pipeline
        .with_identity(BackupId::from_uuid(row.id), row.created_at)
        .run()
        .await;
    let at = Utc::now();
    let outcome = match &result {
        Ok(report) => outcome::of_report(row.id, report, roots, at),
        Err(err) => outcome::of_error(row.id, err, at),
    };
    let finished = recorder.finish(row.id, &outcome).await;
    if let Err(err) = lock.release().await {
        tracing::warn!(error = %err, "releasing the backup lock failed; it goes with its connection");
    }
    let row = finished.with_context(|| {
        format!(
            "the backup ran but its outcome ({}) could not be recorded in the catalog",
            outcome.status
        )
    })?;
    Ok(Recorded { row, result })
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
