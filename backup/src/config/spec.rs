//! What to collect: the `[collect]` config table ([`RawCollectConfig`]) and its validated form
//! ([`CollectSpec`]): roots with archive prefixes, category rules, excludes, the `.env`
//! allowlist and the unreadable-file policy. Reads no files and no environment.

mod defaults;

use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::config::allowlist::KeyAllowlist;
use crate::manifest::{ArchivePath, Category, PathProblem};

/// What to do with a file that matched a rule but could not be read or vanished.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnreadablePolicy {
    /// Leave it out and record a [`crate::report::Skip`] with the reason.
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
    /// Lines the secret scanner could not settle: report them (`warn`) or refuse to publish.
    pub on_suspected_secret: SuspectedSecretPolicy,
}

/// What a run does when the secret scanner reports lines it could not settle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuspectedSecretPolicy {
    /// List them in the report (`secrets_suspected`) and go on.
    #[default]
    Warn,
    /// Store nothing; the run fails naming the first.
    Fail,
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
            on_suspected_secret: SuspectedSecretPolicy::Warn,
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

impl RootSpec {
    /// The root directory's own name (`nginx` for `/etc/nginx`), which the rules also match;
    /// `None` for `/` or a name that is not UTF-8.
    pub fn name(&self) -> Option<&str> {
        self.path.file_name().and_then(|n| n.to_str())
    }
}

/// How strongly a rule claims a file: the config file's own rules, then the built-in rules that
/// name a file by its shape, then the built-in folder-wide rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tier {
    Configured,
    Specific,
    Broad,
}

/// One rule group after compilation: its category and its veto patterns.
#[derive(Debug, Clone)]
struct CompiledRule {
    tier: Tier,
    category: Category,
    unless: Option<GlobSet>,
}

/// Category rules compiled into one matcher. Among the patterns that match (and are not vetoed
/// by their group's `unless`), the lowest tier wins, then the lowest pattern index.
#[derive(Debug, Clone)]
pub(crate) struct RuleSet {
    set: GlobSet,
    /// For each pattern of `set`, its group in `rules`.
    group_of: Vec<usize>,
    rules: Vec<CompiledRule>,
}

impl RuleSet {
    fn build(configured: &[RawRule], defaults: bool) -> Result<Self, SpecError> {
        let mut set = GlobSetBuilder::new();
        let mut group_of = Vec::new();
        let mut rules = Vec::new();
        let mut add = |tier, category, globs: &mut dyn Iterator<Item = &str>, unless: &[&str]| {
            for pattern in globs {
                set.add(compile(pattern)?);
                group_of.push(rules.len());
            }
            let unless = if unless.is_empty() {
                None
            } else {
                Some(compile_set(unless.iter().copied(), "<unless>")?)
            };
            rules.push(CompiledRule {
                tier,
                category,
                unless,
            });
            Ok::<_, SpecError>(())
        };
        for rule in configured {
            add(
                Tier::Configured,
                rule.category,
                &mut rule.globs.iter().map(String::as_str),
                &[],
            )?;
        }
        if defaults {
            for (tier, table) in [
                (Tier::Specific, defaults::SPECIFIC),
                (Tier::Broad, defaults::BROAD),
            ] {
                for rule in table {
                    add(
                        tier,
                        rule.category,
                        &mut rule.globs.iter().copied(),
                        rule.unless,
                    )?;
                }
            }
        }
        Ok(Self {
            set: set
                .build()
                .map_err(|source| glob_error("<rules>", source))?,
            group_of,
            rules,
        })
    }

    /// The category of the strongest rule matching any of `paths` (the same file seen under
    /// different names: its archive path, its path under the root's own name).
    pub(crate) fn category(&self, paths: &[&str]) -> Option<Category> {
        let mut best: Option<(Tier, usize)> = None;
        for path in paths {
            let candidate = globset::Candidate::new(path);
            for index in self.set.matches_candidate(&candidate) {
                let Some(&group) = self.group_of.get(index) else {
                    continue;
                };
                let Some(rule) = self.rules.get(group) else {
                    continue;
                };
                if rule
                    .unless
                    .as_ref()
                    .is_some_and(|unless| unless.is_match_candidate(&candidate))
                {
                    continue;
                }
                let rank = (rule.tier, index);
                if best.is_none_or(|b| rank < b) {
                    best = Some(rank);
                }
            }
        }
        let (_, index) = best?;
        let group = *self.group_of.get(index)?;
        self.rules.get(group).map(|r| r.category)
    }
}

/// The validated collection spec.
#[derive(Debug, Clone)]
pub struct CollectSpec {
    pub(crate) roots: Vec<RootSpec>,
    pub(crate) rules: RuleSet,
    pub(crate) excludes: GlobSet,
    /// File names that look like configuration (for reporting files no rule took).
    config_looking: GlobSet,
    pub(crate) env_allowlist: KeyAllowlist,
    pub(crate) on_unreadable: UnreadablePolicy,
    pub(crate) on_suspected_secret: SuspectedSecretPolicy,
}

impl CollectSpec {
    test_util_pub! {
        /// The validated roots, in config order.
        fn roots(&self) -> &[RootSpec] {
            &self.roots
        }
    }

    test_util_pub! {
        /// The unreadable-file policy.
        fn on_unreadable(&self) -> UnreadablePolicy {
            self.on_unreadable
        }
    }

    test_util_pub! {
        /// The suspected-secret policy.
        fn on_suspected_secret(&self) -> SuspectedSecretPolicy {
            self.on_suspected_secret
        }
    }

    test_util_pub! {
        /// The `.env` allowlist in force.
        fn env_allowlist(&self) -> &KeyAllowlist {
            &self.env_allowlist
        }
    }

    test_util_pub! {
        /// The category the rules give `archive_path`, if any (ignores excludes).
        fn category_of(&self, archive_path: &str) -> Option<Category> {
            self.rules.category(&[archive_path])
        }
    }

    test_util_pub! {
        /// The category of a file of `root` at `rel` below it, stored at `archive_path`: the rules
        /// see both the archive path and the path under the root's own name (`nginx/conf.d/x.conf`
        /// for `/etc/nginx/conf.d/x.conf`), and the stronger match wins.
        fn category_in_root(
            &self,
            root: &RootSpec,
            rel: &str,
            archive_path: &str,
        ) -> Option<Category> {
            match root.name() {
                Some(name) => {
                    let named = format!("{name}/{rel}");
                    self.rules.category(&[archive_path, &named])
                }
                None => self.rules.category(&[archive_path]),
            }
        }
    }

    test_util_pub! {
        /// Whether a file that no rule took looks like configuration anyway (`*.conf`, `*.ini`,
        /// `*.toml`, `*.yml`, `config.xml`, …): a dry run lists these so a rule can be added.
        fn looks_like_config(&self, path: &str) -> bool {
            self.config_looking.is_match(path)
        }
    }

    test_util_pub! {
        /// Whether `archive_path` is excluded (a matching directory is not entered).
        fn is_excluded(&self, archive_path: &str) -> bool {
            self.excludes.is_match(archive_path)
        }
    }
}

/// For this crate's tests: the `[collect]` table alone, validated.
#[cfg(feature = "test-util")]
impl TryFrom<RawCollectConfig> for CollectSpec {
    type Error = SpecError;

    fn try_from(raw: RawCollectConfig) -> Result<Self, SpecError> {
        Self::from_raw(&raw)
    }
}

impl CollectSpec {
    /// Validates the `[collect]` table.
    pub(crate) fn from_raw(raw: &RawCollectConfig) -> Result<Self, SpecError> {
        let roots = validate_roots(&raw.roots)?;
        let rules = RuleSet::build(&raw.rules, raw.default_rules)?;
        let defaults = if raw.default_excludes {
            defaults::DEFAULT_EXCLUDES
        } else {
            &[]
        };
        let excludes = compile_set(
            defaults
                .iter()
                .copied()
                .chain(raw.excludes.iter().map(String::as_str)),
            "<excludes>",
        )?;
        let config_looking = compile_set(defaults::CONFIG_LOOKING.iter().copied(), "<config>")?;
        let env_allowlist = KeyAllowlist::with_extra(&raw.env_allowlist)
            .map_err(|entry| SpecError::InvalidAllowlistEntry { entry })?;
        Ok(Self {
            roots,
            rules,
            excludes,
            config_looking,
            env_allowlist,
            on_unreadable: raw.on_unreadable,
            on_suspected_secret: raw.on_suspected_secret,
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

fn compile_set<'p>(
    patterns: impl Iterator<Item = &'p str>,
    what: &str,
) -> Result<GlobSet, SpecError> {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        set.add(compile(pattern)?);
    }
    set.build().map_err(|source| glob_error(what, source))
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
        CollectSpec::from_raw(&RawCollectConfig {
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
        let s = CollectSpec::from_raw(&raw).unwrap();
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
            .map(|r| r.prefix.as_ref().map(ToString::to_string))
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
