//! The one config file every subcommand reads (`--config` / `CELERIAC_CONFIG`): the list of its
//! top-level names and which subcommand reads each, the file read and checked against that list,
//! and each subcommand's part of it. A name nobody reads (a typo such as `[colect]`) is refused
//! by every subcommand (exit 78); a name another subcommand reads is left to it. Unknown keys
//! inside a section stay the business of the library that reads it.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

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
    /// Every subcommand that uses the backup catalog: `backup`, `list`, `show`, `verify`,
    /// `restore`, `migrate` and the worker's backup task.
    Database,
    /// The worker's `configuration_backup` task (`[job]`).
    Job,
}

impl Reader {
    /// The subcommands, as the docs name them.
    fn label(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::Backup => "backup, verify and restore",
            Self::Beat => "beat",
            Self::Database => "every subcommand that uses the backup catalog",
            Self::Job => "the worker's configuration_backup task",
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
    ("events", Reader::Worker),
    ("without-heartbeat", Reader::Worker),
    ("events-broker-url", Reader::Worker),
    ("events-buffer", Reader::Worker),
    ("queue", Reader::Worker),
    ("task", Reader::Worker),
    ("backup", Reader::Backup),
    ("keys", Reader::Backup),
    ("limits", Reader::Backup),
    ("collect", Reader::Backup),
    ("stores", Reader::Backup),
    ("beat", Reader::Beat),
    (DATABASE_SECTION, Reader::Database),
    ("job", Reader::Job),
];

/// The catalog's section, `[database]`, shared by every subcommand that uses the catalog.
pub(crate) const DATABASE_SECTION: &str = "database";

/// Who reads `name`, if anybody.
pub(crate) fn reader(name: &str) -> Option<Reader> {
    SECTIONS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// The config file as read, its top-level names checked against [`SECTIONS`].
#[derive(Debug)]
pub(crate) struct ConfigFile {
    path: PathBuf,
    text: String,
}

/// Reads and parses the config file at `path` and checks every top-level name against
/// [`SECTIONS`]. Every failure is a configuration error (exit 78) naming the file.
pub(crate) fn read(path: &Path) -> anyhow::Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))
        .map_err(Coded::config)?;
    check_names(&text)
        .with_context(|| format!("in the config file {}", path.display()))
        .map_err(Coded::config)?;
    Ok(ConfigFile {
        path: path.to_owned(),
        text,
    })
}

impl ConfigFile {
    /// The part `who` reads, deserialized into its raw config (errors, exit 78, name the file
    /// and carry the line and column of the key at fault).
    pub(crate) fn part<T: DeserializeOwned>(
        &self,
        who: Reader,
        wrap: impl FnOnce(toml::de::Error) -> anyhow::Error,
    ) -> anyhow::Result<T> {
        part(&self.text, who)
            .and_then(|table| deserialize(&self.text, table))
            .map_err(wrap)
            .with_context(|| format!("in the config file {}", self.path.display()))
            .map_err(Coded::config)
    }

    /// The worker's part: its top-level keys, with the keys of `[worker]` moved beside them (a
    /// key set in both places is refused, naming it), deserialized as [`ConfigFile::part`].
    pub(crate) fn worker_part<T: DeserializeOwned>(
        &self,
        wrap: impl FnOnce(toml::de::Error) -> anyhow::Error,
    ) -> anyhow::Result<T> {
        let text = self.text.as_str();
        worker_table(text)
            .and_then(|table| deserialize(text, table).map_err(wrap))
            .with_context(|| format!("in the config file {}", self.path.display()))
            .map_err(Coded::config)
    }
}

/// Refuses a top-level name that nobody reads (and text that is not TOML).
fn check_names(text: &str) -> anyhow::Result<()> {
    let table = DeTable::parse(text)?.into_inner();
    if let Some((name, value)) = table
        .iter()
        .find(|(name, _)| reader(name.get_ref()).is_none())
    {
        let name = name.get_ref();
        let what = if matches!(value.get_ref(), DeValue::Table(_)) {
            format!("table `[{name}]`")
        } else {
            format!("key `{name}`")
        };
        return Err(anyhow!(
            "unknown top-level {what}: no subcommand reads it (known: {})",
            known()
        ));
    }
    Ok(())
}

/// The known names with their readers, for the error message.
fn known() -> String {
    let mut parts: Vec<String> = Vec::new();
    for r in [
        Reader::Worker,
        Reader::Backup,
        Reader::Beat,
        Reader::Database,
        Reader::Job,
    ] {
        let names: Vec<&str> = SECTIONS
            .iter()
            .filter(|(_, owner)| *owner == r)
            .map(|(n, _)| *n)
            .collect();
        parts.push(format!("{} for {}", names.join(", "), r.label()));
    }
    parts.join("; ")
}

/// The part of `text` that `who` reads: every other subcommand's names removed, spans kept.
fn part(text: &str, who: Reader) -> Result<Spanned<DeTable<'_>>, toml::de::Error> {
    let table = DeTable::parse(text)?;
    let span = table.span();
    let table = table
        .into_inner()
        .into_iter()
        .filter(|(name, _)| reader(name.get_ref()) == Some(who))
        .collect();
    Ok(Spanned::new(span, table))
}

/// The worker's part of `text` as one flat table.
fn worker_table(text: &str) -> anyhow::Result<Spanned<DeTable<'_>>> {
    let table = part(text, Reader::Worker)?;
    let span = table.span();
    let mut table = table.into_inner();
    let Some(section) = table.remove(WORKER_SECTION) else {
        return Ok(Spanned::new(span, table));
    };
    let DeValue::Table(section) = section.into_inner() else {
        return Err(anyhow!("`{WORKER_SECTION}` must be a table"));
    };
    for (key, value) in section {
        if table.contains_key(key.get_ref().as_ref()) {
            return Err(anyhow!(
                "`{key}` is set both at the top level and in [{WORKER_SECTION}]: keep one",
                key = key.get_ref()
            ));
        }
        table.insert(key, value);
    }
    Ok(Spanned::new(span, table))
}

/// `table` deserialized as `T`; errors point into `text`.
fn deserialize<T: DeserializeOwned>(
    text: &str,
    table: Spanned<DeTable<'_>>,
) -> Result<T, toml::de::Error> {
    T::deserialize(toml::de::Deserializer::from(table)).map_err(|mut err| {
        err.set_input(Some(text));
        err
    })
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
[database]
url = { env = "PLATFORM_DB" }
"#;

    /// The top-level names of `table`, sorted.
    fn keys(table: Spanned<DeTable<'_>>) -> Vec<String> {
        let mut keys: Vec<String> = table
            .into_inner()
            .keys()
            .map(|k| k.get_ref().to_string())
            .collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn each_reader_gets_only_its_names() {
        check_names(WHOLE).unwrap();
        let names = |who| keys(part(WHOLE, who).unwrap());
        assert_eq!(names(Reader::Worker), ["concurrency", "queue", "worker"]);
        assert_eq!(names(Reader::Backup), ["backup", "collect", "stores"]);
        assert_eq!(names(Reader::Beat), ["beat"]);
        assert_eq!(names(Reader::Database), ["database"]);
    }

    #[test]
    fn a_name_nobody_reads_is_refused_by_name() {
        let err = check_names("[colect]\n[[colect.roots]]\npath = \"/srv\"\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown top-level table `[colect]`"),
            "{err}"
        );
        let err = check_names("concurency = 2\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown top-level key `concurency`"),
            "{err}"
        );
    }

    #[test]
    fn the_worker_section_joins_the_top_level_keys() {
        let text = "concurrency = 2\n[worker]\nqueues = [\"a\"]\n[worker.queue.a]\nx-max-priority = 10\n[beat]\n";
        assert_eq!(
            keys(worker_table(text).unwrap()),
            ["concurrency", "queue", "queues"]
        );
        let err = worker_table("concurrency = 2\n[worker]\nconcurrency = 3\n").unwrap_err();
        assert!(
            err.to_string().contains("`concurrency` is set both"),
            "{err}"
        );
    }

    #[test]
    fn errors_in_a_part_point_at_the_line_in_the_whole_file() {
        let text = "[beat]\ntimezone = \"UTC\"\n\n[backup]\nprefix = \"p\"\nprefx = \"q\"\n";
        let err = part(text, Reader::Backup)
            .and_then(|t| deserialize::<celeriac_backup::RawBackupConfig>(text, t))
            .unwrap_err();
        assert!(err.to_string().contains("line 6"), "{err}");
        assert!(err.to_string().contains("unknown field `prefx`"), "{err}");
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
