//! Secrets written inline in the configuration formats the collector reads line by line:
//! Python modules (Django settings) and YAML (Compose files, Kubernetes objects, CI files).
//!
//! A value is redacted in the main copy (the original goes to the secrets bundle) when its key
//! names a secret (`PASSWORD`, `SECRET_KEY`, `apiToken`, …, but not `PASSWORD_FILE` or
//! `secretName`, which point at one) and the value is written out rather than looked up
//! (`os.environ[...]`, `${VAR}`, `{{ ... }}`), or when the value has the shape of a credential
//! whatever its key (URL userinfo, token prefixes, PEM, JWT, AWS key ids). What this reading
//! cannot settle (a secret-named value that continues over lines it cannot follow, a value that
//! is only high-entropy) is reported as a [`Suspect`] with its line number, never its value.

use serde::Serialize;

use super::{certainly_secret, looks_secret};
use crate::report::SuspectReason;

/// A line-oriented configuration format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ConfigFormat {
    /// A Python module (`settings.py`, `gunicorn.conf.py`).
    Python,
    /// YAML (Compose files, Kubernetes objects).
    Yaml,
}

impl ConfigFormat {
    /// The format a file name says, if it is one of these.
    pub(crate) fn of(file_name: &str) -> Option<Self> {
        let ext = std::path::Path::new(file_name)
            .extension()?
            .to_str()?
            .to_ascii_lowercase();
        match ext.as_str() {
            "py" => Some(Self::Python),
            "yml" | "yaml" => Some(Self::Yaml),
            _ => None,
        }
    }
}

/// A line that may hold a secret the redaction left in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Suspect {
    /// 1-based line number.
    pub line: usize,
    /// Why.
    pub why: SuspectReason,
}

/// The main archive's copy of one configuration file.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Redaction {
    /// The content with every redacted value replaced by [`REDACTED`](super::REDACTED).
    pub(crate) content: String,
    /// Values redacted.
    pub(crate) redacted: usize,
    /// Lines reported, in order.
    pub(crate) suspects: Vec<Suspect>,
}

/// Redacts `text` read as `format`.
pub(crate) fn redact_config(text: &str, format: ConfigFormat) -> Redaction {
    match format {
        ConfigFormat::Python => python::redact(text),
        ConfigFormat::Yaml => yaml::redact(text),
    }
}

/// Name words that make a key's value a secret.
const SECRET_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PWD",
    "SECRET",
    "SECRETS",
    "TOKEN",
    "APIKEY",
    "PRIVATE",
    "PRIVKEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "CREDS",
    "SALT",
    "PEPPER",
    "HMAC",
    "JWT",
    "BEARER",
    "DSN",
    "PASSPHRASE",
];

/// Last words that make a secret-named key a pointer to a secret, not the secret itself.
const POINTER_WORDS: &[&str] = &[
    "NAME",
    "NAMES",
    "REF",
    "FILE",
    "FILES",
    "PATH",
    "DIR",
    "ENV",
    "VAR",
    "HOST",
    "PORT",
    "USER",
    "USERNAME",
    "LENGTH",
    "ENABLED",
    "MODE",
    "TYPE",
    "ID",
    "HEADER",
    "FIELD",
    "BACKEND",
    "PROVIDER",
    "VALIDATORS",
    "URL",
    "URI",
    "COOKIE",
    "AGE",
    "EXPIRY",
    "TTL",
    "LIFETIME",
];

/// Splits a key into upper-case words at `_`, `-`, `.`, spaces and lower-to-upper case changes.
fn words(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        word.push(c.to_ascii_uppercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Whether a key's value is a secret: a secret word in it (or `KEY` after another word, as in
/// `SECRET_KEY`, `apiKey`), and no pointer word at its end.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let words = words(key);
    let Some(last) = words.last() else {
        return false;
    };
    if POINTER_WORDS.contains(&last.as_str()) {
        return false;
    }
    words.iter().any(|w| SECRET_WORDS.contains(&w.as_str())) || (last == "KEY" && words.len() > 1)
}

/// Whether a written-out value is a lookup of something else rather than a value.
fn is_reference(value: &str) -> bool {
    let v = value.trim_matches(['"', '\'']);
    v.starts_with("${")
        || v.starts_with("{{")
        || v.starts_with('$')
        || v.starts_with('*')
        || v.starts_with('!')
        || v.starts_with("<redacted>")
}

/// The outcome for one value found on a line.
enum Verdict {
    Keep,
    Redact,
    Suspect,
}

fn judge(key_is_secret: bool, value: &str) -> Verdict {
    if value.is_empty() || is_reference(value) {
        Verdict::Keep
    } else if key_is_secret || certainly_secret(value) {
        Verdict::Redact
    } else if looks_secret(value) {
        Verdict::Suspect
    } else {
        Verdict::Keep
    }
}

/// Whether to redact `value`; a suspect value is recorded on `line` and kept.
fn verdict(secret: bool, value: &str, line: usize, suspects: &mut Vec<Suspect>) -> bool {
    match judge(secret, value) {
        Verdict::Redact => true,
        Verdict::Suspect => {
            suspects.push(Suspect {
                line,
                why: SuspectReason::SecretLookingValue,
            });
            false
        }
        Verdict::Keep => false,
    }
}

mod python {
    //! Python: string literals after `NAME =`, `'NAME':` or `name=` with a secret-named key;
    //! on such a line also the fallback literals of a lookup (`env("X", default="...")`).

    use super::{Redaction, Suspect, SuspectReason, is_secret_key, verdict};
    use crate::write::sanitize::REDACTED;

    #[derive(Debug)]
    enum Token {
        Name(usize, usize),
        Str(Lit),
        Punct(char),
    }

    /// A string literal: where its quotes and content are.
    #[derive(Debug, Clone, Copy)]
    struct Lit {
        /// Byte range of the content (inside the quotes).
        start: usize,
        end: usize,
        /// Three quote characters.
        triple: bool,
        /// Closed on this line.
        closed: bool,
    }

    fn lex(line: &str) -> Vec<Token> {
        let b = line.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c == b'#' {
                break;
            }
            if c == b'"' || c == b'\'' {
                let triple = b.len() >= i + 3 && b[i + 1] == c && b[i + 2] == c;
                let quotes = if triple { 3 } else { 1 };
                let start = i + quotes;
                let mut at = start;
                let mut closed = false;
                while at < b.len() {
                    if b[at] == b'\\' {
                        at += 2;
                        continue;
                    }
                    if b[at] == c
                        && (!triple || (b.get(at + 1) == Some(&c) && b.get(at + 2) == Some(&c)))
                    {
                        closed = true;
                        break;
                    }
                    at += 1;
                }
                let end = at.min(b.len());
                out.push(Token::Str(Lit {
                    start,
                    end,
                    triple,
                    closed,
                }));
                i = if closed { end + quotes } else { b.len() };
                continue;
            }
            if c.is_ascii_alphabetic() || c == b'_' {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.')
                {
                    i += 1;
                }
                // A string prefix (r"", f'', b"") belongs to the literal that follows.
                let prefix = &line[start..i];
                if i < b.len()
                    && (b[i] == b'"' || b[i] == b'\'')
                    && prefix.len() <= 2
                    && prefix.chars().all(|c| "rRbBuUfF".contains(c))
                {
                    continue;
                }
                out.push(Token::Name(start, i));
                continue;
            }
            if c == b'=' && b.get(i + 1) == Some(&b'=') {
                out.push(Token::Punct('~'));
                i += 2;
                continue;
            }
            if !c.is_ascii_whitespace() {
                out.push(Token::Punct(char::from(c)));
            }
            i += 1;
        }
        out
    }

    fn env_name_like(s: &str) -> bool {
        !s.is_empty()
            && s.bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one pass over each line's tokens; split up, its state would travel in a struct"
    )]
    pub(super) fn redact(text: &str) -> Redaction {
        let mut out = String::with_capacity(text.len());
        let mut redacted = 0;
        let mut suspects = Vec::new();
        // Inside a redacted triple-quoted literal: its closing quotes.
        let mut skipping: Option<&str> = None;
        for (n, raw) in text.split_inclusive('\n').enumerate() {
            let line_no = n + 1;
            if let Some(close) = skipping {
                if let Some(at) = raw.find(close) {
                    // The literal was already closed on its first line.
                    out.push_str(&raw[at + close.len()..]);
                    skipping = None;
                }
                continue;
            }
            let tokens = lex(raw);
            // Content ranges to replace on this line, in order.
            let mut cuts: Vec<(usize, usize)> = Vec::new();
            let mut secret_line = false;
            let mut i = 0;
            while i < tokens.len() {
                let key = match &tokens[i] {
                    Token::Name(s, e) => Some(raw[*s..*e].rsplit('.').next().unwrap_or("")),
                    Token::Str(l) if l.closed && !l.triple => Some(&raw[l.start..l.end]),
                    _ => None,
                };
                let assigns = matches!(tokens.get(i + 1), Some(Token::Punct('=' | ':')));
                if let (Some(key), true) = (key, assigns) {
                    let secret = is_secret_key(key);
                    secret_line |= secret;
                    match tokens.get(i + 2) {
                        Some(Token::Str(lit)) => {
                            let value = &raw[lit.start..lit.end];
                            if secret && !lit.closed {
                                if lit.triple {
                                    cuts.push((lit.start, lit.end));
                                    redacted += 1;
                                    skipping = Some(if raw[..lit.start].ends_with("'''") {
                                        "'''"
                                    } else {
                                        "\"\"\""
                                    });
                                } else {
                                    suspects.push(Suspect {
                                        line: line_no,
                                        why: SuspectReason::UnparsedValue,
                                    });
                                }
                            } else if verdict(secret, value, line_no, &mut suspects) {
                                cuts.push((lit.start, lit.end));
                                redacted += 1;
                            }
                            i += 3;
                            continue;
                        }
                        None | Some(Token::Punct('(' | '[' | '{' | '\\')) if secret => {
                            let rest_has_value = tokens[i + 2..]
                                .iter()
                                .any(|t| matches!(t, Token::Str(_) | Token::Name(..)));
                            if !rest_has_value {
                                suspects.push(Suspect {
                                    line: line_no,
                                    why: SuspectReason::UnparsedValue,
                                });
                            }
                        }
                        _ => {}
                    }
                }
                i += 1;
            }
            // Other literals: fallbacks on a secret line, credential shapes anywhere.
            for t in &tokens {
                let Token::Str(lit) = t else { continue };
                if cuts.iter().any(|&(s, _)| s == lit.start) || !lit.closed {
                    continue;
                }
                let value = &raw[lit.start..lit.end];
                let fallback = secret_line && !env_name_like(value);
                if verdict(fallback, value, line_no, &mut suspects) {
                    cuts.push((lit.start, lit.end));
                    redacted += 1;
                }
            }
            if let Some(at) = comment_start(raw)
                && super::looks_secret(&raw[at..])
            {
                suspects.push(Suspect {
                    line: line_no,
                    why: SuspectReason::SecretLookingValue,
                });
            }
            cuts.sort_unstable();
            let mut from = 0;
            for (s, e) in cuts {
                out.push_str(&raw[from..s]);
                out.push_str(REDACTED);
                from = e;
            }
            if skipping.is_some() {
                // The rest of the line was the literal's content; close it here.
                let close = skipping.unwrap_or("\"\"\"");
                out.push_str(close);
                out.push('\n');
            } else {
                out.push_str(&raw[from..]);
            }
        }
        suspects.dedup();
        Redaction {
            content: out,
            redacted,
            suspects,
        }
    }

    /// Where a comment starts on a line, outside string literals.
    fn comment_start(line: &str) -> Option<usize> {
        let b = line.as_bytes();
        let mut quote: Option<u8> = None;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            match quote {
                Some(_) if c == b'\\' => i += 1,
                Some(q) if c == q => quote = None,
                None if c == b'"' || c == b'\'' => quote = Some(c),
                None if c == b'#' => return Some(i),
                Some(_) | None => {}
            }
            i += 1;
        }
        None
    }
}

mod yaml {
    //! YAML: `key: value` and `- KEY=value` (Compose's list form), the `value:` beside a
    //! secret-named `name:` (Kubernetes' `env` list), and block scalars (`key: |`) under a
    //! secret-named key.

    use super::{Redaction, Suspect, SuspectReason, is_secret_key, verdict};
    use crate::write::sanitize::REDACTED;

    /// A scalar's position on its line.
    struct Scalar {
        start: usize,
        end: usize,
    }

    /// The value part after `key:` or `KEY=`: from `from` to a trailing ` #` comment, trimmed,
    /// inside its quotes when quoted.
    fn scalar(line: &str, from: usize) -> Scalar {
        let body = line[from..].trim_end_matches(['\n', '\r']);
        let lead = body.len() - body.trim_start().len();
        let start = from + lead;
        let rest = &line[start..from + body.len()];
        let (s, e) = if let Some(&q @ (b'"' | b'\'')) = rest.as_bytes().first() {
            rest[1..]
                .find(char::from(q))
                .map_or((1, rest.len()), |close| (1, 1 + close))
        } else {
            let end = rest.find(" #").unwrap_or(rest.len());
            (0, rest[..end].trim_end().len())
        };
        Scalar {
            start: start + s,
            end: start + e,
        }
    }

    fn indent(line: &str) -> usize {
        line.len() - line.trim_start_matches(' ').len()
    }

    /// `key:` at `at` (after indentation and `- `): the key and where its value starts.
    fn mapping_key(line: &str, at: usize) -> Option<(&str, usize)> {
        let rest = &line[at..];
        let (key, after) = if let &q @ (b'"' | b'\'') = rest.as_bytes().first()? {
            let close = rest[1..].find(char::from(q))? + 1;
            (&rest[1..close], close + 1)
        } else {
            let colon = rest.find(": ").or_else(|| {
                let t = rest.trim_end();
                t.ends_with(':').then(|| t.len() - 1)
            })?;
            (&rest[..colon], colon)
        };
        if key.is_empty() || key.contains(['#', '{', '[']) || !rest[after..].starts_with(':') {
            return None;
        }
        Some((key, at + after + 1))
    }

    /// `KEY=value` at `at`, perhaps in quotes: the key and where its value starts.
    fn env_item(line: &str, at: usize) -> Option<(&str, usize)> {
        let rest = &line[at..];
        let skip = usize::from(rest.starts_with(['"', '\'']));
        let body = &rest[skip..];
        let eq = body.find('=')?;
        let key = &body[..eq];
        let ok = !key.is_empty()
            && key
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-');
        ok.then_some((key, at + skip + eq + 1))
    }

    pub(super) fn redact(text: &str) -> Redaction {
        let mut out = String::with_capacity(text.len());
        let mut redacted = 0;
        let mut suspects = Vec::new();
        // A block scalar under a secret key: lines deeper than this indentation are dropped.
        let mut block: Option<usize> = None;
        // `- name: SECRET_NAME` seen at this indentation of its mapping.
        let mut secret_name_at: Option<usize> = None;
        for (n, raw) in text.split_inclusive('\n').enumerate() {
            let line_no = n + 1;
            let ind = indent(raw);
            let blank = raw.trim().is_empty();
            if let Some(level) = block {
                if blank || ind > level {
                    continue;
                }
                block = None;
            }
            let mut at = ind;
            let mut item = false;
            if raw[at..].starts_with("- ") {
                at += 2;
                at += raw[at..].len() - raw[at..].trim_start_matches(' ').len();
                item = true;
            }
            let mut cut: Option<(usize, usize)> = None;
            if let Some((key, from)) = mapping_key(raw, at) {
                let value = scalar(raw, from);
                let text = &raw[value.start..value.end];
                let under_name = key == "value" && secret_name_at == Some(at);
                let secret = is_secret_key(key) || under_name;
                if key == "name" {
                    secret_name_at = is_secret_key(text).then_some(at);
                } else if item {
                    secret_name_at = None;
                }
                let trimmed = text.trim_start();
                if secret && (trimmed.starts_with('|') || trimmed.starts_with('>')) {
                    // The block's lines go; the key keeps a one-line value.
                    out.push_str(&raw[..value.start]);
                    out.push_str(REDACTED);
                    out.push('\n');
                    redacted += 1;
                    block = Some(ind.max(at.saturating_sub(2)));
                    continue;
                }
                let quoted =
                    value.start > 0 && matches!(raw.as_bytes()[value.start - 1], b'"' | b'\'');
                let open_quote = quoted && !raw[value.end..].starts_with(['"', '\'']);
                if secret && open_quote {
                    suspects.push(Suspect {
                        line: line_no,
                        why: SuspectReason::UnparsedValue,
                    });
                    cut = Some((value.start, value.end));
                } else if !trimmed.starts_with(['{', '[']) {
                    cut = verdict(secret, text, line_no, &mut suspects)
                        .then_some((value.start, value.end));
                }
            } else if let Some((key, from)) = env_item(raw, at) {
                let value = scalar(raw, from);
                let mut end = value.end;
                // `"KEY=value"` quotes the whole item: the value ends before the close quote.
                if raw[at..].starts_with(['"', '\'']) && raw[from..end].ends_with(['"', '\'']) {
                    end -= 1;
                }
                let text = &raw[from..end.max(from)];
                cut = verdict(is_secret_key(key), text, line_no, &mut suspects)
                    .then_some((from, end.max(from)));
            }
            match cut {
                Some((s, e)) => {
                    out.push_str(&raw[..s]);
                    out.push_str(REDACTED);
                    out.push_str(&raw[e..]);
                    redacted += 1;
                }
                None => out.push_str(raw),
            }
        }
        suspects.dedup();
        Redaction {
            content: out,
            redacted,
            suspects,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use super::*;

    fn py(text: &str) -> Redaction {
        redact_config(text, ConfigFormat::Python)
    }

    fn yml(text: &str) -> Redaction {
        redact_config(text, ConfigFormat::Yaml)
    }

    #[test]
    fn secret_keys() {
        for k in [
            "SECRET_KEY",
            "DB_PASSWORD",
            "password",
            "POSTGRES_PASSWORD",
            "apiKey",
            "api_token",
            "AWS_SECRET_ACCESS_KEY",
            "SENTRY_DSN",
            "clientSecret",
            "EMAIL_HOST_PASSWORD",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "key",
            "secretName",
            "secretKeyRef",
            "POSTGRES_PASSWORD_FILE",
            "AUTH_PASSWORD_VALIDATORS",
            "SESSION_COOKIE_AGE",
            "AWS_ACCESS_KEY_ID",
            "DEBUG",
            "STATIC_URL",
            "KEY_PREFIX",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn django_settings() {
        let text = "import os\n\
SECRET_KEY = 'django-insecure-abc'\n\
DEBUG = False\n\
ALLOWED_HOSTS = ['example.com']\n\
DATABASES = {\n    'default': {\n        'NAME': 'app',\n        'PASSWORD': 'hunter2',\n        'HOST': 'db',\n    }\n}\n\
EMAIL_HOST_PASSWORD = os.environ.get('EMAIL_HOST_PASSWORD', 'fallback-pw')\n\
AWS_KEY = env('AWS_KEY')\n\
CACHE = 'redis://:pw123@cache:6379/0'\n\
API_TOKEN = \"\"\"\nmultiline-token\n\"\"\"\n\
STATIC_URL = '/static/'\n";
        let r = py(text);
        for leaked in [
            "django-insecure-abc",
            "hunter2",
            "fallback-pw",
            "pw123",
            "multiline-token",
        ] {
            assert!(!r.content.contains(leaked), "{leaked} in\n{}", r.content);
        }
        for kept in [
            "DEBUG = False",
            "'example.com'",
            "'NAME': 'app'",
            "'HOST': 'db'",
            "os.environ.get('EMAIL_HOST_PASSWORD', '<redacted>')",
            "env('AWS_KEY')",
            "STATIC_URL = '/static/'",
            "SECRET_KEY = '<redacted>'",
        ] {
            assert!(r.content.contains(kept), "{kept} missing in\n{}", r.content);
        }
        assert_eq!(r.redacted, 5, "{}", r.content);
        assert!(
            r.content
                .contains("API_TOKEN = \"\"\"<redacted>\"\"\"\n\nSTATIC_URL"),
            "the multi-line literal is closed once:\n{}",
            r.content
        );
        assert!(r.suspects.is_empty(), "{:?}", r.suspects);
    }

    #[test]
    fn python_that_cannot_be_followed_is_reported() {
        let r = py("SECRET_KEY = (\n    'part-one'\n    'part-two'\n)\n");
        assert_eq!(
            r.suspects,
            vec![Suspect {
                line: 1,
                why: SuspectReason::UnparsedValue
            }]
        );
        let r = py("CHECKSUM = 'a8f5f167f44f4964e6c998dee827110c'\n");
        assert_eq!(r.suspects[0].why, SuspectReason::SecretLookingValue);
        assert_eq!(r.redacted, 0);
    }

    #[test]
    fn compose_file() {
        let text = "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: s3cret # inline\n      POSTGRES_USER: app\n      POSTGRES_PASSWORD_FILE: /run/secrets/pw\n  web:\n    environment:\n      - DJANGO_SECRET_KEY=abcdef\n      - \"DB_PASSWORD=quoted-pw\"\n      - DEBUG=0\n      - API_TOKEN=${API_TOKEN}\n      - DATABASE_URL=postgres://u:urlpw@db/app\n";
        let r = yml(text);
        for leaked in ["s3cret", "abcdef", "quoted-pw", "urlpw"] {
            assert!(!r.content.contains(leaked), "{leaked} in\n{}", r.content);
        }
        for kept in [
            "POSTGRES_PASSWORD: <redacted> # inline",
            "POSTGRES_USER: app",
            "POSTGRES_PASSWORD_FILE: /run/secrets/pw",
            "- DJANGO_SECRET_KEY=<redacted>",
            "- \"DB_PASSWORD=<redacted>\"",
            "- DEBUG=0",
            "- API_TOKEN=${API_TOKEN}",
            "image: postgres:16",
        ] {
            assert!(r.content.contains(kept), "{kept} missing in\n{}", r.content);
        }
        assert_eq!(r.redacted, 4);
    }

    #[test]
    fn kubernetes_env_and_block_scalars() {
        let text = "spec:\n  containers:\n    - name: web\n      env:\n        - name: DB_PASSWORD\n          value: \"k8s-pw\"\n        - name: DB_HOST\n          value: db\n        - name: API_KEY\n          valueFrom:\n            secretKeyRef:\n              name: api\n              key: token\n---\nkind: ConfigMap\ndata:\n  private_key: |\n    line-one\n    line-two\n  other: kept\n";
        let r = yml(text);
        for leaked in ["k8s-pw", "line-one", "line-two"] {
            assert!(!r.content.contains(leaked), "{leaked} in\n{}", r.content);
        }
        for kept in [
            "value: db",
            "name: api",
            "key: token",
            "other: kept",
            "value: \"<redacted>\"",
        ] {
            assert!(r.content.contains(kept), "{kept} missing in\n{}", r.content);
        }
    }
}
