//! Which collected files are secrets: `.env` files by name, private keys by name (`*.key`) or by
//! content (a `-----BEGIN … PRIVATE KEY-----` block anywhere), and Kubernetes `kind: Secret`
//! manifests. Content is sniffed while the collector streams the file for its digest.

use memchr::memmem;

/// What a file's name alone says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameClass {
    /// Nothing special; content may still make it secret.
    Ordinary,
    /// `.env` or `.env.*` other than `.env.example`: real file to secrets, sanitized copy to main.
    EnvFile,
    /// `*.key`: a private key by convention.
    PrivateKey,
}

/// Classifies by file name.
pub(crate) fn classify_name(file_name: &str) -> NameClass {
    if file_name == ".env" || (file_name.starts_with(".env.") && file_name != ".env.example") {
        NameClass::EnvFile
    } else if has_extension(file_name, "key") {
        NameClass::PrivateKey
    } else {
        NameClass::Ordinary
    }
}

fn has_extension(file_name: &str, ext: &str) -> bool {
    std::path::Path::new(file_name)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
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
            let line_start = if pos == 0 {
                self.at_start
            } else {
                w[pos - 1] == b'\n'
            };
            let rest = &w[pos + 5..];
            let Some(end) = rest
                .iter()
                .position(|&b| b == b'\n')
                .or(eof.then_some(rest.len()))
            else {
                return false;
            };
            let value = String::from_utf8_lossy(&rest[..end]);
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
    fn names() {
        assert_eq!(classify_name(".env"), NameClass::EnvFile);
        assert_eq!(classify_name(".env.production"), NameClass::EnvFile);
        assert_eq!(classify_name(".env.example"), NameClass::Ordinary);
        assert_eq!(classify_name("site.key"), NameClass::PrivateKey);
        assert_eq!(classify_name("site.crt"), NameClass::Ordinary);
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
        assert_eq!(sniff("s.yaml", b"  kind: Secret\n", 3), None);
        assert_eq!(sniff("s.txt", doc, 3), None);
    }
}
