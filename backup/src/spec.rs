//! What to collect: the `[collect]` config table ([`RawCollectConfig`]) and its validated form
//! ([`CollectSpec`]): roots with archive prefixes, category rules, excludes, the `.env`
//! allowlist and the unreadable-file policy. Reads no files and no environment.

mod defaults;

use std::fmt;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::manifest::{ArchivePath, PathProblem};
use crate::sanitize::KeyAllowlist;

/// The kind of configuration a file belongs to; every rule names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// Compose files, Dockerfiles, everything under `docker/`.
    Docker,
    /// `.env` files and `.env.example`.
    Env,
    /// nginx configuration.
    Nginx,
    /// Certificates and keys, Let's Encrypt trees.
    Ssl,
    /// Kubernetes manifests.
    Kubernetes,
    /// PostgreSQL configuration and init scripts.
    Postgres,
    /// Python project metadata and tooling config.
    Project,
    /// Django settings modules.
    Django,
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Docker => "docker",
            Self::Env => "env",
            Self::Nginx => "nginx",
            Self::Ssl => "ssl",
            Self::Kubernetes => "kubernetes",
            Self::Postgres => "postgres",
            Self::Project => "project",
            Self::Django => "django",
        })
    }
}

/// What to do with a file that matched a rule but could not be read or vanished.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnreadablePolicy {
    /// Leave it out and record a [`crate::Skip`] with the reason.
    #[default]
    Skip,
    /// Fail the collection.
    Fail,
}

/// One collection root as written in the config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawRoot {
    /// Absolute directory to walk (a project, `/etc/nginx`, `/etc/letsencrypt`, …).
    pub path: PathBuf,
    /// Archive path under which this root's files are stored. Defaults to nothing when there is
    /// a single root, else to the root's last path component.
    #[serde(default)]
    pub prefix: Option<String>,
    /// A missing or unreadable optional root is a recorded skip; a required one is an error.
    #[serde(default)]
    pub optional: bool,
}

impl RawRoot {
    /// A required root at `path` with the default prefix.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            prefix: None,
            optional: false,
        }
    }
}

/// An extra rule: files whose archive path matches any glob get `category`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawRule {
    /// The category the matched files belong to.
    pub category: Category,
    /// globset patterns over archive paths (`*` stays within one component, `**` spans any).
    pub globs: Vec<String>,
}

/// The `[collect]` table of the config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawCollectConfig {
    /// Directories to walk.
    pub roots: Vec<RawRoot>,
    /// Whether the built-in rules apply (after `rules`).
    pub default_rules: bool,
    /// Extra rules, tried before the built-in ones.
    pub rules: Vec<RawRule>,
    /// Whether the built-in noise excludes apply (`node_modules`, `.git`, `media`, …).
    pub default_excludes: bool,
    /// Extra excludes; a matching directory is not entered.
    pub excludes: Vec<String>,
    /// Extra `.env` keys whose values may stay visible (`NAME`, `PREFIX_*`, `*_SUFFIX`).
    pub env_allowlist: Vec<String>,
    /// Unreadable or vanished files: skip (recorded) or fail.
    pub on_unreadable: UnreadablePolicy,
}

impl Default for RawCollectConfig {
    fn default() -> Self {
        Self {
            roots: Vec::new(),
            default_rules: true,
            rules: Vec::new(),
            default_excludes: true,
            excludes: Vec::new(),
            env_allowlist: Vec::new(),
            on_unreadable: UnreadablePolicy::Skip,
        }
    }
}

/// Why a `[collect]` table was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// No root to collect from.
    #[error("no collection root configured")]
    NoRoots,
    /// A root path is relative; the caller resolves paths before building the spec.
    #[error("collection root {path} is not absolute")]
    RootNotAbsolute {
        /// The root as given.
        path: PathBuf,
    },
    /// A root's prefix is not a valid archive path.
    #[error("prefix {prefix:?} of root {root} is invalid: {problem}")]
    InvalidPrefix {
        /// The root.
        root: PathBuf,
        /// The prefix as given or derived.
        prefix: String,
        /// What is wrong with it.
        problem: PathProblem,
    },
    /// Two roots would store files under overlapping archive paths.
    #[error("roots {first} and {second} have overlapping archive prefixes; set `prefix`")]
    PrefixCollision {
        /// One root.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// A glob does not compile.
    #[error("invalid glob {pattern:?}")]
    InvalidGlob {
        /// The pattern as given.
        pattern: String,
        /// The compiler's error.
        #[source]
        source: globset::Error,
    },
    /// An allowlist entry is not `NAME`, `PREFIX_*` or `*_SUFFIX`.
    #[error("invalid env allowlist entry {entry:?}")]
    InvalidAllowlistEntry {
        /// The entry as given.
        entry: String,
    },
}

/// A validated root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootSpec {
    /// Absolute directory.
    pub path: PathBuf,
    /// Archive prefix, `None` to store at the top level.
    pub prefix: Option<ArchivePath>,
    /// Missing is a skip rather than an error.
    pub optional: bool,
}

/// Category rules compiled into one matcher; the lowest matching pattern index wins.
#[derive(Debug, Clone)]
pub(crate) struct RuleSet {
    set: GlobSet,
    categories: Vec<Category>,
}

impl RuleSet {
    /// The category of the first rule matching `path`.
    pub(crate) fn category(&self, path: &str) -> Option<Category> {
        let first = self.set.matches(path).into_iter().min()?;
        self.categories.get(first).copied()
    }
}

/// The validated collection spec.
#[derive(Debug, Clone)]
pub struct CollectSpec {
    pub(crate) roots: Vec<RootSpec>,
    pub(crate) rules: RuleSet,
    pub(crate) excludes: GlobSet,
    pub(crate) env_allowlist: KeyAllowlist,
    pub(crate) on_unreadable: UnreadablePolicy,
}

impl CollectSpec {
    /// The validated roots, in config order.
    pub fn roots(&self) -> &[RootSpec] {
        &self.roots
    }

    /// The unreadable-file policy.
    pub fn on_unreadable(&self) -> UnreadablePolicy {
        self.on_unreadable
    }

    /// The `.env` allowlist in force.
    pub fn env_allowlist(&self) -> &KeyAllowlist {
        &self.env_allowlist
    }

    /// The category the rules give `archive_path`, if any (ignores excludes).
    pub fn category_of(&self, archive_path: &str) -> Option<Category> {
        self.rules.category(archive_path)
    }

    /// Whether `archive_path` is excluded (a matching directory is not entered).
    pub fn is_excluded(&self, archive_path: &str) -> bool {
        self.excludes.is_match(archive_path)
    }
}

impl TryFrom<RawCollectConfig> for CollectSpec {
    type Error = SpecError;

    fn try_from(raw: RawCollectConfig) -> Result<Self, SpecError> {
        let roots = validate_roots(&raw.roots)?;
        let mut rule_patterns: Vec<(Category, &str)> = Vec::new();
        for rule in &raw.rules {
            rule_patterns.extend(rule.globs.iter().map(|g| (rule.category, g.as_str())));
        }
        if raw.default_rules {
            for (category, globs) in defaults::DEFAULT_RULES {
                rule_patterns.extend(globs.iter().map(|g| (*category, *g)));
            }
        }
        let mut set = GlobSetBuilder::new();
        for (_, pattern) in &rule_patterns {
            set.add(compile(pattern)?);
        }
        let rules = RuleSet {
            set: set
                .build()
                .map_err(|source| glob_error("<rules>", source))?,
            categories: rule_patterns.iter().map(|(c, _)| *c).collect(),
        };
        let mut excludes = GlobSetBuilder::new();
        let defaults = if raw.default_excludes {
            defaults::DEFAULT_EXCLUDES
        } else {
            &[]
        };
        for pattern in defaults
            .iter()
            .copied()
            .chain(raw.excludes.iter().map(String::as_str))
        {
            excludes.add(compile(pattern)?);
        }
        let excludes = excludes
            .build()
            .map_err(|source| glob_error("<excludes>", source))?;
        let env_allowlist = KeyAllowlist::with_extra(&raw.env_allowlist)
            .map_err(|entry| SpecError::InvalidAllowlistEntry { entry })?;
        Ok(Self {
            roots,
            rules,
            excludes,
            env_allowlist,
            on_unreadable: raw.on_unreadable,
        })
    }
}

fn compile(pattern: &str) -> Result<Glob, SpecError> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|source| glob_error(pattern, source))
}

fn glob_error(pattern: &str, source: globset::Error) -> SpecError {
    SpecError::InvalidGlob {
        pattern: pattern.to_owned(),
        source,
    }
}

fn validate_roots(raw: &[RawRoot]) -> Result<Vec<RootSpec>, SpecError> {
    if raw.is_empty() {
        return Err(SpecError::NoRoots);
    }
    let mut roots = Vec::with_capacity(raw.len());
    for root in raw {
        if !root.path.is_absolute() {
            return Err(SpecError::RootNotAbsolute {
                path: root.path.clone(),
            });
        }
        let prefix = match (&root.prefix, raw.len()) {
            (Some(p), _) if p.is_empty() => None,
            (Some(p), _) => Some(p.trim_end_matches('/').to_owned()),
            (None, 1) => None,
            (None, _) => Some(last_component(&root.path)),
        };
        let prefix = prefix
            .map(|p| {
                ArchivePath::parse(&p).map_err(|problem| SpecError::InvalidPrefix {
                    root: root.path.clone(),
                    prefix: p.clone(),
                    problem,
                })
            })
            .transpose()?;
        roots.push(RootSpec {
            path: root.path.clone(),
            prefix,
            optional: root.optional,
        });
    }
    for (i, a) in roots.iter().enumerate() {
        for b in &roots[i + 1..] {
            if prefixes_overlap(a.prefix.as_ref(), b.prefix.as_ref()) {
                return Err(SpecError::PrefixCollision {
                    first: a.path.clone(),
                    second: b.path.clone(),
                });
            }
        }
    }
    Ok(roots)
}

fn last_component(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn prefixes_overlap(a: Option<&ArchivePath>, b: Option<&ArchivePath>) -> bool {
    match (a, b) {
        (None, _) | (_, None) => true,
        (Some(a), Some(b)) => {
            let (a, b) = (a.as_str(), b.as_str());
            a == b || b.starts_with(&format!("{a}/")) || a.starts_with(&format!("{b}/"))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use super::*;

    fn spec(roots: Vec<RawRoot>) -> Result<CollectSpec, SpecError> {
        CollectSpec::try_from(RawCollectConfig {
            roots,
            ..Default::default()
        })
    }

    #[test]
    fn default_rules_name_categories() {
        let s = spec(vec![RawRoot::new("/p")]).unwrap();
        let cases = [
            ("docker-compose.prod.yml", Some(Category::Docker)),
            ("docker/web/entry.sh", Some(Category::Docker)),
            ("docker/postgres/init.sql", Some(Category::Postgres)),
            ("deploy/Dockerfile", Some(Category::Docker)),
            (".env", Some(Category::Env)),
            (".env.example", Some(Category::Env)),
            ("nginx/conf.d/site.conf", Some(Category::Nginx)),
            ("etc/nginx.conf", Some(Category::Nginx)),
            ("certs/site.crt", Some(Category::Ssl)),
            ("k8s/base/deploy.yaml", Some(Category::Kubernetes)),
            ("app/settings/prod.py", Some(Category::Django)),
            ("app/settings_local.py", Some(Category::Django)),
            ("requirements.txt", Some(Category::Project)),
            ("app/models.py", None),
            ("README.md", None),
        ];
        for (path, expected) in cases {
            assert_eq!(s.category_of(path), expected, "{path}");
        }
        assert!(s.is_excluded("web/node_modules"));
        assert!(s.is_excluded("media"));
        assert!(!s.is_excluded("docker"));
    }

    #[test]
    fn extra_rules_win_over_defaults() {
        let raw = RawCollectConfig {
            roots: vec![RawRoot::new("/p")],
            rules: vec![RawRule {
                category: Category::Project,
                globs: vec!["ops/*.yml".into()],
            }],
            ..Default::default()
        };
        let s = CollectSpec::try_from(raw).unwrap();
        assert_eq!(
            s.category_of("ops/docker-compose.yml"),
            Some(Category::Project)
        );
    }

    #[test]
    fn prefixes_are_derived_and_checked() {
        let s = spec(vec![RawRoot::new("/srv/app"), RawRoot::new("/etc/nginx")]).unwrap();
        let prefixes: Vec<_> = s
            .roots()
            .iter()
            .map(|r| r.prefix.clone().map(String::from))
            .collect();
        assert_eq!(prefixes, [Some("app".into()), Some("nginx".into())]);
        let clash = spec(vec![RawRoot::new("/a/nginx"), RawRoot::new("/etc/nginx")]);
        assert!(matches!(clash, Err(SpecError::PrefixCollision { .. })));
        let relative = spec(vec![RawRoot::new("rel")]);
        assert!(matches!(relative, Err(SpecError::RootNotAbsolute { .. })));
        let bad = spec(vec![RawRoot {
            prefix: Some("../x".into()),
            ..RawRoot::new("/a")
        }]);
        assert!(matches!(bad, Err(SpecError::InvalidPrefix { .. })));
    }

    #[test]
    fn toml_table_is_strict_and_kebab_case() {
        let raw: RawCollectConfig = toml::from_str(
            r#"
            on-unreadable = "fail"
            env-allowlist = ["SENTRY_ENVIRONMENT", "FEATURE_*"]
            excludes = ["**/tmp"]
            [[roots]]
            path = "/etc/letsencrypt"
            prefix = "letsencrypt"
            optional = true
            [[rules]]
            category = "nginx"
            globs = ["**/*.nginx"]
            "#,
        )
        .unwrap();
        assert_eq!(raw.on_unreadable, UnreadablePolicy::Fail);
        assert!(raw.default_rules);
        assert!(toml::from_str::<RawCollectConfig>("unknown = 1").is_err());
    }
}
