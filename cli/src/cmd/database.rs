//! Which backup catalog a subcommand uses, and opening it. In order:
//!
//! 1. `--database-url URL` or `CELERIAC_DATABASE_URL`;
//! 2. `[database] url` of the config file: `"postgres://…"`, `"sqlite://PATH"`, or (a URL can
//!    carry a password) `{ env = "VAR" }` / `{ file = "PATH" }` (the file's first line, trimmed;
//!    a relative path is relative to the config file);
//! 3. the embedded default, `sqlite://$CELERIAC_HOME/catalog.db`, created and migrated on first
//!    use.
//!
//! An explicit catalog is never migrated behind the operator's back: one whose schema is not
//! current is refused with a message to run `celeriac migrate`. Passwords never reach output:
//! the URL is shown through [`CatalogUrl`]'s Display or [`celeriac_catalog::redact`].

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use celeriac_catalog::{Catalog, CatalogUrl};
use clap::Args;
use serde::Deserialize;

use crate::cmd::home;
use crate::cmd::sections::{self, CONFIG_ENV, Reader};
use crate::cmd::status::Coded;

/// The environment variable naming the catalog database.
pub(crate) const DATABASE_URL_ENV: &str = "CELERIAC_DATABASE_URL";

/// The embedded catalog's file name inside `CELERIAC_HOME`.
pub(crate) const EMBEDDED_FILE: &str = "catalog.db";

/// The `--database-url` flag, shared by the subcommands that use the catalog.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct DatabaseArgs {
    /// The backup catalog: postgres://USER[:PASSWORD]@HOST[:PORT]/DB or sqlite://PATH
    /// [default: [database] url of the config file, else sqlite://$CELERIAC_HOME/catalog.db]
    #[arg(long, env = DATABASE_URL_ENV, value_name = "URL", hide_env_values = true)]
    pub(crate) database_url: Option<String>,
}

/// `--database-url` and `--config`, for the commands that read nothing but the catalog.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct CatalogArgs {
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
    /// TOML config file (its [database] url names the catalog)
    #[arg(long, env = CONFIG_ENV, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

impl CatalogArgs {
    /// Opens the catalog these flags choose ([`open_catalog`]).
    pub(crate) async fn open(&self) -> anyhow::Result<Catalog> {
        open_catalog(
            self.database.database_url.as_deref(),
            self.config.as_deref(),
        )
        .await
    }
}

/// `[database]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabasePart {
    #[serde(default)]
    database: Option<RawDatabase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<UrlSetting>,
}

/// `url = "…"`, `url = { env = "VAR" }` or `url = { file = "PATH" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum UrlSetting {
    Inline(String),
    Reference(UrlRef),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum UrlRef {
    Env(String),
    File(PathBuf),
}

/// Where the catalog URL came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Choice {
    /// Given by `--database-url`, `CELERIAC_DATABASE_URL` or the config file.
    Explicit(String),
    /// Nothing given: the embedded SQLite catalog in `CELERIAC_HOME`.
    Embedded,
}

/// Which catalog to use: the flag (or its variable), else `[database] url` of `config`, else
/// the embedded default. Reads the config file (and the variable or file `url` names) but
/// connects to nothing. Errors are configuration errors (exit 78) naming what was read.
pub(crate) fn choose(flag: Option<&str>, config: Option<&Path>) -> anyhow::Result<Choice> {
    if let Some(url) = flag.filter(|u| !u.is_empty()) {
        return Ok(Choice::Explicit(url.to_owned()));
    }
    let Some(path) = config else {
        return Ok(Choice::Embedded);
    };
    let part: RawDatabasePart = sections::read(path)?.part(Reader::Database, anyhow::Error::new)?;
    let Some(setting) = part.database.and_then(|d| d.url) else {
        return Ok(Choice::Embedded);
    };
    let base = path.parent().unwrap_or(Path::new("."));
    resolve_setting(&setting, base)
        .with_context(|| format!("`[database] url` of the config file {}", path.display()))
        .map(Choice::Explicit)
        .map_err(Coded::config)
}

/// The URL a setting names.
fn resolve_setting(setting: &UrlSetting, base: &Path) -> anyhow::Result<String> {
    let url = match setting {
        UrlSetting::Inline(url) => url.clone(),
        UrlSetting::Reference(UrlRef::Env(var)) => std::env::var(var)
            .map_err(|_| anyhow!("the environment variable {var} is not set (or not UTF-8)"))?,
        UrlSetting::Reference(UrlRef::File(file)) => {
            let file = base.join(file);
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            text.lines().next().unwrap_or_default().trim().to_owned()
        }
    };
    if url.trim().is_empty() {
        return Err(anyhow!("the catalog URL is empty"));
    }
    Ok(url)
}

/// The embedded catalog's URL: `sqlite://` and the path, with the characters sqlx would read as
/// URL syntax (`%`, `?`, `#`) percent-encoded.
fn embedded_url(file: &Path) -> String {
    let mut url = String::from("sqlite://");
    for c in file.display().to_string().chars() {
        match c {
            '%' => url.push_str("%25"),
            '?' => url.push_str("%3F"),
            '#' => url.push_str("%23"),
            c => url.push(c),
        }
    }
    url
}

/// Opens the catalog chosen by [`choose`]. The embedded one is created (in a 0700
/// `CELERIAC_HOME`) and migrated; an explicit one must be reachable and migrated (else an
/// error telling to run `celeriac migrate`). A URL that does not parse exits 78; a database
/// that cannot be reached exits 1.
pub(crate) async fn open_catalog(
    flag: Option<&str>,
    config: Option<&Path>,
) -> anyhow::Result<Catalog> {
    match choose(flag, config)? {
        Choice::Explicit(url) => open_explicit(&url).await,
        Choice::Embedded => open_embedded().await,
    }
}

/// Opens the catalog at `url`, which must be reachable and migrated.
pub(crate) async fn open_explicit(url: &str) -> anyhow::Result<Catalog> {
    let parsed = CatalogUrl::parse(url).map_err(Coded::config)?;
    let catalog = Catalog::connect(&parsed)
        .await
        .context("cannot open the backup catalog")?;
    let pending = catalog
        .pending_migrations()
        .await
        .with_context(|| format!("cannot read the schema version of the catalog at {parsed}"))?;
    if let Some(first) = pending.first() {
        catalog.close().await;
        return Err(anyhow!(
            "the catalog at {parsed} is not migrated ({} pending, from {} {}): run \
             `celeriac migrate --database-url URL` first",
            pending.len(),
            first.version,
            first.description
        ));
    }
    Ok(catalog)
}

async fn open_embedded() -> anyhow::Result<Catalog> {
    let home = home::ensure()?;
    let file = home.join(EMBEDDED_FILE);
    let url = CatalogUrl::parse(&embedded_url(&file)).map_err(Coded::config)?;
    let catalog = Catalog::connect(&url)
        .await
        .context("cannot open the embedded backup catalog")?;
    catalog
        .migrate()
        .await
        .with_context(|| format!("cannot migrate the embedded catalog at {url}"))?;
    Ok(catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_a_url_a_variable_or_a_file() {
        let parse = |text: &str| {
            toml::from_str::<RawDatabasePart>(text)
                .map(|p| p.database.and_then(|d| d.url))
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            parse("[database]\nurl = \"sqlite:///x.db\"\n").unwrap(),
            Some(UrlSetting::Inline("sqlite:///x.db".into()))
        );
        assert_eq!(
            parse("[database]\nurl = { env = \"DB\" }\n").unwrap(),
            Some(UrlSetting::Reference(UrlRef::Env("DB".into())))
        );
        assert_eq!(
            parse("[database]\nurl = { file = \"db.url\" }\n").unwrap(),
            Some(UrlSetting::Reference(UrlRef::File("db.url".into())))
        );
        assert!(parse("[database]\nurl = { value = \"x\" }\n").is_err());
        assert!(parse("[database]\nuri = \"x\"\n").is_err());
        assert_eq!(parse("").unwrap(), None);
    }

    #[test]
    fn a_url_file_gives_its_first_line_trimmed() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("db.url"),
            "  postgres://app:pw@db/platform \nignored\n",
        )
        .unwrap();
        let setting = UrlSetting::Reference(UrlRef::File("db.url".into()));
        assert_eq!(
            resolve_setting(&setting, tmp.path()).unwrap(),
            "postgres://app:pw@db/platform"
        );
        std::fs::write(tmp.path().join("empty.url"), "\n").unwrap();
        let empty = UrlSetting::Reference(UrlRef::File("empty.url".into()));
        assert!(resolve_setting(&empty, tmp.path()).is_err());
    }

    #[test]
    fn the_embedded_url_survives_url_syntax_in_the_path() {
        let url = embedded_url(Path::new("/tmp/a?b#c%d/catalog.db"));
        assert_eq!(url, "sqlite:///tmp/a%3Fb%23c%25d/catalog.db");
        let parsed = CatalogUrl::parse(&url).unwrap();
        assert_eq!(parsed.to_string(), "sqlite:///tmp/a?b#c%d/catalog.db");
    }

    #[test]
    fn the_flag_wins_and_no_config_means_embedded() {
        assert_eq!(
            choose(Some("sqlite:///a.db"), None).unwrap(),
            Choice::Explicit("sqlite:///a.db".into())
        );
        assert_eq!(choose(None, None).unwrap(), Choice::Embedded);
        let tmp = tempfile::tempdir().unwrap();
        let config = tmp.path().join("c.toml");
        std::fs::write(&config, "[database]\nurl = \"sqlite:///from-file.db\"\n").unwrap();
        assert_eq!(
            choose(None, Some(&config)).unwrap(),
            Choice::Explicit("sqlite:///from-file.db".into())
        );
        assert_eq!(
            choose(Some("sqlite:///flag.db"), Some(&config)).unwrap(),
            Choice::Explicit("sqlite:///flag.db".into())
        );
        std::fs::write(&config, "[backup]\n").unwrap();
        assert_eq!(choose(None, Some(&config)).unwrap(), Choice::Embedded);
    }
}
