//! `celeriac check`: the dead man's switch from outside the worker (cron, a container health
//! check, a monitoring probe). Exit 0 when the newest VERIFIED backup is younger
//! than `--max-age-hours` (default `[job] max-age-hours`, else 26), 1 when it is older or there
//! is none; the `BACKUP_MISSING` alert is raised once per gap and resolved when backups are
//! back, exactly as the worker's `apps.backups.tasks.check_backups` does.

use celeriac_job::check_freshness;
use chrono::Utc;
use clap::Args;

use crate::cmd::database::CatalogArgs;
use crate::cmd::{job_settings, runtime, status, stdout};

/// Flags of `celeriac check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The allowed age of the newest good backup [default: [job] max-age-hours, else 26]
    #[arg(long, value_name = "HOURS")]
    max_age_hours: Option<u32>,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
    /// The catalog, and the config file whose [job] and [database] are read
    #[command(flatten)]
    catalog: CatalogArgs,
}

/// Checks once.
pub(crate) fn run(args: &CheckArgs) -> anyhow::Result<u8> {
    let mut max_age = job_settings::load(args.catalog.config.as_deref())?.max_age;
    if let Some(hours) = args.max_age_hours {
        max_age = chrono::Duration::hours(i64::from(hours));
    }
    let found = runtime::block_on(async {
        let catalog = args.catalog.open().await?;
        let found = check_freshness(&catalog, max_age, Utc::now()).await;
        catalog.close().await;
        anyhow::Ok(found?)
    })??;
    let text = if args.json {
        format!("{}\n", serde_json::to_string_pretty(&found)?)
    } else {
        let newest = match (found.newest, found.newest_at, found.age_seconds) {
            (Some(id), Some(at), Some(age)) => format!(
                "newest VERIFIED backup: {id} from {} ({}h ago)",
                at.to_rfc3339(),
                age / 3600
            ),
            _ => "no VERIFIED backup is recorded".to_owned(),
        };
        let verdict = if found.stale { "STALE" } else { "OK" };
        let alert = if found.raised {
            "; BACKUP_MISSING alert raised"
        } else if found.resolved > 0 {
            "; BACKUP_MISSING alert resolved"
        } else {
            ""
        };
        format!(
            "{verdict}: {newest}; allowed {}h{alert}\n",
            found.max_age_seconds / 3600
        )
    };
    stdout::write(&text)?;
    Ok(if found.stale {
        status::FAILURE
    } else {
        status::OK
    })
}
