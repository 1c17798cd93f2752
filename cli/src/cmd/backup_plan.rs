//! `celeriac backup --dry-run`: walks the roots with the same rules as a real run and shows what
//! it would collect, per category and bundle, what it would skip, and the config-looking files
//! that no rule took. Needs no key and no store; reads files only to classify them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use celeriac_backup::config::CollectSpec;
use celeriac_backup::manifest::{Category, Classification};
use celeriac_backup::report::{LeftOut, Skip};
use celeriac_backup::{Collection, EntryKind, collect};
use serde::Serialize;

use crate::cmd::status::{self};
use crate::cmd::stdout;

/// Where a collected file would go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Placement {
    /// Verbatim into the main archive.
    Main,
    /// Real file into the secrets bundle, a sanitized copy into the main archive.
    SecretsAndSanitized,
    /// Only into the secrets bundle.
    Secrets,
}

impl Placement {
    fn note(self) -> &'static str {
        match self {
            Self::Main => "",
            Self::SecretsAndSanitized => "  [secrets bundle; sanitized copy in main]",
            Self::Secrets => "  [secrets bundle only]",
        }
    }
}

#[derive(Debug, Serialize)]
struct PlannedFile {
    path: String,
    category: Category,
    placement: Placement,
    /// Size on disk; `None` for a symlink.
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
}

/// The dry run's result, as printed with `--json`.
#[derive(Debug, Serialize)]
struct Plan {
    dry_run: bool,
    roots: Vec<String>,
    files_collected: u64,
    file_categories: BTreeMap<Category, u64>,
    files: Vec<PlannedFile>,
    skipped: Vec<Skip>,
    left_out: LeftOut,
}

/// Collects per `spec` without archiving; exit 0 when something would be collected, 1 when
/// nothing would (a real run fails then too).
pub(crate) fn run(spec: &CollectSpec, json: bool) -> anyhow::Result<u8> {
    let collection = collect(spec)?;
    let plan = plan(spec, &collection);
    if json {
        stdout::write(&format!("{}\n", serde_json::to_string_pretty(&plan)?))?;
    } else {
        stdout::write(&text(&plan))?;
    }
    Ok(if plan.files.is_empty() {
        status::FAILURE
    } else {
        status::OK
    })
}

fn plan(spec: &CollectSpec, c: &Collection) -> Plan {
    let mut files: BTreeMap<&str, PlannedFile> = BTreeMap::new();
    for entry in &c.main {
        let (Some(category), false) = (entry.category, matches!(entry.kind, EntryKind::Dir)) else {
            continue;
        };
        let placement = match entry.classification {
            Classification::Sanitized => Placement::SecretsAndSanitized,
            Classification::Plain | Classification::Secret => Placement::Main,
            // Listed with its secrets-bundle entry below.
            Classification::MovedToSecrets => continue,
        };
        files.insert(entry.path.as_str(), planned(entry, category, placement));
    }
    for entry in &c.secrets {
        let (Some(category), false) = (entry.category, matches!(entry.kind, EntryKind::Dir)) else {
            continue;
        };
        files
            .entry(entry.path.as_str())
            .or_insert_with(|| planned(entry, category, Placement::Secrets));
    }
    let files: Vec<PlannedFile> = files.into_values().collect();
    let mut file_categories = BTreeMap::new();
    for f in &files {
        *file_categories.entry(f.category).or_insert(0u64) += 1;
    }
    Plan {
        dry_run: true,
        roots: spec
            .roots()
            .iter()
            .map(|r| r.path.display().to_string())
            .collect(),
        files_collected: files.len() as u64,
        file_categories,
        files,
        skipped: c.skipped.clone(),
        left_out: c.left_out.clone(),
    }
}

fn planned(
    entry: &celeriac_backup::Entry,
    category: Category,
    placement: Placement,
) -> PlannedFile {
    let bytes = match entry.kind {
        EntryKind::File { size, .. } if placement != Placement::SecretsAndSanitized => Some(size),
        // The main entry of a sanitized file carries the sanitized size: report none.
        _ => None,
    };
    PlannedFile {
        path: entry.path.to_string(),
        category,
        placement,
        bytes,
    }
}

fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "dry run: nothing is archived or stored\nwould collect {} from {}",
        plural(plan.files_collected, "file"),
        plan.roots.join(", ")
    );
    for (category, count) in &plan.file_categories {
        let _ = writeln!(out, "\n{category} ({count}):");
        for f in plan.files.iter().filter(|f| f.category == *category) {
            let _ = writeln!(out, "  {}{}", f.path, f.placement.note());
        }
    }
    if !plan.skipped.is_empty() {
        let _ = writeln!(out, "\nskipped ({}):", plan.skipped.len());
        for s in &plan.skipped {
            let _ = writeln!(out, "  {}: {}", s.path, s.reason);
        }
    }
    if plan.left_out.count > 0 {
        let _ = writeln!(
            out,
            "\nleft out: {} that no rule takes \
             (add a [[collect.rules]] entry to collect them):",
            plural(plan.left_out.count, "config-looking file")
        );
        for path in &plan.left_out.paths {
            let _ = writeln!(out, "  {path}");
        }
        let listed = plan.left_out.paths.len() as u64;
        if plan.left_out.count > listed {
            let _ = writeln!(out, "  … and {} more", plan.left_out.count - listed);
        }
    }
    if plan.files.is_empty() {
        let _ = writeln!(
            out,
            "\nnothing would be collected: a real run ends FAILED (exit 1)"
        );
    }
    out
}

fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
