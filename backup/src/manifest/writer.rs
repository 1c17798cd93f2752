//! Writing `MANIFEST.json` as the first tar member from any serializable view of a manifest
//! (the archive stage hands it a collection's): the tar header needs the length first, so the
//! JSON is serialized twice, once into a counter and once into the tar, and its SHA-256 is
//! taken on the way.

use std::io::{self, Write};

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::{MANIFEST_NAME, Sha256Digest};

/// Appends `MANIFEST.json`, the pretty JSON of `manifest` and a newline, to `tar` with
/// `header`'s metadata; returns its digest.
pub(crate) fn append_manifest<W: Write, M: Serialize>(
    manifest: &M,
    tar: &mut tar::Builder<W>,
    mut header: tar::Header,
) -> io::Result<Sha256Digest> {
    let mut counted = Counter::new(io::sink(), false);
    write_json(manifest, &mut counted)?;
    let size = counted.bytes;
    header.set_path(MANIFEST_NAME)?;
    header.set_size(size);
    header.set_cksum();
    let out = tar.get_mut();
    out.write_all(header.as_bytes())?;
    let mut counted = Counter::new(out, true);
    // The serializer writes token by token: batch them before hashing and compressing.
    write_json(
        manifest,
        io::BufWriter::with_capacity(WRITE_BUF, &mut counted),
    )?;
    if counted.bytes != size {
        return Err(io::Error::other(
            "manifest serialized to two different lengths",
        ));
    }
    let padding = (512 - size % 512) % 512;
    let zeros = [0u8; 512];
    counted
        .inner
        .write_all(&zeros[..usize::try_from(padding).unwrap_or(0)])?;
    let hasher = counted.hasher.unwrap_or_default();
    Ok(Sha256Digest::from_bytes(hasher.finalize().into()))
}

/// Serializes the pretty JSON (and its trailing newline) into `out`.
fn write_json<M: Serialize, W: Write>(manifest: &M, mut out: W) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, manifest)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Batching buffer between the JSON serializer and the tar stream.
const WRITE_BUF: usize = 64 * 1024;

/// Counts (and, when asked, hashes) what passes through.
struct Counter<W> {
    inner: W,
    bytes: u64,
    hasher: Option<Sha256>,
}

impl<W> Counter<W> {
    fn new(inner: W, hash: bool) -> Self {
        Self {
            inner,
            bytes: 0,
            hasher: hash.then(Sha256::new),
        }
    }
}

impl<W: Write> Write for Counter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n]);
        }
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
