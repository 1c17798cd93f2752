//! The `celeriac` command: a thin dispatcher. Each subcommand lives in its own file under
//! `cmd/`; this file only parses the command line, runs the chosen subcommand, prints an error
//! chain with `{:#}` and maps it to an exit code.

mod cmd;
mod logging;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// celeriac: a Rust drop-in for the Celery worker and beat, and the configuration backup tools.
#[derive(Debug, Parser)]
#[command(name = "celeriac", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands; add new ones here and in `cmd/`.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run a Celery-compatible worker: consume task messages, run them, reply over rpc://.
    Worker(cmd::worker::WorkerArgs),
    /// Write a new random key to a new owner-only file and print its id.
    Keygen(cmd::keygen::KeygenArgs),
    /// Back up the configuration: collect, archive, encrypt, store copies, verify, report.
    Backup(cmd::backup::BackupArgs),
    /// Read a stored artifact back and check its size and SHA-256 (--deep: decrypt and walk it).
    Verify(cmd::verify::VerifyArgs),
    /// Restore a backup from the first usable copy (or list it, or dry-run it).
    Restore(cmd::restore::RestoreArgs),
    /// The scheduler: publish the [beat] schedule (--list: each entry and its next five runs).
    Beat(cmd::beat::BeatArgs),
    /// Apply the backup catalog's schema migrations to PostgreSQL or SQLite.
    Migrate(cmd::migrate::MigrateArgs),
    /// List the backups of the catalog, newest first.
    List(cmd::list::ListArgs),
    /// Show one backup of the catalog: its row, copies and open alerts.
    Show(cmd::show::ShowArgs),
    /// Delete stored copies older than their store's retention age (--dry-run: show them).
    Prune(cmd::prune::PruneArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return cmd::status::clap_error(&err),
    };
    let result = match cli.command {
        Command::Worker(args) => cmd::worker::run(args),
        Command::Keygen(args) => return cmd::status::finish(cmd::keygen::run(&args)),
        Command::Backup(args) => return cmd::status::finish(cmd::backup::run(&args)),
        Command::Verify(args) => return cmd::status::finish(cmd::verify::run(&args)),
        Command::Restore(args) => return cmd::status::finish(cmd::restore::run(&args)),
        Command::Beat(args) => return cmd::status::finish(cmd::beat::run(&args)),
        Command::Migrate(args) => return cmd::status::finish(cmd::migrate::run(&args)),
        Command::List(args) => return cmd::status::finish(cmd::list::run(&args)),
        Command::Show(args) => return cmd::status::finish(cmd::show::run(&args)),
        Command::Prune(args) => return cmd::status::finish(cmd::prune::run(&args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("celeriac: error: {err:#}");
            ExitCode::from(cmd::exit_code(&err))
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
