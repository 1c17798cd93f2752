//! `celeriac worker`: flags (with environment fallbacks) and the config file → a validated
//! `Config`, logging, the task registry, signal handling, and the worker run.

use std::path::PathBuf;

use anyhow::Context;
use celeriac_worker::{Config, ConfigError, LogFormat, Overrides, RawConfig, Registry, Worker};
use clap::{Args, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::cmd::database::DatabaseArgs;
use crate::cmd::sections::{self, CONFIG_ENV};
use crate::cmd::{EXIT_IMMEDIATE, worker_job};
use crate::logging;

/// Flags of `celeriac worker`; each one set wins over the config file.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// Broker URL [default: amqp://guest:guest@127.0.0.1:5672/%2f]
    #[arg(
        long = "broker",
        env = "CELERIAC_BROKER_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    broker: Option<String>,
    /// Queues to consume, comma-separated [default: celery]
    #[arg(
        short = 'Q',
        long,
        env = "CELERIAC_QUEUES",
        value_delimiter = ',',
        value_name = "QUEUES"
    )]
    queues: Option<Vec<String>>,
    /// Tasks run at once [default: number of CPUs]
    #[arg(short = 'c', long, env = "CELERIAC_CONCURRENCY", value_name = "N")]
    concurrency: Option<u32>,
    /// Prefetch = concurrency × this (0 = unlimited) [default: 4]
    #[arg(long, env = "CELERIAC_PREFETCH_MULTIPLIER", value_name = "N")]
    prefetch_multiplier: Option<u32>,
    /// Node name used in replies and logs [default: celeriac@<host name>]
    #[arg(long, env = "CELERIAC_HOSTNAME", value_name = "NAME")]
    hostname: Option<String>,
    /// TOML config file shared by every subcommand; the worker reads [worker] (or the same keys
    /// at the top level), [queue.NAME] and [task."NAME"]
    #[arg(long, env = CONFIG_ENV, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serve /healthz and /metrics on this address, e.g. 0.0.0.0:9808
    #[arg(long, env = "CELERIAC_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<String>,
    /// Log format [default: text]
    #[arg(long, env = "CELERIAC_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormatArg>,
    /// Send task events (task-received, task-succeeded, ...) for Flower and `celery events`,
    /// as Celery's -E
    #[arg(short = 'E', long, env = "CELERIAC_EVENTS")]
    events: bool,
    /// Send no worker-online / worker-heartbeat / worker-offline events
    #[arg(long, env = "CELERIAC_WITHOUT_HEARTBEAT")]
    without_heartbeat: bool,
    /// Broker the events go to [default: the worker's broker]
    #[arg(
        long = "events-broker",
        env = "CELERIAC_EVENTS_BROKER_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    events_broker: Option<String>,
    /// Async runtime threads; 1 runs everything but blocking work on one thread
    #[arg(long, env = "CELERIAC_THREADS", value_name = "N", default_value_t = 1)]
    threads: usize,
    /// Print the effective configuration (passwords hidden) and exit
    #[arg(long)]
    print_config: bool,
    /// The backup catalog of the configuration_backup task (registered when the config file
    /// sets [[collect.roots]])
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(f: LogFormatArg) -> Self {
        match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

/// Runs `celeriac worker` to completion.
pub(crate) fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let loaded = load_config(args)?;
    if loaded.print_only {
        println!("{:#?}", loaded.config);
        return Ok(());
    }
    logging::init(loaded.config.log_format);
    let runtime = runtime(loaded.threads)?;
    runtime.block_on(serve(
        loaded.config,
        loaded.config_path,
        loaded.database_url,
    ))
}

/// The validated configuration, and what else the flags asked for.
struct Loaded {
    config: Config,
    /// The shared config file, read again for the backup task's sections.
    config_path: Option<PathBuf>,
    /// `--database-url` / `CELERIAC_DATABASE_URL`.
    database_url: Option<String>,
    print_only: bool,
    threads: usize,
}

/// One thread (the default) runs the async side on the current thread: the worker is I/O-bound
/// and its CPU-heavy tasks run on blocking threads, so this saves cross-thread wake-ups.
fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    builder
        .enable_all()
        .thread_name("celeriac-worker")
        .build()
        .context("cannot start the async runtime")
}

fn load_config(args: WorkerArgs) -> anyhow::Result<Loaded> {
    let raw: RawConfig = match &args.config {
        Some(path) => sections::read(path)?.worker_part(|err| ConfigError::Toml(err).into())?,
        None => RawConfig::default(),
    };
    let overrides = Overrides {
        broker_url: args.broker,
        queues: args.queues,
        concurrency: args.concurrency,
        prefetch_multiplier: args.prefetch_multiplier,
        hostname: args
            .hostname
            .or_else(|| raw.hostname.is_none().then(default_hostname)),
        metrics_listen: args.metrics_listen,
        log_format: args.log_format.map(LogFormat::from),
        events: args.events.then_some(true),
        without_heartbeat: args.without_heartbeat.then_some(true),
        events_broker_url: args.events_broker,
    };
    let config = Config::from_parts(raw, overrides).context("invalid worker configuration")?;
    Ok(Loaded {
        config,
        config_path: args.config,
        database_url: args.database.database_url,
        print_only: args.print_config,
        threads: args.threads,
    })
}

/// `celeriac@<host name>`, like Celery's `celery@%h`.
fn default_hostname() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("celeriac@{host}")
}

async fn serve(
    config: Config,
    config_path: Option<PathBuf>,
    database_url: Option<String>,
) -> anyhow::Result<()> {
    let mut registry = Registry::with_builtins();
    let task =
        worker_job::configuration_backup(config_path.as_deref(), database_url.as_deref()).await?;
    if let Some(tasks) = task {
        registry.register(tasks.backup)?;
        registry.register(tasks.prune)?;
        registry.register(tasks.check)?;
    }
    tracing::info!(tasks = ?registry.names(), "registered tasks");
    let shutdown = CancellationToken::new();
    let signals = shutdown.clone();
    tokio::spawn(async move {
        match celeriac_worker::wait_for_signals(signals).await {
            Ok(()) => std::process::exit(EXIT_IMMEDIATE),
            Err(err) => tracing::error!(cause = %err, "cannot install signal handlers"),
        }
    });
    Worker::new(config, registry)?.run(shutdown).await?;
    Ok(())
}
