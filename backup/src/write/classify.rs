//! Which collected files are secrets: `.env` files by name, private keys by name (`*.key`) or by
//! content (a `-----BEGIN … PRIVATE KEY-----` block anywhere), and Kubernetes `kind: Secret`
//! manifests. Content is sniffed while the collector streams the file for its digest.

use memchr::memmem;

/// What a file's name (and the folder it is in) says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameClass {
    /// Nothing special; content may still make it secret.
    Ordinary,
    /// A real env file (`.env`, `.env.<environment>`, `<name>.env`, anything under `.envs/`):
    /// the file goes to secrets, a sanitized copy to main.
    EnvFile,
    /// A sample env file (`.env.example`, `.env.sample`, `.env.template`, `.env.dist`,
    /// `.env.<name>-sample`, `<name>.env.example`, …): kept verbatim in main unless a value in
    /// it looks secret, then handled as an [`NameClass::EnvFile`].
    EnvSample,
    /// A file named like an env file that is not one (`.env.patch`, `.env.py`, `.env.json`):
    /// never parsed as env lines; the whole file goes to secrets, nothing to main.
    EnvLookalike,
    /// `*.key`: a private key by convention.
    PrivateKey,
    /// A file that is a secret by nature, whole: DER keys, PKCS#12 and Java keystores,
    /// `.pgpass`, `.netrc`, `htpasswd`, `.git-credentials`. Only the secrets bundle has it.
    SecretFile,
}

/// Names of files that are secrets whole.
const SECRET_FILE_NAMES: &[&str] = &[
    ".pgpass",
    ".netrc",
    "_netrc",
    ".htpasswd",
    "htpasswd",
    ".git-credentials",
    ".my.cnf",
];

/// Extensions of files that are secrets whole.
const SECRET_FILE_EXTENSIONS: &[&str] = &[
    "der", "p12", "pfx", "jks", "keystore", "p8", "pk8", "htpasswd", "kdbx",
];

/// Last words of a sample env file's name.
const SAMPLE_WORDS: &[&str] = &[
    "example", "examples", "sample", "samples", "template", "tmpl", "tpl", "dist", "default",
    "defaults",
];

/// Extensions after `.env.` that make a file something else than env lines.
const NOT_ENV_EXTENSIONS: &[&str] = &[
    "patch", "diff", "orig", "rej", "py", "js", "ts", "sh", "json", "yml", "yaml", "toml", "md",
    "gpg", "asc", "age", "enc",
];

/// Classifies by archive path: the file name, and whether it sits in a `.envs/` folder (the
/// cookiecutter-django layout `.envs/.production/.django`).
pub(crate) fn classify_path(path: &str) -> NameClass {
    let (dirs, file_name) = path.rsplit_once('/').unwrap_or(("", path));
    if dirs.split('/').any(|d| d == ".envs") {
        return if is_sample_name(file_name) {
            NameClass::EnvSample
        } else {
            NameClass::EnvFile
        };
    }
    classify_name(file_name)
}

/// Classifies by file name alone.
pub(crate) fn classify_name(file_name: &str) -> NameClass {
    if file_name == ".env" {
        return NameClass::EnvFile;
    }
    if let Some(rest) = file_name.strip_prefix(".env.") {
        return if is_sample_name(rest) {
            NameClass::EnvSample
        } else if rest.is_empty() || NOT_ENV_EXTENSIONS.iter().any(|e| last_word(rest) == *e) {
            NameClass::EnvLookalike
        } else {
            NameClass::EnvFile
        };
    }
    if let Some(stem) = strip_env_sample_suffix(file_name)
        && has_extension(stem, "env")
        && stem.len() > ".env".len()
    {
        return NameClass::EnvSample;
    }
    if has_extension(file_name, "env") && file_name.len() > ".env".len() {
        return if is_sample_name(file_name.trim_end_matches(".env")) {
            NameClass::EnvSample
        } else {
            NameClass::EnvFile
        };
    }
    if has_extension(file_name, "key") {
        NameClass::PrivateKey
    } else if SECRET_FILE_NAMES.contains(&file_name)
        || SECRET_FILE_EXTENSIONS
            .iter()
            .any(|ext| has_extension(file_name, ext))
    {
        NameClass::SecretFile
    } else {
        NameClass::Ordinary
    }
}

/// `prod.env.example` -> `prod.env`.
fn strip_env_sample_suffix(file_name: &str) -> Option<&str> {
    let (stem, last) = file_name.rsplit_once('.')?;
    SAMPLE_WORDS
        .contains(&last.to_ascii_lowercase().as_str())
        .then_some(stem)
}

/// The last word of a name split on `.`, `-` and `_`, lowercased.
fn last_word(name: &str) -> String {
    name.rsplit(['.', '-', '_'])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase()
}

/// Whether a name (or the part after `.env.`) ends in a sample word: `example`,
/// `production-sample`, `local.template`.
fn is_sample_name(name: &str) -> bool {
    let word = last_word(name);
    SAMPLE_WORDS.contains(&word.as_str())
}

fn has_extension(file_name: &str, ext: &str) -> bool {
    std::path::Path::new(file_name)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// How much of a YAML file [`is_kubernetes_manifest`] looks at.
pub(crate) const MANIFEST_HEAD: usize = 8 * 1024;

/// Whether the start of a YAML file is a Kubernetes object: a top-level `apiVersion:` line and
/// a top-level `kind:` line (in any of its documents). Compose files, CI workflows and Helm
/// values have neither pair.
pub(crate) fn is_kubernetes_manifest(head: &[u8]) -> bool {
    let (mut api_version, mut kind) = (false, false);
    for line in head.split(|&b| b == b'\n') {
        if line.starts_with(b"---") {
            (api_version, kind) = (false, false);
            continue;
        }
        api_version |= line.starts_with(b"apiVersion:");
        kind |= line.starts_with(b"kind:");
        if api_version && kind {
            return true;
        }
    }
    false
}

/// What the content revealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecretContent {
    /// A PEM private key block (any algorithm, encrypted or not, OpenSSH, PGP).
    PrivateKeyPem,
    /// A Kubernetes manifest with a top-level `kind: Secret` document.
    KubernetesSecret,
}

const CARRY: usize = 64;

/// Streaming content scanner; feed chunks with [`ContentSniffer::update`].
pub(crate) struct ContentSniffer {
    yaml: bool,
    window: Vec<u8>,
    at_start: bool,
    found: Option<SecretContent>,
}

impl ContentSniffer {
    /// A scanner; `yaml` enables the `kind: Secret` check.
    pub(crate) fn new(file_name: &str) -> Self {
        let yaml = has_extension(file_name, "yaml") || has_extension(file_name, "yml");
        Self {
            yaml,
            window: Vec::new(),
            at_start: true,
            found: None,
        }
    }

    /// Scans the next chunk of content.
    pub(crate) fn update(&mut self, chunk: &[u8]) {
        if self.found.is_some() || chunk.is_empty() {
            return;
        }
        self.window.extend_from_slice(chunk);
        self.scan(false);
        let keep_from = self.window.len().saturating_sub(CARRY);
        if keep_from > 0 {
            self.window.drain(..keep_from);
            self.at_start = false;
        }
    }

    /// The verdict once the whole content was fed.
    pub(crate) fn finish(mut self) -> Option<SecretContent> {
        if self.found.is_none() {
            self.scan(true);
        }
        self.found
    }

    fn scan(&mut self, eof: bool) {
        let w = &self.window;
        for pos in memmem::find_iter(w, b"PRIVATE KEY") {
            let line_start = w[..pos]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            if memmem::find(&w[line_start..pos], b"-----BEGIN ").is_some() {
                self.found = Some(SecretContent::PrivateKeyPem);
                return;
            }
        }
        if self.yaml && self.has_k8s_secret(eof) {
            self.found = Some(SecretContent::KubernetesSecret);
        }
    }

    fn has_k8s_secret(&self, eof: bool) -> bool {
        let w = &self.window;
        memmem::find_iter(w, b"kind:").any(|pos| {
            // Only spaces and one `- ` before it on its line: a top-level object, an item of a
            // `kind: List` (as `kubectl get -o yaml` writes it), or a nested object.
            let line_begin = w[..pos].iter().rposition(|&b| b == b'\n');
            let lead = &w[line_begin.map_or(0, |i| i + 1)..pos];
            let lead_ok = {
                let t = lead.trim_ascii_start();
                t.is_empty() || t == b"- "
            };
            let line_start = lead_ok && (line_begin.is_some() || self.at_start);
            let rest = &w[pos + 5..];
            let Some(end) = rest
                .iter()
                .position(|&b| b == b'\n')
                .or(eof.then_some(rest.len()))
            else {
                return false;
            };
            let value = String::from_utf8_lossy(&rest[..end]);
            let value = value.split(" #").next().unwrap_or("");
            let value = value.trim().trim_matches(['"', '\'']);
            line_start && value == "Secret"
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use super::*;

    fn sniff(name: &str, data: &[u8], chunk: usize) -> Option<SecretContent> {
        let mut s = ContentSniffer::new(name);
        for c in data.chunks(chunk) {
            s.update(c);
        }
        s.finish()
    }

    #[test]
    fn kubernetes_manifests_by_content() {
        assert!(is_kubernetes_manifest(
            b"# c\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n"
        ));
        assert!(is_kubernetes_manifest(
            b"services: {}\n---\nkind: Service\napiVersion: v1\n"
        ));
        assert!(!is_kubernetes_manifest(
            b"services:\n  web:\n    image: x\n"
        ));
        assert!(!is_kubernetes_manifest(b"on: push\njobs:\n  kind: x\n"));
        assert!(!is_kubernetes_manifest(
            b"apiVersion: v1\n---\nkind: List\n"
        ));
        assert!(!is_kubernetes_manifest(
            b"spec:\n  apiVersion: v1\n  kind: Pod\n"
        ));
    }

    #[test]
    fn names() {
        let cases = [
            (".env", NameClass::EnvFile),
            (".env.production", NameClass::EnvFile),
            (".env.local", NameClass::EnvFile),
            (".env.bak", NameClass::EnvFile),
            ("postgres.env", NameClass::EnvFile),
            (".env.example", NameClass::EnvSample),
            (".env.sample", NameClass::EnvSample),
            (".env.template", NameClass::EnvSample),
            (".env.dist", NameClass::EnvSample),
            (".env.production-sample", NameClass::EnvSample),
            (".env.local.example", NameClass::EnvSample),
            ("prod.env.example", NameClass::EnvSample),
            ("example.env", NameClass::EnvSample),
            (".env.patch", NameClass::EnvLookalike),
            (".env.py", NameClass::EnvLookalike),
            (".env.", NameClass::EnvLookalike),
            ("site.key", NameClass::PrivateKey),
            ("site.crt", NameClass::Ordinary),
            ("client.der", NameClass::SecretFile),
            ("keystore.p12", NameClass::SecretFile),
            ("cert.pfx", NameClass::SecretFile),
            (".pgpass", NameClass::SecretFile),
            (".netrc", NameClass::SecretFile),
            ("htpasswd", NameClass::SecretFile),
            (".htpasswd", NameClass::SecretFile),
            (".envrc", NameClass::Ordinary),
            ("settings.py", NameClass::Ordinary),
        ];
        for (name, class) in cases {
            assert_eq!(classify_name(name), class, "{name}");
        }
        assert_eq!(
            classify_path(".envs/.production/.django"),
            NameClass::EnvFile
        );
        assert_eq!(
            classify_path(".envs/.local/.django.example"),
            NameClass::EnvSample
        );
        assert_eq!(classify_path("app/.env.example"), NameClass::EnvSample);
    }

    #[test]
    fn private_key_found_across_chunk_boundaries() {
        let mut data = vec![b'x'; 1000];
        data.extend_from_slice(
            b"\n-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n",
        );
        for chunk in [1, 3, 7, 64, 100, 4096] {
            assert_eq!(
                sniff("privkey.pem", &data, chunk),
                Some(SecretContent::PrivateKeyPem)
            );
        }
        let json = br#"{"private_key": "-----BEGIN PRIVATE KEY-----\nMII"}"#;
        assert_eq!(
            sniff("sa.json", json, 5),
            Some(SecretContent::PrivateKeyPem)
        );
        let cert = b"-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n";
        assert_eq!(sniff("fullchain.pem", cert, 4), None);
    }

    #[test]
    fn kubernetes_secret_only_at_line_start_in_yaml() {
        let doc = b"apiVersion: v1\nkind: Secret\ndata:\n  a: b\n";
        for chunk in [1, 5, 100] {
            assert_eq!(
                sniff("s.yaml", doc, chunk),
                Some(SecretContent::KubernetesSecret)
            );
        }
        assert_eq!(
            sniff("s.yaml", b"apiVersion: v1\nkind: \"Secret\"", 3),
            Some(SecretContent::KubernetesSecret)
        );
        assert_eq!(sniff("s.yaml", b"kind: SecretStore\n", 3), None);
        for doc in [
            &b"apiVersion: v1\nkind: Secret # db credentials\n"[..],
            b"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n",
            b"items:\n  - kind: Secret\n    data: {}\n",
        ] {
            for chunk in [1, 7, 100] {
                assert_eq!(
                    sniff("s.yaml", doc, chunk),
                    Some(SecretContent::KubernetesSecret),
                    "{}",
                    String::from_utf8_lossy(doc)
                );
            }
        }
        assert_eq!(sniff("s.yaml", b"x: kind: Secret\n", 3), None);
        assert_eq!(sniff("s.txt", doc, 3), None);
    }
}
