//! The default-deny `.env` sanitizer: keeps every line, key, comment, `export` and quote style,
//! and replaces every value with [`REDACTED`] unless the key is allowlisted *and* the value does
//! not look secret. Also owns the "does this look secret" value checks.

mod scan;

use std::collections::BTreeSet;

pub(crate) use scan::looks_secret;

/// What a redacted value becomes.
pub const REDACTED: &str = "<redacted>";

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

fn is_sensitive_key(upper: &str) -> bool {
    upper
        .split(['_', '-', '.'])
        .any(|token| SENSITIVE_TOKENS.contains(&token))
}

/// The result of sanitizing one `.env` file.
#[derive(Clone, PartialEq, Eq)]
pub struct Sanitized {
    /// The sanitized file content.
    pub content: Vec<u8>,
    /// Assignments found.
    pub keys: usize,
    /// Values replaced by [`REDACTED`] (comments included).
    pub redacted: usize,
    /// Values (and comment words) that look secret whatever their key: URL credentials, PEM
    /// blocks, token prefixes, JWTs, high entropy. A sample file with any is not a sample.
    pub secret_looking: usize,
}

impl std::fmt::Debug for Sanitized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sanitized")
            .field("bytes", &self.content.len())
            .field("keys", &self.keys)
            .field("redacted", &self.redacted)
            .field("secret_looking", &self.secret_looking)
            .finish()
    }
}

/// Why a `.env` could not be sanitized; the caller then keeps it only in the secrets bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SanitizeError {
    /// The file is not UTF-8 text.
    #[error("env file is not utf-8 text")]
    NotUtf8,
}

/// Sanitizes `.env` content. Line endings, blank lines, comments, `export`, spacing and quote
/// characters are kept; every value is replaced unless `allow` permits its key and the value does
/// not look secret (URL credentials, PEM blocks, token prefixes, JWTs, high entropy). A quoted
/// value may span lines; a line that is neither blank, comment nor assignment becomes a comment.
/// Comments are scanned too: a commented-out assignment is sanitized like an active one, and
/// secret-looking words in other comments are replaced.
///
/// # Errors
/// [`SanitizeError::NotUtf8`].
pub fn sanitize_env(input: &[u8], allow: &KeyAllowlist) -> Result<Sanitized, SanitizeError> {
    let text = std::str::from_utf8(input).map_err(|_| SanitizeError::NotUtf8)?;
    let mut out = Sanitizer {
        allow,
        out: String::with_capacity(text.len()),
        keys: 0,
        redacted: 0,
        secret_looking: 0,
    };
    let mut rest = text;
    while !rest.is_empty() {
        rest = out.line(rest);
    }
    Ok(Sanitized {
        content: out.out.into_bytes(),
        keys: out.keys,
        redacted: out.redacted,
        secret_looking: out.secret_looking,
    })
}

struct Sanitizer<'a> {
    allow: &'a KeyAllowlist,
    out: String,
    keys: usize,
    redacted: usize,
    secret_looking: usize,
}

/// Splits off one line: (body without terminator, terminator, rest).
fn split_line(s: &str) -> (&str, &str, &str) {
    match s.find('\n') {
        Some(i) => {
            let body = &s[..i];
            let (body, term) = match body.strip_suffix('\r') {
                Some(b) => (b, "\r\n"),
                None => (body, "\n"),
            };
            (body, term, &s[i + 1..])
        }
        None => (s, "", ""),
    }
}

/// A parsed `KEY=` head: everything up to and including `=` and the spaces after it.
struct Head<'s> {
    text: &'s str,
    key: &'s str,
}

fn parse_head(line: &str) -> Option<Head<'_>> {
    let trimmed = line.trim_start();
    let after_export = trimmed
        .strip_prefix("export")
        .filter(|r| r.starts_with([' ', '\t']))
        .map_or(trimmed, str::trim_start);
    let key_start = line.len() - after_export.len();
    let key_len = after_export
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .unwrap_or(after_export.len());
    let key = &after_export[..key_len];
    if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let after_key = after_export[key_len..].trim_start_matches([' ', '\t']);
    let after_eq = after_key.strip_prefix('=')?;
    let value_start = line.len() - after_eq.trim_start_matches([' ', '\t']).len();
    Some(Head {
        text: &line[..value_start],
        key: &line[key_start..key_start + key_len],
    })
}

impl Sanitizer<'_> {
    /// Handles the line at the start of `s` (and the continuation lines of a multi-line quoted
    /// value); returns what is left.
    fn line<'s>(&mut self, s: &'s str) -> &'s str {
        let (body, term, rest) = split_line(s);
        let trimmed = body.trim_start();
        if trimmed.is_empty() {
            self.out.push_str(body);
            self.out.push_str(term);
            return rest;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            self.comment_line(&body[..body.len() - comment.len()], comment);
            self.out.push_str(term);
            return rest;
        }
        let Some(head) = parse_head(body) else {
            self.out.push_str("# <redacted: unparsed line>");
            self.redacted += 1;
            self.out.push_str(term);
            return rest;
        };
        self.keys += 1;
        self.out.push_str(head.text);
        let value = &s[head.text.len()..];
        self.value(head.key, value)
    }

    /// Writes the value starting at `s` (possibly spanning lines); returns what follows it.
    fn value<'s>(&mut self, key: &str, s: &'s str) -> &'s str {
        let quote = s.chars().next().filter(|c| matches!(c, '"' | '\'' | '`'));
        let (raw, after) = if let Some(q) = quote {
            let Some(end) = find_closing(s, q) else {
                // Unterminated: the rest of the file is the value.
                self.emit_value(key, &s[1..], Some(q));
                return "";
            };
            (&s[1..end], &s[end + 1..])
        } else {
            let (body, _, _) = split_line(s);
            let end = inline_comment_start(body).unwrap_or(body.len());
            let value = body[..end].trim_end();
            (value, &s[value.len()..])
        };
        self.emit_value(key, raw, quote);
        // The remainder of the value's last line: spacing and an optional comment.
        let (tail, term, rest) = split_line(after);
        let (before, comment) = match tail.find('#') {
            Some(i) => (&tail[..i], Some(&tail[i..])),
            None => (tail, None),
        };
        if before.trim().is_empty() {
            self.out.push_str(before);
        } else {
            // Text glued after a closing quote is part of the value for a shell.
            self.out.push(' ');
            self.out.push_str(REDACTED);
            self.redacted += 1;
        }
        if let Some(comment) = comment {
            self.comment_text(comment);
        }
        self.out.push_str(term);
        rest
    }

    fn emit_value(&mut self, key: &str, raw: &str, quote: Option<char>) {
        let secret = !raw.is_empty() && looks_secret(raw);
        self.secret_looking += usize::from(secret);
        let keep = raw.is_empty() || (self.allow.allows(key) && !secret);
        if let Some(q) = quote {
            self.out.push(q);
        }
        if keep {
            self.out.push_str(raw);
        } else {
            self.out.push_str(REDACTED);
            self.redacted += 1;
        }
        if let Some(q) = quote {
            self.out.push(q);
        }
    }

    /// A full-line comment: `lead` is everything up to and including `#`.
    fn comment_line(&mut self, lead: &str, comment: &str) {
        self.out.push_str(lead);
        let inner = comment.trim_start();
        if let Some(head) = parse_head(inner) {
            self.out.push_str(&comment[..comment.len() - inner.len()]);
            self.out.push_str(head.text);
            let value = &inner[head.text.len()..];
            let rest = self.value(head.key, value);
            debug_assert!(rest.is_empty());
        } else {
            self.comment_text(comment);
        }
    }

    /// Free comment text: secret-looking words are replaced.
    fn comment_text(&mut self, text: &str) {
        let mut first = true;
        for word in text.split(' ') {
            if !first {
                self.out.push(' ');
            }
            first = false;
            if looks_secret(word) {
                self.out.push_str(REDACTED);
                self.redacted += 1;
                self.secret_looking += 1;
            } else {
                self.out.push_str(word);
            }
        }
    }
}

/// Index of the closing quote `q` in `s` (which starts with `q`); backslash escapes count
/// inside double quotes only.
fn find_closing(s: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' && q == '"' {
            escaped = true;
        } else if c == q {
            return Some(i);
        }
    }
    None
}

/// Start of an inline comment in an unquoted value: a `#` preceded by whitespace.
fn inline_comment_start(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    (1..bytes.len()).find(|&i| bytes[i] == b'#' && matches!(bytes[i - 1], b' ' | b'\t'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use super::*;

    fn run(input: &str) -> String {
        let s = sanitize_env(input.as_bytes(), &KeyAllowlist::default()).unwrap();
        String::from_utf8(s.content).unwrap()
    }

    #[test]
    fn keeps_structure_and_hides_values() {
        let input = "# app config\r\nexport SECRET_KEY='abc def'\nDEBUG=False\n\nDB_PORT = 5432 # pg\nEMPTY=\nTAIL=x";
        let want = "# app config\r\nexport SECRET_KEY='<redacted>'\nDEBUG=False\n\nDB_PORT = 5432 # pg\nEMPTY=\nTAIL=<redacted>";
        assert_eq!(run(input), want);
    }

    #[test]
    fn multi_line_quoted_values_are_one_value() {
        let input =
            "CERT=\"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\"\nTZ=UTC\n";
        assert_eq!(run(input), "CERT=\"<redacted>\"\nTZ=UTC\n");
    }

    #[test]
    fn allowlisted_keys_are_still_checked_for_secret_values() {
        let input = "REDIS_HOST=redis://:hunter2@cache:6379/0\nDB_HOST=db\nDB_PASSWORD_HOST=x\n";
        assert_eq!(
            run(input),
            "REDIS_HOST=<redacted>\nDB_HOST=db\nDB_PASSWORD_HOST=<redacted>\n"
        );
    }

    #[test]
    fn comments_are_scanned() {
        let input =
            "# SECRET_KEY=old-secret\n# token ghp_abcdefghijklmnopqrstuvwxyz0123456789 here\n";
        assert_eq!(
            run(input),
            "# SECRET_KEY=<redacted>\n# token <redacted> here\n"
        );
    }

    #[test]
    fn unparsable_lines_and_unterminated_quotes_are_redacted() {
        assert_eq!(run("just some words\n"), "# <redacted: unparsed line>\n");
        assert_eq!(run("A=\"never closed\nB=2\n"), "A=\"<redacted>\"");
    }

    #[test]
    fn allowlist_extra_shapes() {
        let list =
            KeyAllowlist::with_extra(&["FEATURE_*".into(), "*_FLAG".into(), "APP".into()]).unwrap();
        assert!(list.allows("FEATURE_X") && list.allows("BETA_FLAG") && list.allows("app"));
        assert!(!list.allows("FEATURE_TOKEN"));
        assert!(KeyAllowlist::with_extra(&["A B".into()]).is_err());
    }

    #[test]
    fn non_utf8_is_refused() {
        assert_eq!(
            sanitize_env(b"A=\xff\n", &KeyAllowlist::default()),
            Err(SanitizeError::NotUtf8)
        );
    }
}
