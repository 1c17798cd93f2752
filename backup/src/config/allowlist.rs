//! The `.env` key allowlist ([`KeyAllowlist`]): which keys' values the sanitizer may leave
//! visible (defaults plus the `[collect]` table's extra `NAME`, `PREFIX_*`, `*_SUFFIX` entries),
//! and the name tokens that make a key sensitive whatever the list says.

use std::collections::BTreeSet;

/// Keys whose values may stay visible: exact names plus `PREFIX_*` and `*_SUFFIX` patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAllowlist {
    exact: BTreeSet<String>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

const DEFAULT_EXACT: &[&str] = &[
    "DEBUG",
    "ALLOWED_HOSTS",
    "TIME_ZONE",
    "TZ",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LOG_LEVEL",
    "ENVIRONMENT",
    "ENV",
    "NODE_ENV",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "COMPOSE_PROJECT_NAME",
    "WEB_CONCURRENCY",
];
const DEFAULT_SUFFIXES: &[&str] = &[
    "_PORT",
    "_HOST",
    "_HOSTS",
    "_TIMEOUT",
    "_LOG_LEVEL",
    "_DEBUG",
    "_ENABLED",
    "_REGION",
];

/// Name tokens that make a key sensitive even when a pattern allowlists it.
const SENSITIVE_TOKENS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PWD",
    "SECRET",
    "TOKEN",
    "KEY",
    "APIKEY",
    "PRIVATE",
    "PRIVKEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "CREDS",
    "AUTH",
    "ACCESS",
    "SESSION",
    "COOKIE",
    "SIGNING",
    "SALT",
    "PEPPER",
    "HMAC",
    "JWT",
    "BEARER",
    "DSN",
    "WEBHOOK",
    "URL",
    "URI",
];

impl Default for KeyAllowlist {
    fn default() -> Self {
        Self {
            exact: DEFAULT_EXACT.iter().map(|s| (*s).to_owned()).collect(),
            prefixes: Vec::new(),
            suffixes: DEFAULT_SUFFIXES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

impl KeyAllowlist {
    /// The defaults plus `extra` entries (`NAME`, `PREFIX_*`, `*_SUFFIX`; letters, digits, `_`).
    ///
    /// # Errors
    /// The first entry that is not of one of those shapes.
    pub fn with_extra(extra: &[String]) -> Result<Self, String> {
        let mut list = Self::default();
        for entry in extra {
            let upper = entry.to_ascii_uppercase();
            let (body, kind) = if let Some(s) = upper.strip_prefix('*') {
                (s, 1)
            } else if let Some(p) = upper.strip_suffix('*') {
                (p, 2)
            } else {
                (upper.as_str(), 0)
            };
            let valid = !body.is_empty()
                && body
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
            if !valid {
                return Err(entry.clone());
            }
            match kind {
                1 => list.suffixes.push(body.to_owned()),
                2 => list.prefixes.push(body.to_owned()),
                _ => {
                    list.exact.insert(body.to_owned());
                }
            }
        }
        Ok(list)
    }

    /// Whether the value of `key` may stay visible (before the value itself is checked). A key
    /// with a sensitive name token (`…_PASSWORD`, `SECRET_…`, `…_URL`) is never allowed.
    pub fn allows(&self, key: &str) -> bool {
        let upper = key.to_ascii_uppercase();
        if is_sensitive_key(&upper) {
            return false;
        }
        self.exact.contains(&upper)
            || self.prefixes.iter().any(|p| upper.starts_with(p.as_str()))
            || self.suffixes.iter().any(|s| upper.ends_with(s.as_str()))
    }
}

/// Whether a key (upper-cased) has a sensitive name token (`PASSWORD`, `SECRET`, `URL`, ...).
pub(crate) fn is_sensitive_key(upper: &str) -> bool {
    upper
        .split(['_', '-', '.'])
        .any(|token| SENSITIVE_TOKENS.contains(&token))
}
