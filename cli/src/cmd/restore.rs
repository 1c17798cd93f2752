//! `celeriac restore`: restore a backup from the first usable copy (checksum, then decryption
//! authenticated to the end, then safe extraction into a staging directory that is moved into
//! place), or list it, or dry-run it. The secrets bundle is a separate step (`--secrets`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use celeriac_backup::CopyErrorKind;
use celeriac_backup::{ArtifactAddress, ArtifactName};
use celeriac_backup::{Bundle, ManifestEntryRef};
use celeriac_backup::{
    Expected, PathFilter, RestoreError, RestoreMode, RestoreOptions, RestoreReport, RestoreSource,
    restore,
};
use celeriac_store::Sha256Digest;
use clap::Args;

use crate::cmd::catalog_copies::{self, NamedStores, Source, Subject, Which};
use crate::cmd::database::{self, DatabaseArgs};
use crate::cmd::read_progress::Reading;
use crate::cmd::sections::CONFIG_ENV;
use crate::cmd::status::{self, Coded};
use crate::cmd::{artifact, keys, progress, runtime, stdout};
use crate::cmd::{backup_setup, config_file};

/// Flags of `celeriac restore`.
#[derive(Debug, Args)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "command-line switches are independent flags"
)]
pub(crate) struct RestoreArgs {
    /// A backup id of the catalog (its copies are tried, verified ones first), or the
    /// artifact: a local path or s3:NAME/KEY; give several copies to fall back through them
    #[arg(value_name = "ID|ARTIFACT", required_unless_present = "latest")]
    artifacts: Vec<Subject>,
    /// Restore the newest VERIFIED backup of the catalog
    #[arg(long, conflicts_with = "artifacts")]
    latest: bool,
    /// Directory to restore into (created; must be new or empty)
    #[arg(long, value_name = "DIR", required_unless_present_any = ["list", "dry_run"])]
    to: Option<PathBuf>,
    /// Key(s) to decrypt with (repeat to offer several) [default: $CELERIAC_KEY and
    /// $CELERIAC_SECRETS_KEY, [keys] of the config]
    #[arg(long = "key-file", value_name = "FILE")]
    key_files: Vec<PathBuf>,
    /// Restore only entries matching this glob over archive paths, e.g. 'nginx/**' (repeat)
    #[arg(long = "path", value_name = "GLOB")]
    paths: Vec<String>,
    /// Check everything (copy, decryption, every entry) but write nothing
    #[arg(long, conflicts_with = "list")]
    dry_run: bool,
    /// List the archive's contents (after authenticating it) instead of extracting
    #[arg(long)]
    list: bool,
    /// Restore the secrets bundle (real .env files, private keys) of the same backup instead;
    /// needs the secrets key
    #[arg(long)]
    secrets: bool,
    /// Expected SHA-256 of the stored artifact instead of the digest its store recorded
    #[arg(long, value_name = "HEX")]
    sha256: Option<Sha256Digest>,
    /// TOML config file (s3:NAME stores, keys, limits, [database]; its stores are fallback
    /// copies)
    #[arg(long, env = CONFIG_ENV, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

/// Restores (or lists, or dry-runs); an error (exit 1) when no copy could be used.
pub(crate) fn run(args: &RestoreArgs) -> anyhow::Result<u8> {
    let path = config_file::path(args.config.as_deref());
    let mut raw = config_file::load_raw(path.as_deref())?;
    backup_setup::offer_embedded_key(&mut raw, path.as_deref());
    let keyring = keys::required_keyring(&args.key_files, &raw.keys, "restore")?;
    let config = config_file::validate(raw, path.as_deref())?;
    let filter = PathFilter::new(&args.paths).map_err(Coded::usage)?;
    let what = what(args)?;
    progress::init_log();
    let reading = Reading::new(progress::Display::detect(args.json));
    let bundle = if args.secrets {
        Bundle::Secrets
    } else {
        Bundle::Main
    };
    let mut options = RestoreOptions::with_mode(mode(args)?).limits_of(&config);
    options.bundle = bundle;
    options.only.clone_from(&args.paths);
    let expected = args.sha256.map(|sha256| Expected { size: None, sha256 });
    let staging_parent = match &options.mode {
        RestoreMode::Extract { target, .. } => Some(staging_parent(target)),
        RestoreMode::DryRun | RestoreMode::List => None,
    };
    if let Some(parent) = &staging_parent {
        for stale in RestoreOptions::remove_stale_staging(parent) {
            eprintln!(
                "celeriac: removed {}, left by an interrupted restore",
                stale.display()
            );
        }
    }
    let report = runtime::block_on(async {
        if let Some(parent) = staging_parent.clone() {
            runtime::exit_on_interrupt(move || {
                let removed = RestoreOptions::remove_own_staging(&parent);
                eprintln!(
                    "celeriac: interrupted; nothing was restored ({} staging directory removed)",
                    removed.len()
                );
            });
        }
        let sources = match &what {
            What::Artifacts(addresses) => artifact::copies(addresses, &config, Some(bundle))?
                .into_iter()
                .map(|c| Source {
                    main_key: ArtifactName::sibling_key(&c.key, Bundle::Main).ok(),
                    store: reading.watch(c.store),
                    key: c.key,
                    expected,
                    label: c.label,
                })
                .collect(),
            What::Catalog(which) => {
                let stores = NamedStores::from_config(&config, path.as_deref()).watched(&reading);
                let catalog =
                    database::open_catalog(args.database.database_url.as_deref(), path.as_deref())
                        .await?;
                let found =
                    catalog_copies::restore_sources(&catalog, *which, &stores, bundle).await;
                catalog.close().await;
                let (row, sources) = found?;
                if !args.json {
                    eprintln!("celeriac: restoring backup {} ({})", row.id, row.status);
                }
                sources
            }
        };
        let copies_for_main: Vec<(Arc<dyn celeriac_store::Store>, celeriac_store::ObjectKey)> =
            sources
                .iter()
                .filter_map(|s| Some((s.store.clone(), s.main_key.clone()?)))
                .collect();
        let labels: Vec<String> = sources.iter().map(|s| s.label.clone()).collect();
        let sources: Vec<RestoreSource> = sources
            .into_iter()
            .map(|s| RestoreSource {
                store: s.store,
                key: s.key,
                expected: s.expected,
            })
            .collect();
        match restore(&sources, Arc::new(keyring), &options).await {
            Ok(report) => Ok(report),
            Err(err) if bundle == Bundle::Secrets && all_missing(&err) => {
                Err(no_secrets_bundle(&copies_for_main, err).await)
            }
            Err(err) => Err(anyhow::Error::new(err))
                .with_context(|| format!("cannot restore from {}", labels.join(", "))),
        }
    })??;
    print(&report, args, &filter)?;
    Ok(status::OK)
}

/// What to restore from: artifacts named on the command line, or a backup of the catalog.
enum What {
    Artifacts(Vec<ArtifactAddress>),
    Catalog(Which),
}

/// The positional arguments and `--latest`: one catalog id alone, or artifact addresses.
fn what(args: &RestoreArgs) -> anyhow::Result<What> {
    if args.latest {
        return Ok(What::Catalog(Which::Latest));
    }
    let ids: Vec<uuid::Uuid> = args
        .artifacts
        .iter()
        .filter_map(|s| match s {
            Subject::Backup(id) => Some(*id),
            Subject::Artifact(_) => None,
        })
        .collect();
    match ids.as_slice() {
        [] => Ok(What::Artifacts(
            args.artifacts
                .iter()
                .filter_map(|s| match s {
                    Subject::Artifact(a) => Some(a.clone()),
                    Subject::Backup(_) => None,
                })
                .collect(),
        )),
        [id] if args.artifacts.len() == 1 => {
            if args.sha256.is_some() {
                return Err(Coded::usage(anyhow::anyhow!(
                    "--sha256 is for an artifact; a catalog backup's copies carry their own"
                )));
            }
            Ok(What::Catalog(Which::Id(*id)))
        }
        _ => Err(Coded::usage(anyhow::anyhow!(
            "give one backup id, or artifact addresses, not both"
        ))),
    }
}

/// Where the staging directory of a restore into `target` goes: its parent.
fn staging_parent(target: &std::path::Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Every copy of the asked-for artifact was simply not there.
fn all_missing(err: &RestoreError) -> bool {
    matches!(err, RestoreError::AllCopiesFailed { attempts, .. }
        if !attempts.is_empty()
            && attempts.iter().all(|a| a.error.kind == CopyErrorKind::NotFound))
}

/// `restore --secrets` found no secrets bundle: when the backup's main archive is there, the run
/// found nothing secret and wrote no bundle, and the message says exactly that.
async fn no_secrets_bundle(
    mains: &[(Arc<dyn celeriac_store::Store>, celeriac_store::ObjectKey)],
    err: RestoreError,
) -> anyhow::Error {
    for (store, key) in mains {
        if let Ok(Some(_)) = store.head(key).await {
            return anyhow::anyhow!(
                "backup {key} has no secrets bundle: its run found no secret file (no real \
                 .env, no private key), so only the main archive was written; restore it \
                 without --secrets"
            );
        }
    }
    anyhow::Error::new(err).context("no copy of the secrets bundle was found")
}

fn mode(args: &RestoreArgs) -> anyhow::Result<RestoreMode> {
    if args.list {
        return Ok(RestoreMode::List);
    }
    if args.dry_run {
        return Ok(RestoreMode::DryRun);
    }
    let target = args
        .to
        .as_ref()
        .ok_or_else(|| Coded::usage(anyhow::anyhow!("--to DIR is required")))?;
    Ok(RestoreMode::Extract {
        target: std::path::absolute(target)
            .with_context(|| format!("cannot resolve {}", target.display()))?,
    })
}

fn print(report: &RestoreReport, args: &RestoreArgs, filter: &PathFilter) -> anyhow::Result<()> {
    if args.json {
        return stdout::write(&format!("{}\n", serde_json::to_string_pretty(report)?));
    }
    for skipped in &report.skipped_copies {
        eprintln!(
            "skipped the copy in {} ({}): {}",
            skipped.store, skipped.key, skipped.error.message
        );
    }
    if args.list {
        let mut text = String::new();
        for entry in report.entries().filter(|e| filter.selects(e.path())) {
            text.push_str(&listing_line(entry));
            text.push('\n');
        }
        return stdout::write(&text);
    }
    let from = format!("{} in store {}", report.key, report.store);
    stdout::write(&match &report.target {
        Some(target) => format!(
            "restored {} of {} entries ({} bytes) from {from} into {}\n",
            report.selected,
            report.entries,
            report.selected_bytes,
            target.display()
        ),
        None => format!(
            "dry run: {} entries valid, {} selected ({} bytes) in {from}; nothing written\n",
            report.entries, report.selected, report.selected_bytes
        ),
    })
}

/// `mode size path [-> target]`, like `tar tv` without owners.
fn listing_line(e: ManifestEntryRef<'_>) -> String {
    let size = e.size().map_or_else(|| "-".to_owned(), |s| s.to_string());
    let link = e
        .target()
        .map(|t| format!(" -> {}", printable(t)))
        .unwrap_or_default();
    format!("{:04o} {size:>10} {}{link}", e.mode(), printable(e.path()))
}

/// A name as one safe line: control characters (newlines, escape sequences that would drive
/// the terminal) and backslashes are written as Rust-style escapes (`\n`, `\u{1b}`, `\\`).
fn printable(name: &str) -> std::borrow::Cow<'_, str> {
    if name.chars().any(|c| c.is_control() || c == '\\') {
        std::borrow::Cow::Owned(name.chars().flat_map(char::escape_default).collect())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_printed_on_one_line_without_terminal_escapes() {
        assert_eq!(super::printable("a/b.conf"), "a/b.conf");
        assert_eq!(
            super::printable("evil\n0644 x\u{1b}[2J"),
            "evil\\n0644 x\\u{1b}[2J"
        );
    }
}
