//! The crate's house rules, checked over its source text: no import cycle between sibling
//! modules anywhere in `src/` (so shared small types live below the modules that use them), and
//! the public API is exactly the list below, under 40 names (so it does not grow by accident).
//!
//! How the public API is counted: rustdoc's JSON output would list it exactly, but it needs a
//! nightly compiler, so this reads the source instead. Starting at `lib.rs`, it takes every
//! file-level `pub` statement (`pub use` leaves by their exported name, `pub fn`/`struct`/
//! `enum`/`const`/`type`/`trait`/`static`/`union`, `pub mod`), follows each `pub mod` into its
//! file and does the same there, so a name is counted wherever a user can reach it by path.
//! Items behind `#[cfg(feature = "test-util")]` (the `internals` module) and `#[cfg(test)]` are
//! not the API and are skipped; `pub` items of private modules are only reachable through a
//! `pub use`, which is counted. What the reader cannot follow fails the test instead of being
//! skipped: a glob re-export, a re-exported module, an exported macro, an inline public module,
//! a `pub` statement of another shape. Methods and fields are not items and are not counted.
//!
//! What this reader cannot see, the compiler checks: `lib.rs` denies `unnameable_types`
//! (without `test-util`), so no type outside this list can reach a user through a public field,
//! a method's signature, an error's payload or a trait impl. The list is therefore the whole
//! set of types a user can hold, not only the ones they can name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every name a user of the crate can write outside the `test-util` feature, as a path from
/// the root (`Pipeline`, or `module::Name` if a public module ever returns). Under 40, and
/// adding one is a decision: change this list and `ARCHITECTURE.md` together.
const PUBLIC_API: &[&str] = &[
    "AddressError",
    "ArtifactAddress",
    "ArtifactName",
    "ArtifactReport",
    "BackupConfig",
    "BackupError",
    "BackupId",
    "BackupKeys",
    "BackupReport",
    "BackupStatus",
    "Bundle",
    "CollectSpec",
    "ConfigError",
    "CopyError",
    "CopyErrorKind",
    "CopyReport",
    "DeepOptions",
    "Expected",
    "KeyRef",
    "ManifestEntryRef",
    "PathFilter",
    "Pipeline",
    "Plan",
    "ProgressEvent",
    "RawBackupConfig",
    "RawKeys",
    "RestoreAttempt",
    "RestoreError",
    "RestoreMode",
    "RestoreOptions",
    "RestoreReport",
    "RestoreSource",
    "StoreCredentials",
    "StoreTarget",
    "VerifyError",
    "VerifyReport",
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
    let exports = root_exports();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<(String, String)>> = BTreeMap::new();
    for file in &files {
        let from = module_of(file);
        let text = std::fs::read_to_string(file).expect("readable source");
        let mut targets = paths_after(&text, "crate::");
        assert!(
            targets.iter().all(|p| !p.is_empty()),
            "{}: a grouped `crate::{{...}}` path, which this scan does not follow",
            file.display()
        );
        // `crate::Name` of a name the root re-exports is a use of the module that defines it.
        for path in &mut targets {
            if let Some(source) = exports.get(&path[0]) {
                let rest = path.split_off(1);
                *path = source.iter().cloned().chain(rest).collect();
            }
        }
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

/// The root's re-exports: exported name → the path it re-exports (`RestoreError` →
/// `read::restore::RestoreError`).
fn root_exports() -> BTreeMap<String, Vec<String>> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("lib.rs");
    let mut out = BTreeMap::new();
    for statement in public_statements(&lib) {
        let Public::Use(leaves) = statement else {
            continue;
        };
        for leaf in leaves {
            let (path, name) = match leaf.split_once(" as ") {
                Some((path, alias)) => (path.trim(), alias.trim()),
                None => (
                    leaf.trim(),
                    leaf.rsplit("::").next().unwrap_or_default().trim(),
                ),
            };
            let path: Vec<String> = path.split("::").map(str::to_owned).collect();
            out.insert(name.to_owned(), path);
        }
    }
    out
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

/// One `pub` statement of a module's text, outside `#[cfg(feature = "test-util")]` items and
/// `#[cfg(test)]` modules.
#[derive(Debug, PartialEq)]
enum Public {
    /// `pub use a::b::{C, d as e};`: each leaf path, as written (`a::b::C`, `a::b::d as e`).
    Use(Vec<String>),
    /// `pub mod x;` (a file) or `pub mod x {` (inline: its items follow, and are not walked).
    Mod(String),
    /// `pub fn f`, `pub struct S`, `pub enum E`, `pub const`, `pub type`, `pub trait`,
    /// `pub static`, `pub union`: the item's name.
    Item(String),
}

/// The leaves of a use tree: `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn use_leaves(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.to_owned()];
    };
    let (prefix, inner) = (
        &tree[..open],
        &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())],
    );
    let (mut parts, mut depth, mut current) = (Vec::new(), 0, String::new());
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
        .iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| use_leaves(p))
        .map(|leaf| format!("{prefix}{leaf}"))
        .collect()
}

/// The `pub` statements of a module's file text (see [`Public`]). Lines that declare something
/// public but that this reader does not understand (`pub(in …)` aside: a `pub` macro, a
/// `#[macro_export]`, a glob re-export) fail the test rather than being skipped.
fn public_statements(text: &str) -> Vec<Public> {
    let mut found = Vec::new();
    let mut gated = false;
    let mut statement = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("//") {
            continue;
        }
        assert!(!t.starts_with("#[macro_export"), "a macro is exported: {t}");
        if statement.is_empty() {
            // Only the file's own level: an item's body (indented) is not a module's item.
            if t.starts_with("#[cfg(feature = \"test-util\")]") || t == "#[cfg(test)]" {
                gated = true;
                continue;
            }
            if t.starts_with("#[") || t.is_empty() {
                continue;
            }
            if line.starts_with(' ') || line.starts_with('\t') || !line.starts_with("pub ") {
                gated = false;
                continue;
            }
        }
        statement.push_str(t);
        statement.push(' ');
        let done = if statement.starts_with("pub use ") {
            t.ends_with(';')
        } else {
            t.ends_with(';')
                || t.ends_with('{')
                || t.ends_with('}')
                || t.ends_with(',')
                || t.ends_with('(')
        };
        if !done {
            continue;
        }
        let s = std::mem::take(&mut statement);
        if std::mem::take(&mut gated) {
            continue;
        }
        if let Some(used) = s.strip_prefix("pub use ") {
            let leaves = use_leaves(used.trim().trim_end_matches(';'));
            assert!(
                leaves.iter().all(|l| !l.ends_with('*')),
                "a glob re-export hides what is public: {s}"
            );
            found.push(Public::Use(leaves));
            continue;
        }
        let words: Vec<&str> = s.split_whitespace().collect();
        let kinds = [
            "mod", "fn", "struct", "enum", "const", "type", "trait", "static", "union",
        ];
        let at = words
            .iter()
            .position(|w| kinds.contains(w))
            .unwrap_or_else(|| panic!("a public statement this test cannot read: {s}"));
        let name: String = words
            .get(at + 1)
            .copied()
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        found.push(if words[at] == "mod" {
            Public::Mod(name)
        } else {
            Public::Item(name)
        });
    }
    found
}

/// The file of module `path` (`[]` is `lib.rs`).
fn module_file(path: &[String]) -> PathBuf {
    if path.is_empty() {
        return src().join("lib.rs");
    }
    let flat = src().join(format!("{}.rs", path.join("/")));
    if flat.exists() {
        flat
    } else {
        src().join(path.join("/")).join("mod.rs")
    }
}

/// Every public path of the crate: the `pub` items and re-exports of the root, then, through
/// every `pub mod`, of each public module in turn (a `pub use` of a module counts as one name;
/// what it holds is reached through its own `pub mod` chain, which this walks).
fn public_paths() -> Vec<String> {
    let mut out = Vec::new();
    let mut queue: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(module) = queue.pop() {
        let file = module_file(&module);
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("module {module:?} at {}: {e}", file.display()));
        let at = |name: &str| {
            let mut path = module.clone();
            path.push(name.to_owned());
            path.join("::")
        };
        for statement in public_statements(&text) {
            match statement {
                Public::Use(leaves) => {
                    for leaf in leaves {
                        let name = leaf.rsplit(" as ").next().unwrap_or(&leaf);
                        let name = name.rsplit("::").next().unwrap_or(name).trim();
                        assert!(
                            name != "self",
                            "`pub use …::self` re-exports a module: {leaf}"
                        );
                        let target = leaf.split(" as ").next().unwrap_or(&leaf).trim();
                        let segments: Vec<String> = target.split("::").map(str::to_owned).collect();
                        let absolute = segments
                            .strip_prefix(&["crate".to_owned()])
                            .map(<[String]>::to_vec);
                        let relative = [module.clone(), segments.clone()].concat();
                        assert!(
                            absolute.is_none_or(|p| !module_file(&p).exists())
                                && !module_file(&relative).exists(),
                            "`pub use {leaf}` re-exports a module: its items would be public \
                             without this walk seeing them"
                        );
                        out.push(at(name));
                    }
                }
                Public::Mod(name) => {
                    out.push(at(&name));
                    let mut child = module.clone();
                    child.push(name);
                    if module_file(&child).exists() {
                        queue.push(child);
                    } else {
                        panic!("inline `pub mod {}`: move it to a file or gate it", at(""));
                    }
                }
                Public::Item(name) => out.push(at(&name)),
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_public_api_is_the_listed_one_and_under_40() {
    let all = public_paths();
    assert!(
        all.len() > 10 && all.iter().any(|p| p == "Pipeline"),
        "the walk found the root's names: {all:?}"
    );
    let mut expected: Vec<String> = PUBLIC_API.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(
        all, expected,
        "the public API changed; update PUBLIC_API if that is meant"
    );
    assert!(all.len() < 40, "{} public names: {all:?}", all.len());
}

/// The list above is every type a user can hold only while the compiler refuses an unnameable
/// one: the crate-level lint must stay.
#[test]
fn the_compiler_refuses_types_outside_the_list() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("lib.rs");
    assert!(
        lib.lines()
            .any(|l| l.trim()
                == r#"#![cfg_attr(not(feature = "test-util"), deny(unnameable_types))]"#),
        "lib.rs must deny unnameable_types outside test-util"
    );
}

#[test]
fn the_public_api_reader_sees_every_kind_of_statement() {
    let text = r#"
//! docs
pub use a::b::{C, d::{E, f as g}};
pub use h::I;
pub(crate) use j::K;
#[cfg(feature = "test-util")]
pub mod internals {
    pub use crate::x::Y;
}
#[cfg(test)]
mod tests {}
pub mod room;
mod private;
pub struct S {
    pub field: u8,
}
pub enum E2 {
    A,
}
pub fn run(
    x: u8,
) {}
pub const N: usize = 1;
pub type T = u8;
pub(crate) fn hidden() {}
impl S {
    pub fn method(&self) {}
}
"#;
    let found = public_statements(text);
    assert_eq!(
        found,
        vec![
            Public::Use(vec![
                "a::b::C".into(),
                "a::b::d::E".into(),
                "a::b::d::f as g".into()
            ]),
            Public::Use(vec!["h::I".into()]),
            Public::Mod("room".into()),
            Public::Item("S".into()),
            Public::Item("E2".into()),
            Public::Item("run".into()),
            Public::Item("N".into()),
            Public::Item("T".into()),
        ]
    );
}
