//! The one config file every subcommand reads (`--config` / `CELERIAC_CONFIG`): the list of its
//! top-level names and which subcommand reads each, the file read and checked against that list,
//! and each subcommand's part of it. A name nobody reads (a typo such as `[colect]`) is refused
//! by every subcommand (exit 78); a name another subcommand reads is left to it. Unknown keys
//! inside a section stay the business of the library that reads it.

use std::path::Path;

use anyhow::{Context, anyhow};

use crate::cmd::status::Coded;

/// Environment variable naming the config file when `--config` is not given.
pub(crate) const CONFIG_ENV: &str = "CELERIAC_CONFIG";

/// Who reads a top-level name of the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reader {
    /// `celeriac worker`.
    Worker,
    /// `celeriac backup`, `verify` and `restore`.
    Backup,
    /// `celeriac beat`.
    Beat,
}

impl Reader {
    /// The subcommands, as the docs name them.
    fn label(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::Backup => "backup, verify and restore",
            Self::Beat => "beat",
        }
    }
}

/// The worker's own section; its keys are the worker's top-level keys, which may also be written
/// at the top level (as they were before the file was shared).
pub(crate) const WORKER_SECTION: &str = "worker";

/// Every top-level name of the config file and its reader. The worker's settings are top-level
/// keys (plus its `[queue.NAME]` and `[task."NAME"]` tables) or, the same keys, in `[worker]`;
/// the other concerns each have their own tables.
pub(crate) const SECTIONS: &[(&str, Reader)] = &[
    (WORKER_SECTION, Reader::Worker),
    ("broker-url", Reader::Worker),
    ("queues", Reader::Worker),
    ("concurrency", Reader::Worker),
    ("prefetch-multiplier", Reader::Worker),
    ("hostname", Reader::Worker),
    ("shutdown-grace", Reader::Worker),
    ("eta-limit", Reader::Worker),
    ("consumer-timeout", Reader::Worker),
    ("reconnect-initial", Reader::Worker),
    ("reconnect-max", Reader::Worker),
    ("metrics-listen", Reader::Worker),
    ("log-format", Reader::Worker),
    ("queue", Reader::Worker),
    ("task", Reader::Worker),
    ("backup", Reader::Backup),
    ("keys", Reader::Backup),
    ("limits", Reader::Backup),
    ("collect", Reader::Backup),
    ("stores", Reader::Backup),
    ("beat", Reader::Beat),
];

/// Who reads `name`, if anybody.
pub(crate) fn reader(name: &str) -> Option<Reader> {
    SECTIONS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// Reads and parses the config file at `path` and checks every top-level name against
/// [`SECTIONS`]. Every failure is a configuration error (exit 78) naming the file.
pub(crate) fn read(path: &Path) -> anyhow::Result<toml::Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))
        .map_err(Coded::config)?;
    parse(&text)
        .with_context(|| format!("in the config file {}", path.display()))
        .map_err(Coded::config)
}

/// The parsed text, when each top-level name has a reader.
fn parse(text: &str) -> anyhow::Result<toml::Table> {
    let table: toml::Table = text.parse()?;
    if let Some((name, value)) = table.iter().find(|(name, _)| reader(name).is_none()) {
        let what = if value.is_table() {
            format!("table `[{name}]`")
        } else {
            format!("key `{name}`")
        };
        return Err(anyhow!(
            "unknown top-level {what}: no subcommand reads it (known: {})",
            known()
        ));
    }
    Ok(table)
}

/// The known names with their readers, for the error message.
fn known() -> String {
    let mut parts: Vec<String> = Vec::new();
    for r in [Reader::Worker, Reader::Backup, Reader::Beat] {
        let names: Vec<&str> = SECTIONS
            .iter()
            .filter(|(_, owner)| *owner == r)
            .map(|(n, _)| *n)
            .collect();
        parts.push(format!("{} for {}", names.join(", "), r.label()));
    }
    parts.join("; ")
}

/// The part of `table` that `who` reads: every other subcommand's names removed.
pub(crate) fn part(mut table: toml::Table, who: Reader) -> toml::Table {
    table.retain(|name, _| reader(name) == Some(who));
    table
}

/// The worker's part of `table` as one flat table: its top-level keys, with the keys of
/// `[worker]` moved beside them. A key set in both places is refused, naming it.
pub(crate) fn worker_part(table: toml::Table) -> anyhow::Result<toml::Table> {
    let mut part = part(table, Reader::Worker);
    let Some(section) = part.remove(WORKER_SECTION) else {
        return Ok(part);
    };
    let toml::Value::Table(section) = section else {
        return Err(anyhow!("`{WORKER_SECTION}` must be a table"));
    };
    for (key, value) in section {
        if part.contains_key(&key) {
            return Err(anyhow!(
                "`{key}` is set both at the top level and in [{WORKER_SECTION}]: keep one"
            ));
        }
        part.insert(key, value);
    }
    Ok(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHOLE: &str = r#"
concurrency = 2
[worker]
queues = ["backups"]
[queue.backups]
x-max-priority = 10
[backup]
prefix = "p"
[collect]
[[collect.roots]]
path = "/srv"
[stores.r2]
bucket = "b"
[beat]
timezone = "UTC"
"#;

    #[test]
    fn each_reader_gets_only_its_names() {
        let table = parse(WHOLE).unwrap();
        let names = |who| part(table.clone(), who).keys().cloned().collect::<Vec<_>>();
        assert_eq!(names(Reader::Worker), ["concurrency", "queue", "worker"]);
        assert_eq!(names(Reader::Backup), ["backup", "collect", "stores"]);
        assert_eq!(names(Reader::Beat), ["beat"]);
    }

    #[test]
    fn a_name_nobody_reads_is_refused_by_name() {
        let err = parse("[colect]\n[[colect.roots]]\npath = \"/srv\"\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown top-level table `[colect]`"),
            "{err}"
        );
        let err = parse("concurency = 2\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown top-level key `concurency`"),
            "{err}"
        );
    }

    #[test]
    fn the_worker_section_joins_the_top_level_keys() {
        let table = parse("concurrency = 2\n[worker]\nqueues = [\"a\"]\n[worker.queue.a]\nx-max-priority = 10\n[beat]\n").unwrap();
        let part = worker_part(table).unwrap();
        assert_eq!(
            part.keys().collect::<Vec<_>>(),
            ["concurrency", "queue", "queues"]
        );
        let table = parse("concurrency = 2\n[worker]\nconcurrency = 3\n").unwrap();
        let err = worker_part(table).unwrap_err();
        assert!(
            err.to_string().contains("`concurrency` is set both"),
            "{err}"
        );
    }

    /// The names `who` reads, sorted (without the `[worker]` section itself).
    fn names_of(who: Reader) -> Vec<&'static str> {
        let mut names: Vec<&str> = SECTIONS
            .iter()
            .filter(|(n, r)| *r == who && *n != WORKER_SECTION)
            .map(|(n, _)| *n)
            .collect();
        names.sort_unstable();
        names
    }

    /// The field names serde lists when it refuses the unknown key `zzz-not-a-key`:
    /// "unknown field `zzz-not-a-key`, expected one of `a`, `b`, ...", sorted.
    fn expected_fields(err: impl std::error::Error + Send + Sync + 'static) -> Vec<String> {
        let message = format!("{:#}", anyhow::Error::new(err));
        let mut fields: Vec<String> = message
            .split('`')
            .skip(3)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        assert!(
            message.contains("unknown field `zzz-not-a-key`"),
            "{message}"
        );
        fields.sort_unstable();
        fields
    }

    #[test]
    fn the_worker_names_are_exactly_the_worker_config_keys() {
        let Err(err) = celeriac_worker::RawConfig::from_toml("zzz-not-a-key = 1") else {
            panic!("an unknown key was accepted");
        };
        assert_eq!(expected_fields(err), names_of(Reader::Worker));
    }

    #[test]
    fn the_backup_names_are_exactly_the_backup_config_tables() {
        let Err(err) = celeriac_backup::RawBackupConfig::from_toml("zzz-not-a-key = 1") else {
            panic!("an unknown key was accepted");
        };
        assert_eq!(expected_fields(err), names_of(Reader::Backup));
    }
}
