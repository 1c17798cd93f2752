//! The default-deny `.env` sanitizer. A file that every loader reads the same way (the strict
//! grammar of [`grammar`]) keeps its keys, `export`s, quotes and blank lines, loses its comments,
//! and has every value replaced with [`REDACTED`] unless the key is allowlisted *and* the value
//! does not look secret; any other file becomes a placeholder that lists only its key names.
//! Also owns the "does this look secret" value checks.

pub(crate) mod config;
pub(crate) mod grammar;
mod scan;

use grammar::Line;
pub(crate) use grammar::Unreadable;
pub(crate) use scan::{certainly_secret, looks_secret};

use crate::config::allowlist::{KeyAllowlist, is_sensitive_key};

/// What a redacted value becomes.
pub(crate) const REDACTED: &str = "<redacted>";

/// Whether `text` is an env file by its content: every line in the strict grammar, and at least
/// one assignment whose key names a secret. Such a file (`docker/web.conf` given to Compose's
/// `env_file:`, say) is handled as a `.env` whatever its name.
pub(crate) fn is_env_with_secrets(text: &str) -> bool {
    grammar::read_strict(text).is_ok_and(|lines| {
        lines.iter().any(|(line, _)| {
            matches!(line, Line::Assign { key, .. } if is_sensitive_key(&key.to_ascii_uppercase()))
        })
    })
}

/// The result of sanitizing one `.env` file.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Sanitized {
    /// The sanitized file content (or the placeholder).
    pub content: Vec<u8>,
    /// Assignments found (by the strict reading; by the lenient key scan for a placeholder).
    pub keys: usize,
    /// Values replaced by [`REDACTED`], plus comment lines dropped.
    pub redacted: usize,
    /// Values (and comment words) that look secret whatever their key: URL credentials, PEM
    /// blocks, token prefixes, JWTs, high entropy. A sample file with any is not a sample.
    pub secret_looking: usize,
    /// `Some` when the file is outside the grammar every loader reads alike: `content` is then
    /// a placeholder listing only key names, and the real file is only in the secrets bundle.
    pub unreadable: Option<Unreadable>,
}

impl std::fmt::Debug for Sanitized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sanitized")
            .field("bytes", &self.content.len())
            .field("keys", &self.keys)
            .field("redacted", &self.redacted)
            .field("secret_looking", &self.secret_looking)
            .field("unreadable", &self.unreadable)
            .finish()
    }
}

/// Why a `.env` could not be sanitized; the caller then keeps it only in the secrets bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum SanitizeError {
    /// The file is not UTF-8 text.
    #[error("env file is not utf-8 text")]
    NotUtf8,
}

/// Sanitizes `.env` content for the main archive.
///
/// When the whole file is in the strict grammar of [`grammar`] (the reading python-dotenv,
/// django-environ and docker compose share), the copy keeps blank lines, `export`, keys, quote
/// characters and line endings, drops every comment line, and replaces every value with
/// [`REDACTED`] unless `allow` permits its key and the value does not look secret (URL
/// credentials, PEM blocks, token prefixes, JWTs, high entropy).
///
/// Otherwise the copy is a placeholder: comment lines naming the first line outside the
/// grammar and the file's key names (found leniently), no value at all.
///
/// # Errors
/// [`SanitizeError::NotUtf8`].
pub(crate) fn sanitize_env(input: &[u8], allow: &KeyAllowlist) -> Result<Sanitized, SanitizeError> {
    let text = std::str::from_utf8(input).map_err(|_| SanitizeError::NotUtf8)?;
    Ok(match grammar::read_strict(text) {
        Ok(lines) => strict_copy(&lines, allow),
        Err(unreadable) => placeholder(text, unreadable),
    })
}

/// The assignments of an env file as every loader in `grammar` reads them (later ones win in
/// the loaders; all are listed here), or where the file leaves the strict grammar.
///
/// # Errors
/// `Unreadable`: the first line outside the grammar.
#[cfg(any(test, feature = "test-util"))]
pub fn read_env_strict(text: &str) -> Result<Vec<(String, String)>, Unreadable> {
    Ok(grammar::read_strict(text)?
        .into_iter()
        .filter_map(|(line, _)| match line {
            Line::Assign { key, value, .. } => Some((key.to_owned(), value.to_owned())),
            Line::Blank | Line::Comment(_) => None,
        })
        .collect())
}

fn strict_copy(lines: &grammar::Lines<'_>, allow: &KeyAllowlist) -> Sanitized {
    let mut out = String::new();
    let (mut keys, mut redacted, mut secret_looking) = (0, 0, 0);
    for (line, term) in lines {
        match line {
            Line::Blank => out.push_str(term),
            Line::Comment(text) => {
                redacted += 1;
                secret_looking += text.split_whitespace().filter(|w| looks_secret(w)).count();
            }
            Line::Assign {
                export,
                key,
                quote,
                value,
            } => {
                keys += 1;
                let secret = !value.is_empty() && looks_secret(value);
                secret_looking += usize::from(secret);
                let keep = value.is_empty() || (allow.allows(key) && !secret);
                redacted += usize::from(!keep);
                if *export {
                    out.push_str("export ");
                }
                out.push_str(key);
                out.push('=');
                let q = quote.map(String::from).unwrap_or_default();
                out.push_str(&q);
                out.push_str(if keep { value } else { REDACTED });
                out.push_str(&q);
                out.push_str(term);
            }
        }
    }
    Sanitized {
        content: out.into_bytes(),
        keys,
        redacted,
        secret_looking,
        unreadable: None,
    }
}

fn placeholder(text: &str, unreadable: Unreadable) -> Sanitized {
    let keys: Vec<&str> = grammar::key_names(text)
        .into_iter()
        .filter(|k| !looks_secret(k))
        .collect();
    let mut out = format!(
        "# celeriac: placeholder. Not every env loader reads this file the same way (line {}: \
         {}),\n# so none of its values is kept here; the real file is in the secrets bundle.\n",
        unreadable.line, unreadable.why
    );
    out.push_str("# Keys:\n");
    for key in &keys {
        out.push_str("#   ");
        out.push_str(key);
        out.push('\n');
    }
    let secret_looking = text
        .split(|c: char| c.is_whitespace() || matches!(c, '=' | '"' | '\'' | '`'))
        .filter(|w| looks_secret(w))
        .count();
    Sanitized {
        content: out.into_bytes(),
        keys: keys.len(),
        redacted: keys.len(),
        secret_looking,
        unreadable: Some(unreadable),
    }
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
    fn keeps_structure_drops_comments_and_hides_values() {
        let input = "# app config\r\nexport SECRET_KEY='abc def'\nDEBUG=False\n\nDB_PORT=5432\nEMPTY=\nTAIL=x";
        let want =
            "export SECRET_KEY='<redacted>'\nDEBUG=False\n\nDB_PORT=5432\nEMPTY=\nTAIL=<redacted>";
        assert_eq!(run(input), want);
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
    fn files_the_loaders_read_differently_become_placeholders() {
        for input in [
            "ALLOWED_HOSTS='example.com\nSECRET_KEY=s3cr3t-one\nDB_PASSWORD=s3cr3t-two\n",
            "DEBUG=False\rSECRET_KEY=s3cr3t-one\rDB_PASSWORD=s3cr3t-two\r",
            "DB_PASSWORD3='it\\'s #s3cr3t-one'\n",
            "LOG_LEVEL=debug # s3cr3t-one\n",
        ] {
            let s = sanitize_env(input.as_bytes(), &KeyAllowlist::default()).unwrap();
            let out = String::from_utf8(s.content).unwrap();
            assert!(s.unreadable.is_some(), "{input:?}");
            assert!(out.starts_with("# celeriac: placeholder"), "{out}");
            assert!(!out.contains("s3cr3t") && !out.contains("debug"), "{out}");
            assert!(out.lines().all(|l| l.starts_with('#')), "{out}");
        }
        let out = run("DEBUG=False\rSECRET_KEY=x\r");
        assert!(out.contains("#   DEBUG\n#   SECRET_KEY\n"), "{out}");
    }

    #[test]
    fn secret_looking_words_are_counted_in_comments_and_placeholders() {
        let token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
        let strict = sanitize_env(
            format!("# token {token}\nA=1\n").as_bytes(),
            &KeyAllowlist::default(),
        )
        .unwrap();
        assert_eq!(strict.secret_looking, 1);
        let loose = sanitize_env(
            format!("A = {token}\n").as_bytes(),
            &KeyAllowlist::default(),
        )
        .unwrap();
        assert!(loose.secret_looking >= 1 && loose.unreadable.is_some());
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
