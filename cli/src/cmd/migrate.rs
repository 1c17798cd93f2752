//! `celeriac migrate`: apply the catalog's schema migrations (`migrations/postgres/` or
//! `migrations/sqlite/`, embedded in the binary) to the database at `--database-url` /
//! `CELERIAC_DATABASE_URL` (else `[database] url` of the config file), and say which ones this run applied. Exit 0 when the schema is
//! current, 64 without a URL, 78 for a URL that does not parse, 1 when the database cannot be
//! reached or a migration fails.

use std::fmt::Write as _;

use std::path::PathBuf;

use anyhow::anyhow;
use celeriac_catalog::{Catalog, CatalogUrl, MigrationInfo};
use clap::Args;

pub(crate) use crate::cmd::database::DATABASE_URL_ENV;
use crate::cmd::database::{self, Choice};
use crate::cmd::sections::CONFIG_ENV;
use crate::cmd::status::{self, Coded};
use crate::cmd::{runtime, stdout};

/// Flags of `celeriac migrate`.
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// The catalog database: postgres://USER[:PASSWORD]@HOST[:PORT]/DB or sqlite://PATH
    #[arg(long, env = DATABASE_URL_ENV, value_name = "URL", hide_env_values = true)]
    database_url: Option<String>,
    /// TOML config file (its [database] url names the catalog when no URL is given)
    #[arg(long, env = CONFIG_ENV, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

/// Applies the pending migrations and prints what was applied.
pub(crate) fn run(args: &MigrateArgs) -> anyhow::Result<u8> {
    let Choice::Explicit(url) =
        database::choose(args.database_url.as_deref(), args.config.as_deref())?
    else {
        return Err(Coded::usage(anyhow!(
            "no catalog database: give --database-url URL, set {DATABASE_URL_ENV} or set \
             `[database] url` in the config file"
        )));
    };
    let url = CatalogUrl::parse(&url).map_err(Coded::config)?;
    let report = runtime::block_on(async {
        let catalog = Catalog::connect(&url).await?;
        let report = catalog.migrate().await;
        catalog.close().await;
        report
    })??;

    let text = if args.json {
        let json = serde_json::json!({
            "database": url.to_string(),
            "applied": report.applied.iter().map(info_json).collect::<Vec<_>>(),
            "already_applied": report.already_applied.iter().map(info_json).collect::<Vec<_>>(),
        });
        format!("{json:#}\n")
    } else {
        let mut text = format!("catalog: {url}\n");
        for m in &report.applied {
            let _ = writeln!(text, "applied {} {}", m.version, m.description);
        }
        if report.applied.is_empty() {
            let _ = writeln!(
                text,
                "up to date ({} migrations already applied)",
                report.already_applied.len()
            );
        } else {
            let _ = writeln!(
                text,
                "{} applied, {} already applied",
                report.applied.len(),
                report.already_applied.len()
            );
        }
        text
    };
    stdout::write(&text)?;
    Ok(status::OK)
}

fn info_json(m: &MigrationInfo) -> serde_json::Value {
    serde_json::json!({"version": m.version, "description": m.description})
}
