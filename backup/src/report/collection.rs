//! What a collection counted and left out, as the report shows it: [`CategoryCount`] per
//! category, [`LeftOut`] config-looking files no rule took, and [`SuspectedSecret`] lines (with
//! their [`SuspectReason`]) that redaction left in place. The collector fills them in.

use serde::Serialize;

/// Files collected per category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CategoryCount {
    /// Files and symlinks collected.
    pub files: u64,
    /// Bytes of those files as found on disk.
    pub bytes: u64,
    /// How many of them went to the secrets bundle.
    pub secrets: u64,
}

/// Config-looking files that no rule took (`*.conf`, `*.ini`, `*.toml`, `*.yml`, …), so an
/// operator can add a `[[collect.rules]]` entry: the first [`LeftOut::LISTED`] archive paths in
/// walk order, and how many there were in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    /// How many such files the walk saw.
    pub count: u64,
    /// Their archive paths (sorted), at most [`LeftOut::LISTED`] of them.
    pub paths: Vec<String>,
}

impl LeftOut {
    /// Most paths listed by name.
    pub const LISTED: usize = 1000;

    pub(crate) fn add(&mut self, path: String) {
        self.count += 1;
        if self.paths.len() < Self::LISTED {
            self.paths.push(path);
        }
    }
}

/// Why a line was reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SuspectReason {
    /// A value that looks like a credential by its randomness alone (kept: hashes and digests
    /// look the same).
    SecretLookingValue,
    /// A secret-named key whose value goes on over lines this reading does not follow (kept).
    UnparsedValue,
}

/// A line of a collected file that may hold a secret the redaction left in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuspectedSecret {
    /// Archive path of the file.
    pub path: String,
    /// 1-based line number.
    pub line: usize,
    /// Why.
    pub why: SuspectReason,
}
