//! The crate's house rules, checked over its source text: no import cycle between sibling
//! modules anywhere in `src/` (so shared small types live below the modules that use them), and
//! the public API is exactly the list below (so it does not grow by accident).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every public name of the crate outside the `test-util` feature: the items `lib.rs` lists
/// (under 40), then the items of its public modules (`config`, `error`, `manifest`, `report`)
/// as `module::Name`. Adding one is a decision: change
/// this list and `ARCHITECTURE.md` together.
const PUBLIC_API: &[&str] = &[
    "BackupError",
    "BackupId",
    "Collection",
    "CommitPolicy",
    "DeepOptions",
    "DeepReport",
    "Entry",
    "EntryKind",
    "Expected",
    "PathFilter",
    "Pipeline",
    "ProgressEvent",
    "ProgressSink",
    "Reference",
    "RestoreAttempt",
    "RestoreError",
    "RestoreMode",
    "RestoreOptions",
    "RestoreReport",
    "RestoreSource",
    "VerifyError",
    "VerifyReport",
    "collect",
    "config",
    "config::AddressError",
    "config::ArtifactAddress",
    "config::ArtifactName",
    "config::BackupConfig",
    "config::BackupKeys",
    "config::CollectSpec",
    "config::ConfigError",
    "config::GzipOptions",
    "config::KeyRef",
    "config::Limits",
    "config::NameError",
    "config::OpenStoreError",
    "config::PipelineOptions",
    "config::RawBackupConfig",
    "config::RawBackupSection",
    "config::RawCollectConfig",
    "config::RawKeys",
    "config::RawLimits",
    "config::RawRoot",
    "config::RawRule",
    "config::RetryPolicy",
    "config::RootSpec",
    "config::SpecError",
    "config::StoreCredentials",
    "config::StoreTarget",
    "config::SuspectedSecretPolicy",
    "config::UnreadablePolicy",
    "config::local_roots",
    "config::sibling_key",
    "error",
    "error::ArchiveError",
    "error::Change",
    "error::CollectError",
    "error::EntryProblem",
    "error::ExtractError",
    "error::FsOp",
    "error::GzipError",
    "error::RejectedType",
    "error::Stage",
    "manifest",
    "manifest::ArchivePath",
    "manifest::Bundle",
    "manifest::Category",
    "manifest::Classification",
    "manifest::EntryType",
    "manifest::LinkProblem",
    "manifest::Manifest",
    "manifest::ManifestEntry",
    "manifest::ManifestEntryRef",
    "manifest::ManifestError",
    "manifest::ManifestIndex",
    "manifest::PathProblem",
    "manifest::Sha256Digest",
    "manifest::Totals",
    "remove_own_staging",
    "remove_stale_staging",
    "report",
    "report::ArtifactReport",
    "report::ArtifactSizes",
    "report::BackupReport",
    "report::BackupStatus",
    "report::CategoryCount",
    "report::CollectionReport",
    "report::CopyError",
    "report::CopyErrorKind",
    "report::CopyOrigin",
    "report::CopyReport",
    "report::CopyState",
    "report::LeftOut",
    "report::Skip",
    "report::SkipReason",
    "report::SpecialKind",
    "report::StageTimings",
    "report::StoreSummary",
    "report::SuspectReason",
    "report::SuspectedSecret",
    "restore",
    "verify_artifact",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `src/a/b.rs` → `["a", "b"]`; `src/lib.rs` → `[]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.strip_suffix(".rs").expect("a .rs file");
    if !(parts.is_empty() && stem == "lib") {
        parts.push(stem.to_owned());
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src") {
        let path = entry.expect("a dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module paths named after `prefix` in `text` (`crate::a::b::{C, d}` gives `a::b`).
fn paths_after(text: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let path: Vec<String> = rest[..end]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        found.push(path);
    }
    found
}

/// The text of a file down to its first inline module (`mod tests {`), where `super::` stops
/// meaning the file's parent.
fn file_level(text: &str) -> &str {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        let t = t
            .strip_prefix("pub(crate) ")
            .or_else(|| t.strip_prefix("pub "))
            .unwrap_or(t);
        if t.starts_with("mod ") && t.trim_end().ends_with('{') {
            return &text[..offset];
        }
        offset += line.len();
    }
    text
}

/// Edges between sibling modules: `a::x` using `b::y` (a ≠ b, same parent) is `a → b` under
/// that parent. Uses of an ancestor or a descendant are not edges.
fn sibling_edges() -> BTreeMap<Vec<String>, BTreeSet<(String, String)>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(f)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<(String, String)>> = BTreeMap::new();
    for file in &files {
        let from = module_of(file);
        let text = std::fs::read_to_string(file).expect("readable source");
        let mut targets = paths_after(&text, "crate::");
        for rel in paths_after(file_level(&text), "super::") {
            let mut base = from.clone();
            base.pop();
            let mut rel = rel.as_slice();
            while rel.first().is_some_and(|s| s == "super") {
                base.pop();
                rel = &rel[1..];
            }
            base.extend(rel.iter().cloned());
            targets.push(base);
        }
        for path in targets {
            let to = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| modules.contains(p))
                .unwrap_or_default();
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == from.len() || common == to.len() {
                continue;
            }
            edges
                .entry(from[..common].to_vec())
                .or_default()
                .insert((from[common].clone(), to[common].clone()));
        }
    }
    edges
}

/// A cycle among `edges`, if there is one.
fn find_cycle(edges: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    fn visit<'a>(
        node: &'a str,
        edges: &'a BTreeSet<(String, String)>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| *n == node) {
            return Some(stack[at..].iter().map(|s| (*s).to_owned()).collect());
        }
        if !done.insert(node) {
            return None;
        }
        stack.push(node);
        for (_, next) in edges.iter().filter(|(a, _)| a == node) {
            if let Some(cycle) = visit(next, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .iter()
        .find_map(|(a, _)| visit(a, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_import_cycle_between_sibling_modules() {
    let edges = sibling_edges();
    assert!(
        edges.get(&Vec::new()).is_some_and(|e| e.len() > 10),
        "the scan found the crate's top-level edges: {edges:?}"
    );
    let cycles: Vec<String> = edges
        .iter()
        .filter_map(|(parent, e)| {
            find_cycle(e)
                .map(|c| format!("under `crate::{}`: {}", parent.join("::"), c.join(" → ")))
        })
        .collect();
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    let edges: BTreeSet<(String, String)> = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(find_cycle(&edges).map(|c| c.len()), Some(3));
    let dag: BTreeSet<(String, String)> = edges.into_iter().filter(|(a, _)| a != "c").collect();
    assert_eq!(find_cycle(&dag), None);
}

/// The names a module's text makes public: `pub use a::{B, c}`, `pub mod x`, `pub fn f`, …,
/// skipping items behind `#[cfg(feature = "test-util")]`.
fn public_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut gated = false;
    let mut statement = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("//") {
            continue;
        }
        if statement.is_empty() {
            if line.starts_with("#[cfg(feature = \"test-util\")]") {
                gated = true;
                continue;
            }
            if line.starts_with("#[") {
                continue;
            }
            if !line.starts_with("pub ") {
                gated = false;
                continue;
            }
        }
        statement.push_str(t);
        statement.push(' ');
        let done = if statement.starts_with("pub use ") {
            t.ends_with(';')
        } else {
            t.ends_with(';') || t.ends_with('{') || t.ends_with('}')
        };
        if !done {
            continue;
        }
        let s = std::mem::take(&mut statement);
        if std::mem::take(&mut gated) {
            continue;
        }
        if let Some(used) = s.strip_prefix("pub use ") {
            let used = used.trim().trim_end_matches(';');
            let list = match used.find('{') {
                Some(at) => used[at + 1..].trim_end_matches('}').to_owned(),
                None => used.rsplit("::").next().unwrap_or(used).to_owned(),
            };
            names.extend(
                list.split(',')
                    .map(|n| {
                        n.trim()
                            .rsplit(" as ")
                            .next()
                            .unwrap_or("")
                            .trim()
                            .to_owned()
                    })
                    .filter(|n| !n.is_empty()),
            );
        } else {
            let words: Vec<&str> = s.split_whitespace().collect();
            let kinds = [
                "mod", "fn", "struct", "enum", "const", "type", "trait", "static",
            ];
            if let Some(at) = words.iter().position(|w| kinds.contains(w)) {
                let name = words.get(at + 1).copied().unwrap_or("");
                let name: String = name
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                names.push(name);
            }
        }
    }
    names
}

#[test]
fn the_public_api_is_the_listed_one() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("lib.rs");
    let root = public_names(&lib);
    assert!(
        root.len() < 40,
        "{} items at the crate root: {root:?}",
        root.len()
    );
    let mut all: Vec<String> = root.clone();
    for module in root
        .iter()
        .filter(|n| src().join(format!("{n}.rs")).exists())
    {
        let text = std::fs::read_to_string(src().join(format!("{module}.rs"))).expect("module");
        if lib.contains(&format!("pub mod {module};")) {
            all.extend(
                public_names(&text)
                    .into_iter()
                    .map(|n| format!("{module}::{n}")),
            );
        }
    }
    all.sort();
    let mut expected: Vec<String> = PUBLIC_API.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(
        all, expected,
        "the public API changed; update PUBLIC_API if that is meant"
    );
}
