//! The dry run ([`Plan`]): what a backup would take, made by the same collection step as a real
//! run, but nothing is archived or stored. Per file: its category and where it would go (main
//! archive, secrets bundle, or both with a sanitized copy in main); then what would be skipped
//! and the config-looking files no rule takes. Serialises to the JSON of
//! `celeriac backup --dry-run --json`; [`fmt::Display`] is its text form.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::Serialize;

use crate::config::spec::CollectSpec;
use crate::manifest::{Category, Classification};
use crate::report::{LeftOut, Skip};
use crate::write::collect::{Collection, Entry, EntryKind, collect};
use crate::write::error::BackupError;

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

#[derive(Debug, Clone, Serialize)]
struct PlannedFile {
    path: String,
    category: Category,
    placement: Placement,
    /// Size on disk; `None` for a symlink.
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
}

/// What a backup with a [`CollectSpec`] would collect (see the module docs). Serialisable
/// (the dry run's JSON); its `Display` is the text a person reads.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    dry_run: bool,
    roots: Vec<String>,
    files_collected: u64,
    file_categories: BTreeMap<Category, u64>,
    files: Vec<PlannedFile>,
    skipped: Vec<Skip>,
    left_out: LeftOut,
}

impl Plan {
    /// Collects per `spec` without archiving (files are read only to classify them).
    ///
    /// # Errors
    /// [`BackupError::Collect`] when a required root cannot be opened or the walk fails, as
    /// a real run would.
    pub fn of(spec: &CollectSpec) -> Result<Self, BackupError> {
        let collection = collect(spec).map_err(|e| BackupError::Collect(e.into()))?;
        Ok(Self::from_collection(spec, &collection))
    }

    /// `true` when nothing would be collected (a real run would end FAILED).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    fn from_collection(spec: &CollectSpec, c: &Collection) -> Self {
        let mut files: BTreeMap<&str, PlannedFile> = BTreeMap::new();
        for entry in &c.main {
            let (Some(category), false) = (entry.category, matches!(entry.kind, EntryKind::Dir))
            else {
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
            let (Some(category), false) = (entry.category, matches!(entry.kind, EntryKind::Dir))
            else {
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
        Self {
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
}

fn planned(entry: &Entry, category: Category, placement: Placement) -> PlannedFile {
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

/// The text form (`celeriac backup --dry-run` without `--json`).
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "dry run: nothing is archived or stored\nwould collect {} from {}",
            plural(self.files_collected, "file"),
            self.roots.join(", ")
        );
        for (category, count) in &self.file_categories {
            let _ = writeln!(out, "\n{category} ({count}):");
            for file in self.files.iter().filter(|file| file.category == *category) {
                let _ = writeln!(out, "  {}{}", file.path, file.placement.note());
            }
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(out, "\nskipped ({}):", self.skipped.len());
            for s in &self.skipped {
                let _ = writeln!(out, "  {}: {}", s.path, s.reason);
            }
        }
        if self.left_out.count > 0 {
            let _ = writeln!(
                out,
                "\nleft out: {} that no rule takes \
                 (add a [[collect.rules]] entry to collect them):",
                plural(self.left_out.count, "config-looking file")
            );
            for path in &self.left_out.paths {
                let _ = writeln!(out, "  {path}");
            }
            let listed = self.left_out.paths.len() as u64;
            if self.left_out.count > listed {
                let _ = writeln!(out, "  … and {} more", self.left_out.count - listed);
            }
        }
        if self.files.is_empty() {
            let _ = writeln!(
                out,
                "\nnothing would be collected: a real run ends FAILED (exit 1)"
            );
        }
        f.write_str(&out)
    }
}

fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
