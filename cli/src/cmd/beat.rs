//! `celeriac beat`: the scheduler. `--list` prints each entry of the config file's `[beat]`
//! section (or the default backup entry) and its next five runs in its zone; without it, beat
//! publishes the slots as they fall due (`beat_loop`): with a catalog database, as one of any
//! number of replicas under the catalog's leader lock, its last slots stored in the catalog;
//! without one, as the only scheduler, its last slots in memory.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use celeriac_broker::{BrokerUrl, DEFAULT_BROKER_URL};
use celeriac_scheduler::{
    BeatConfig, ConfigError, Entry, MissedPolicy, RawBeat, Route, format_duration,
};
use chrono::{DateTime, Utc};
use clap::Args;
use serde::Deserialize;

use crate::cmd::database::{self, Choice, DATABASE_URL_ENV};
use crate::cmd::sections::{self, CONFIG_ENV, Reader};
use crate::cmd::status::{Coded, OK};

/// How many runs `--list` shows per entry.
const LISTED_RUNS: usize = 5;

/// Flags of `celeriac beat`.
#[derive(Debug, Args)]
pub(crate) struct BeatArgs {
    /// Broker URL [default: amqp://guest:guest@127.0.0.1:5672/%2f]
    #[arg(
        long = "broker",
        env = "CELERIAC_BROKER_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    broker: Option<String>,
    /// The catalog holding the leader lock and the last slots: postgres://USER[:PASSWORD]@HOST[:PORT]/DB
    /// or sqlite://PATH [default: [database] url of the config file, else none: beat runs alone,
    /// last slots in memory]
    #[arg(long, env = DATABASE_URL_ENV, value_name = "URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Print each entry and its next five run times in its zone, then exit
    #[arg(long)]
    list: bool,
    /// TOML config file shared by every subcommand; beat reads its [beat] section
    #[arg(long, env = CONFIG_ENV, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serve /healthz and /metrics on this address, e.g. 0.0.0.0:9809 [default: [beat]
    /// metrics-listen of the config file, else none]
    #[arg(long, env = "CELERIAC_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// With --list: the runs after this instant (RFC 3339, e.g. 2026-03-28T12:00:00Z) [default: now]
    #[arg(long, value_name = "TIME", requires = "list")]
    at: Option<DateTime<Utc>>,
}

/// Runs `celeriac beat`.
pub(crate) fn run(args: &BeatArgs) -> anyhow::Result<u8> {
    let config = load(args.config.as_deref())?;
    if !args.list {
        crate::logging::init(celeriac_worker::LogFormat::Text);
        let broker = BrokerUrl::parse(args.broker.as_deref().unwrap_or(DEFAULT_BROKER_URL))
            .map_err(Coded::config)?;
        let catalog = match database::choose(args.database_url.as_deref(), args.config.as_deref())?
        {
            Choice::Explicit(url) => Some(url),
            Choice::Embedded => None,
        };
        let max_age = crate::cmd::job_settings::load(args.config.as_deref())?.max_age;
        return crate::cmd::beat_loop::run(&crate::cmd::beat_loop::Launch {
            config: &config,
            broker: &broker,
            catalog_url: catalog.as_deref(),
            max_age,
            metrics_listen: args.metrics_listen.or(config.metrics_listen),
        });
    }
    let after = args.at.unwrap_or_else(Utc::now);
    print!("{}", list(&config, after));
    Ok(OK)
}

fn load(path: Option<&std::path::Path>) -> anyhow::Result<BeatConfig> {
    let Some(path) = path else {
        return Ok(BeatConfig::default());
    };
    let part: BeatPart =
        sections::read(path)?.part(Reader::Beat, |err| ConfigError::Toml(err).into())?;
    BeatConfig::try_from(part.beat)
        .with_context(|| format!("in the config file {}", path.display()))
        .map_err(Coded::config)
}

/// Beat's part of the config file: `[beat]` (absent: the defaults).
#[derive(Debug, Default, Deserialize)]
struct BeatPart {
    #[serde(default)]
    beat: RawBeat,
}

/// The `--list` text.
fn list(config: &BeatConfig, after: DateTime<Utc>) -> String {
    let mut out = String::new();
    if config.entries.is_empty() {
        out.push_str("no entries: [beat.schedule] is empty\n");
    }
    for entry in &config.entries {
        describe(&mut out, entry, after);
    }
    out
}

fn describe(out: &mut String, entry: &Entry, after: DateTime<Utc>) {
    let route = Route::for_options(&entry.options);
    let missed = match entry.missed {
        MissedPolicy::Grace(window) => format!("grace {}", format_duration(window)),
        MissedPolicy::Skip => "skip".to_owned(),
        MissedPolicy::All => "all".to_owned(),
    };
    let _ = writeln!(out, "{}", entry.name);
    let _ = writeln!(out, "  task      {}", entry.task.as_str());
    let _ = writeln!(out, "  schedule  {} in {}", entry.schedule, entry.timezone);
    let _ = writeln!(out, "  missed    {missed}");
    let mut options = format!("queue {}", route.queue);
    if let Some(p) = entry.options.priority {
        let _ = write!(options, ", priority {p}");
    }
    if let Some(e) = entry.options.expires {
        let _ = write!(options, ", expires {}", format_duration(e));
    }
    let _ = writeln!(out, "  options   {options}");
    for (i, run) in entry
        .schedule
        .slots_after(entry.timezone, after)
        .take(LISTED_RUNS)
        .enumerate()
    {
        let local = run.with_timezone(&entry.timezone);
        let label = if i == 0 { "next" } else { "" };
        let _ = writeln!(
            out,
            "  {label:<8}  {}  ({})",
            local.format("%Y-%m-%d %H:%M:%S %:z %Z"),
            run.format("%Y-%m-%dT%H:%M:%SZ")
        );
    }
}
