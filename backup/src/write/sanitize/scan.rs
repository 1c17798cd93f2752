//! Value patterns that count as secret whatever the key: URL userinfo, PEM blocks, provider
//! token prefixes, JWTs and long high-entropy words. Cheap checks, no network, no verification.

/// Substrings that start well-known credential formats.
const TOKEN_MARKERS: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxa-",
    "xoxb-",
    "xoxp-",
    "xoxr-",
    "xoxs-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
    "whsec_",
    "npm_",
    "pypi-",
    "AIza",
    "-----BEGIN",
];

/// Whether `value` looks like it holds a credential.
pub(crate) fn looks_secret(value: &str) -> bool {
    let v = value.trim();
    if v.is_empty() {
        return false;
    }
    has_url_userinfo(v)
        || TOKEN_MARKERS.iter().any(|m| v.contains(m))
        || v.split(|c: char| {
            c.is_whitespace() || matches!(c, ',' | ';' | '"' | '\'' | '=' | '(' | ')')
        })
        .any(|word| is_aws_key_id(word) || is_jwt(word) || word_has_high_entropy(word))
}

/// Whether `value` holds a credential by shape alone, without the entropy guess: URL
/// userinfo, a provider token prefix, a PEM block, an AWS key id or a JWT. In configuration
/// files, where long hashes and digests are common, only these are redacted unasked; a value
/// that is merely high-entropy is reported instead.
pub(crate) fn certainly_secret(value: &str) -> bool {
    let v = value.trim();
    has_url_userinfo(v)
        || TOKEN_MARKERS.iter().any(|m| v.contains(m))
        || v.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '"' | '\'' | '='))
            .any(|word| is_aws_key_id(word) || is_jwt(word))
}

/// A URL's structure is not entropy: only its query values are measured.
fn word_has_high_entropy(word: &str) -> bool {
    if word.contains("://") {
        word.split(['?', '&', '=']).skip(1).any(is_high_entropy)
    } else {
        is_high_entropy(word)
    }
}

/// `scheme://user[:pass]@host`: any userinfo in a URL authority.
fn has_url_userinfo(v: &str) -> bool {
    v.match_indices("://").any(|(i, _)| {
        let authority = &v[i + 3..];
        let end = authority
            .find(['/', '?', '#', ' '])
            .unwrap_or(authority.len());
        authority[..end].contains('@')
    })
}

fn is_aws_key_id(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() >= 20
        && (word.starts_with("AKIA") || word.starts_with("ASIA"))
        && b[4..20]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn is_jwt(word: &str) -> bool {
    word.starts_with("eyJ")
        && word.split('.').count() == 3
        && word
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'='))
}

/// Long words mixing letters and digits with high Shannon entropy, or long hex strings.
fn is_high_entropy(word: &str) -> bool {
    if word.len() < 20 {
        return false;
    }
    let hex = word.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-');
    if hex && word.len() >= 32 {
        return true;
    }
    let has_digit = word.bytes().any(|c| c.is_ascii_digit());
    let has_alpha = word.bytes().any(|c| c.is_ascii_alphabetic());
    has_digit && has_alpha && shannon_bits(word) >= 3.5
}

#[allow(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
fn shannon_bits(word: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in word.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = word.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use super::looks_secret;

    #[test]
    fn secret_shapes() {
        for v in [
            "postgres://app:s3cret@db:5432/app",
            "https://token@github.com/org/repo",
            "https://hooks.example.com/x?token=9f8e7d6c5b4a39281706f5e4d3c2b1a0",
            "AKIAIOSFODNN7EXAMPLE",
            "sk_live_51HxQabcdefghijkl",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            "django-insecure-7f#2k9x!q0v$w8e1r4t6y3u5i",
            "0123456789abcdef0123456789abcdef",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
        ] {
            assert!(looks_secret(v), "{v}");
        }
    }

    #[test]
    fn harmless_shapes() {
        for v in [
            "localhost,127.0.0.1,example.com",
            "America/New_York",
            "myproject.settings.production",
            "redis://cache:6379/0",
            "https://sentry.example.com/api/42/store/?debug=1",
            "5432",
            "True",
            "en_US.UTF-8",
        ] {
            assert!(!looks_secret(v), "{v}");
        }
    }
}
