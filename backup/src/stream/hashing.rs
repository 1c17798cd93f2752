//! SHA-256 while streaming: [`HashingWriter`] (the pipeline's stored-bytes and plaintext
//! digests) and [`HashingReader`] (verification and restore downloads). Both count bytes too.

use std::io::{self, Read, Write};

use celeriac_store::Sha256Digest;
use sha2::{Digest as _, Sha256};

/// A `Write` adapter that hashes and counts everything written through it to `inner`.
#[derive(Debug)]
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Returns the inner writer, the digest of everything written and the byte count.
    /// Does not flush: the stage below has its own `finish`.
    pub(crate) fn finish(self) -> (W, Sha256Digest, u64) {
        let digest = Sha256Digest::from_bytes(self.hasher.finalize().into());
        (self.inner, digest, self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A `Read` adapter that hashes and counts everything read through it from `inner`.
#[derive(Debug)]
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Reads `inner` to its end (so the digest covers everything), then returns the digest and
    /// the byte count.
    ///
    /// # Errors
    /// A read error of `inner`.
    pub(crate) fn finish(mut self) -> io::Result<(Sha256Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            Sha256Digest::from_bytes(self.hasher.finalize().into()),
            self.bytes,
        ))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Streaming in arbitrary pieces gives the one-shot digest.
        #[test]
        fn streaming_digest_equals_one_shot(
            data in proptest::collection::vec(any::<u8>(), 0..20_000),
            cuts in proptest::collection::vec(0usize..20_000, 0..8),
        ) {
            let mut w = HashingWriter::new(Vec::new());
            let mut cuts = cuts.into_iter().map(|c| c % (data.len() + 1)).collect::<Vec<_>>();
            cuts.push(0);
            cuts.push(data.len());
            cuts.sort_unstable();
            for pair in cuts.windows(2) {
                w.write_all(&data[pair[0]..pair[1]]).unwrap();
            }
            let (out, digest, n) = w.finish();
            prop_assert_eq!(&out, &data);
            prop_assert_eq!(digest, Sha256Digest::of(&data));
            prop_assert_eq!(n, data.len() as u64);

            let mut r = HashingReader::new(data.as_slice());
            let mut first = vec![0u8; data.len() / 2];
            r.read_exact(&mut first).unwrap();
            let (digest, n) = r.finish().unwrap();
            prop_assert_eq!(digest, Sha256Digest::of(&data));
            prop_assert_eq!(n, data.len() as u64);
        }
    }
}
