//! The first read of each candidate file: open beneath the root with `O_NOFOLLOW`, `fstat` the
//! fd, stream it once for size, SHA-256 and secret sniffing, and keep `.env` bytes for the
//! sanitizer. The archive stage later re-reads and re-hashes against these facts.

use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::beneath::open_file_beneath;
use super::walk::Meta;
use crate::classify::{ContentSniffer, SecretContent};
use crate::manifest::Sha256Digest;

/// Largest `.env` the sanitizer takes; a bigger one stays only in the secrets bundle.
pub(super) const MAX_ENV_BYTES: u64 = 1 << 20;

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
}

/// Reads `rel` below `root`; `keep_content` keeps the bytes (for `.env` files).
pub(super) fn read_file(
    root: &OwnedFd,
    rel: &Path,
    file_name: &str,
    keep_content: bool,
) -> io::Result<FileFacts> {
    let (fd, stat) = open_file_beneath(root, rel)?;
    let mut file = std::fs::File::from(fd);
    let mut hasher = Sha256::new();
    let mut sniffer = ContentSniffer::new(file_name);
    let mut content = keep_content.then(Vec::new);
    let mut size = 0u64;
    let mut buf = vec![0u8; READ_BUF];
    loop {
        let n = match file.read(&mut buf) {
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
    Ok(FileFacts {
        meta: Meta::of(&stat),
        size,
        sha256: Sha256Digest::from_bytes(hasher.finalize().into()),
        secret: sniffer.finish(),
        content,
    })
}
