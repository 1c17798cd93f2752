//! The first read of each candidate file: open beneath the root with `O_NOFOLLOW`, `fstat` the
//! fd, stream it once for size, SHA-256 and secret sniffing, and keep env-file bytes (real and
//! sample) for the sanitizer. The archive stage later re-reads and re-hashes against these facts.
//!
//! Files are independent, so [`read_all`] reads them on one thread per core (at most
//! [`MAX_READ_THREADS`]), each with one reused buffer; results keep the candidates' order.

use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use sha2::{Digest as _, Sha256};

use super::CollectedRoot;
use super::walk::{Candidate, CandidateKind, Meta};
use crate::beneath::open_file_beneath;
use crate::manifest::Sha256Digest;
use crate::write::cancel::CancelCheck;
use crate::write::classify::{ContentSniffer, NameClass, SecretContent, classify_path};
use crate::write::sanitize::config::{ConfigFormat, Suspect, redact_config};
use crate::write::sanitize::is_env_with_secrets;

/// Most threads reading files at once.
pub(super) const MAX_READ_THREADS: usize = 4;

/// Largest `.env` the sanitizer takes; a bigger one stays only in the secrets bundle.
pub(crate) const MAX_ENV_BYTES: u64 = 1 << 20;

/// Read buffer size for hashing passes.
pub(crate) const READ_BUF: usize = 256 * 1024;

/// What reading a file established.
pub(super) struct FileFacts {
    pub(super) meta: Meta,
    pub(super) size: u64,
    pub(super) sha256: Sha256Digest,
    pub(super) secret: Option<SecretContent>,
    /// The content, kept only when asked for and small enough.
    pub(super) content: Option<Vec<u8>>,
    /// For a configuration file the secret scanner reads (Python, YAML): what its main-archive
    /// copy is, when it redacted or reported anything. The content itself is not kept.
    pub(super) redaction: Option<RedactionFacts>,
    /// The content is an env file with secrets, whatever the name (`content` holds it).
    pub(super) env_by_content: bool,
}

/// The redacted copy of a configuration file, by size and digest (the archive stage makes it
/// again and checks it against these).
pub(super) struct RedactionFacts {
    pub(super) format: ConfigFormat,
    pub(super) redacted: usize,
    pub(super) size: u64,
    pub(super) sha256: Sha256Digest,
    pub(super) suspects: Vec<Suspect>,
}

/// What reading one candidate gave: `None` for symlinks (and for files left unread because
/// the run was cancelled).
pub(super) type ReadResult = Option<io::Result<FileFacts>>;

/// Reads every file candidate, in parallel; result `i` belongs to `candidates[i]`. The results
/// are taken out of their slots as the caller iterates (no second vector of them).
pub(super) fn read_all(
    roots: &[CollectedRoot],
    candidates: &[Candidate],
    cancel: Option<&CancelCheck>,
) -> impl Iterator<Item = ReadResult> + use<> {
    let slots: Vec<Mutex<ReadResult>> = candidates.iter().map(|_| Mutex::new(None)).collect();
    // One check between the walk and the first read, before any thread starts.
    if !cancel.is_some_and(|check| check()) {
        read_into(roots, candidates, cancel, &slots);
    }
    slots
        .into_iter()
        .map(|slot| slot.into_inner().unwrap_or_else(PoisonError::into_inner))
}

/// Fills `slots` on one thread per core.
fn read_into(
    roots: &[CollectedRoot],
    candidates: &[Candidate],
    cancel: Option<&CancelCheck>,
    slots: &[Mutex<ReadResult>],
) {
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, MAX_READ_THREADS)
        .min(candidates.len().max(1));
    let worker = || {
        let mut buf = vec![0u8; READ_BUF];
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let (Some(c), Some(slot)) = (candidates.get(i), slots.get(i)) else {
                break;
            };
            if cancel.is_some_and(|check| check()) {
                break;
            }
            if !matches!(c.kind, CandidateKind::File) {
                continue;
            }
            let keep = if matches!(
                classify_path(c.path.as_str()),
                NameClass::EnvFile | NameClass::EnvSample
            ) {
                Keep::Content
            } else if let Some(format) = ConfigFormat::of(c.path.file_name()) {
                Keep::Redaction(format)
            } else if may_be_env_file(c.path.file_name()) {
                Keep::EnvProbe
            } else {
                Keep::Nothing
            };
            let result = match roots.get(c.root) {
                Some(root) => read_file(
                    &root.fd,
                    Path::new(c.rel()),
                    c.path.file_name(),
                    keep,
                    &mut buf,
                ),
                None => Err(io::Error::from(io::ErrorKind::NotFound)),
            };
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(worker);
        }
        worker();
    });
}

/// What a read keeps besides size, digest and the sniffer's verdict.
#[derive(Clone, Copy)]
pub(super) enum Keep {
    Nothing,
    /// The bytes (for `.env` files, which the sanitizer reads later).
    Content,
    /// The facts of the redacted copy in this format.
    Redaction(ConfigFormat),
    /// The bytes only if the content is an env file with secrets ([`is_env_with_secrets`]).
    EnvProbe,
}

/// Extensions (and no extension) of files that could be env files under another name.
const ENV_LIKE_EXTENSIONS: &[&str] = &["conf", "cfg", "vars", "txt", "list", "properties", "ini"];

fn may_be_env_file(file_name: &str) -> bool {
    match std::path::Path::new(file_name.trim_start_matches('.')).extension() {
        None => true,
        Some(ext) => ext
            .to_str()
            .is_some_and(|e| ENV_LIKE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())),
    }
}

/// Reads `rel` below `root` through `buf`, keeping what `keep` asks for.
pub(super) fn read_file(
    root: &OwnedFd,
    rel: &Path,
    file_name: &str,
    keep: Keep,
    buf: &mut [u8],
) -> io::Result<FileFacts> {
    let keep_content = !matches!(keep, Keep::Nothing);
    let (fd, stat) = open_file_beneath(root, rel)?;
    let mut file = std::fs::File::from(fd);
    let mut hasher = Sha256::new();
    let mut sniffer = ContentSniffer::new(file_name);
    let mut content = keep_content.then(Vec::new);
    let mut size = 0u64;
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        hasher.update(chunk);
        sniffer.update(chunk);
        size += n as u64;
        if let Some(c) = content.as_mut() {
            if size <= MAX_ENV_BYTES {
                c.extend_from_slice(chunk);
            } else {
                content = None;
            }
        }
    }
    let secret = sniffer.finish();
    let mut redaction = None;
    if let Keep::Redaction(format) = keep {
        // Not kept: only the redacted copy's facts are. A file too big or not UTF-8 is
        // scanned by nothing and goes as it is.
        if secret.is_none()
            && let Some(text) = content.as_deref().and_then(|b| std::str::from_utf8(b).ok())
        {
            let r = redact_config(text, format);
            if r.redacted > 0 || !r.suspects.is_empty() {
                redaction = Some(RedactionFacts {
                    format,
                    redacted: r.redacted,
                    size: r.content.len() as u64,
                    sha256: Sha256Digest::of(r.content.as_bytes()),
                    suspects: r.suspects,
                });
            }
        }
        content = None;
    }
    let mut env_by_content = false;
    if matches!(keep, Keep::EnvProbe) {
        env_by_content = content
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
            .is_some_and(is_env_with_secrets);
        if !env_by_content {
            content = None;
        }
    }
    Ok(FileFacts {
        meta: Meta::of(&stat),
        size,
        sha256: Sha256Digest::from_bytes(hasher.finalize().into()),
        secret,
        content,
        redaction,
        env_by_content,
    })
}
