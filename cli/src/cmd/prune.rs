//! `celeriac prune`: retention by hand. Deletes the stored copies older than their store's age
//! (`[job.retention]`, counted back from the newest verified backup) from the stores of the
//! config file, recording each in the catalog; `--dry-run` only shows them. Exit 0 when every
//! delete went through, 1 when one failed (it stays marked and the next run retries it).

use std::fmt::Write as _;

use anyhow::Context;
use celeriac_job::{PruneReport, prune};
use clap::Args;

use crate::cmd::database::{self, CatalogArgs};
use crate::cmd::status::Coded;
use crate::cmd::{backup, config_file, job_settings, runtime, status, stdout};

/// Flags of `celeriac prune`.
#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Show what would be deleted; delete nothing
    #[arg(long)]
    dry_run: bool,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
    /// The catalog, and the config file whose stores ([backup] stores, [stores.NAME]),
    /// [job.retention] and [database] are read
    #[command(flatten)]
    catalog: CatalogArgs,
}

/// Runs retention once.
pub(crate) fn run(args: &PruneArgs) -> anyhow::Result<u8> {
    let path = config_file::path(args.catalog.config.as_deref());
    let raw = config_file::load_raw(path.as_deref())?;
    let validated = config_file::validate(raw, path.as_deref())?;
    if validated.targets.is_empty() {
        return Err(Coded::usage(anyhow::anyhow!(
            "no store to prune: set `backup.stores` in the config file (--config)"
        )));
    }
    let policy = job_settings::load(path.as_deref())?.retention;
    let stores = backup::open_stores(&validated)?;
    let report = runtime::block_on(async {
        let catalog = database::open_catalog(
            args.catalog.database.database_url.as_deref(),
            path.as_deref(),
        )
        .await?;
        let report = prune(&catalog, &stores, &policy, args.dry_run)
            .await
            .context("retention failed");
        catalog.close().await;
        report
    })??;
    if args.json {
        stdout::write(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        stdout::write(&text(&report))?;
    }
    Ok(if report.failed().next().is_some() {
        status::FAILURE
    } else {
        status::OK
    })
}

fn text(report: &PruneReport) -> String {
    let mut out = String::new();
    let Some(newest) = report.newest_verified else {
        return "no verified backup yet: nothing is pruned\n".to_owned();
    };
    let _ = writeln!(
        out,
        "ages counted back from the newest verified backup {newest}"
    );
    for (store, cutoff) in &report.cutoffs {
        let _ = writeln!(out, "  {store}: copies from before {}", cutoff.to_rfc3339());
    }
    let verb = if report.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    let done: Vec<_> = report.items.iter().filter(|i| i.error.is_none()).collect();
    let _ = writeln!(
        out,
        "{verb} {} cop{}",
        done.len(),
        if done.len() == 1 { "y" } else { "ies" }
    );
    for item in &done {
        let retry = if item.retry { " (retried)" } else { "" };
        let _ = writeln!(
            out,
            "  {} {} {}{retry}",
            item.store, item.backup_id, item.object_key
        );
    }
    for item in report.failed() {
        let _ = writeln!(
            out,
            "FAILED {} {}: {} (marked; the next run retries it)",
            item.store,
            item.backup_id,
            item.error.as_deref().unwrap_or_default()
        );
    }
    out
}
