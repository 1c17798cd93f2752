//! `EncryptWriter`: a `Write` adapter that emits the header, then the payload chunk by chunk.

use std::fmt;
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use uuid::Uuid;
use zeroize::Zeroizing;

use crate::chunk::{self, MAX_CHUNKS, TAG_LEN};
use crate::derive::{DataKey, PayloadStream};
use crate::error::CryptoError;
use crate::header::{Header, HeaderParams, MAX_STANZAS};
use crate::key::{Key, KeyId};
use crate::params::{ChunkSize, Flags};
use crate::random::fill_random;

/// What a new artifact's header says besides its recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncryptOptions {
    /// Binds the artifact to its catalog row (celeriac uses the backup's UUIDv7).
    pub archive_id: Uuid,
    /// Creation time, seconds since the Unix epoch.
    pub created_unix: u64,
    /// Plaintext bytes per chunk.
    pub chunk_size: ChunkSize,
    /// Header flags (e.g. [`Flags::TAR_GZIP`]).
    pub flags: Flags,
}

impl EncryptOptions {
    /// Options for `archive_id`, created now, 64 KiB chunks, no flags.
    pub fn new(archive_id: Uuid) -> Self {
        let created_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        Self {
            archive_id,
            created_unix,
            chunk_size: ChunkSize::DEFAULT,
            flags: Flags::EMPTY,
        }
    }

    /// Sets the creation time.
    #[must_use]
    pub fn with_created_unix(mut self, created_unix: u64) -> Self {
        self.created_unix = created_unix;
        self
    }

    /// Sets the chunk size.
    #[must_use]
    pub fn with_chunk_size(mut self, chunk_size: ChunkSize) -> Self {
        self.chunk_size = chunk_size;
        self
    }

    /// Sets the flags.
    #[must_use]
    pub fn with_flags(mut self, flags: Flags) -> Self {
        self.flags = flags;
        self
    }
}

/// What [`EncryptWriter::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncryptSummary {
    /// The archive id in the header.
    pub archive_id: Uuid,
    /// Header length in bytes.
    pub header_bytes: u64,
    /// Number of payload chunks, the final one included.
    pub chunks: u64,
    /// Plaintext bytes consumed.
    pub plaintext_bytes: u64,
    /// Payload bytes written (chunks with their tags; the header not included).
    pub ciphertext_bytes: u64,
    /// Ids of the recipient keys, in header order.
    pub key_ids: Vec<KeyId>,
}

impl EncryptSummary {
    /// Total bytes written: header plus payload (the artifact's size).
    pub fn total_bytes(&self) -> u64 {
        self.header_bytes + self.ciphertext_bytes
    }
}

/// Encrypts everything written to it into an artifact on `inner` (spec §6).
///
/// The header is written by [`EncryptWriter::new`]. Plaintext is buffered one chunk at a time
/// (memory is one chunk plus its tag, reused) and a full chunk is only sealed once the next byte
/// arrives, so [`EncryptWriter::finish`] always has something to seal as the final chunk.
/// Dropping the writer without `finish` leaves a payload without a final chunk, which readers
/// reject. `flush` flushes `inner` but cannot emit a partial chunk. After any error the writer is
/// poisoned and every further call fails.
///
/// This is CPU work: run it on a blocking thread.
pub struct EncryptWriter<W: Write> {
    inner: W,
    stream: PayloadStream,
    buf: Zeroizing<Vec<u8>>,
    filled: usize,
    chunk: usize,
    chunks: u64,
    chunk_limit: u64,
    plaintext_bytes: u64,
    ciphertext_bytes: u64,
    header_bytes: u64,
    archive_id: Uuid,
    key_ids: Vec<KeyId>,
    poisoned: bool,
}

impl<W: Write> EncryptWriter<W> {
    /// Draws a fresh data key, salt and wrap nonces, writes the header for `recipients` (1 ..= 8
    /// distinct keys) to `inner`, and returns the writer for the payload.
    pub fn new(
        inner: W,
        recipients: &[&Key],
        options: &EncryptOptions,
    ) -> Result<Self, CryptoError> {
        let nonces = recipient_nonces(recipients)?;
        let pairs: Vec<(&Key, [u8; 12])> = recipients.iter().copied().zip(nonces).collect();
        let mut payload_salt = [0u8; 32];
        fill_random(&mut payload_salt)?;
        Self::start(inner, &pairs, options, &DataKey::generate()?, payload_salt)
    }

    /// `new` with the random values supplied (test vectors).
    #[cfg(test)]
    pub(crate) fn with_secrets(
        inner: W,
        recipients: &[(&Key, [u8; 12])],
        options: &EncryptOptions,
        data_key: &DataKey,
        payload_salt: [u8; 32],
    ) -> Result<Self, CryptoError> {
        Self::start(inner, recipients, options, data_key, payload_salt)
    }

    fn start(
        mut inner: W,
        recipients: &[(&Key, [u8; 12])],
        options: &EncryptOptions,
        data_key: &DataKey,
        payload_salt: [u8; 32],
    ) -> Result<Self, CryptoError> {
        let params = HeaderParams {
            chunk_size: options.chunk_size,
            flags: options.flags,
            archive_id: options.archive_id,
            created_unix: options.created_unix,
            payload_salt,
        };
        let (header, keys) = Header::seal(&params, data_key, recipients);
        inner.write_all(header.as_bytes())?;
        let chunk = options.chunk_size.bytes();
        Ok(Self {
            inner,
            stream: keys.payload,
            buf: Zeroizing::new(vec![0u8; chunk + TAG_LEN]),
            filled: 0,
            chunk,
            chunks: 0,
            chunk_limit: MAX_CHUNKS,
            plaintext_bytes: 0,
            ciphertext_bytes: 0,
            header_bytes: header.len() as u64,
            archive_id: options.archive_id,
            key_ids: header.key_ids().collect(),
            poisoned: false,
        })
    }

    /// Lowers the chunk limit so the "too many chunks" path can be tested.
    #[cfg(test)]
    pub(crate) fn set_chunk_limit(&mut self, limit: u64) {
        self.chunk_limit = limit;
    }

    /// Seals what is buffered as the final chunk, writes and flushes it, and returns the inner
    /// writer with a summary. Only after this returns `Ok` is the artifact complete.
    pub fn finish(mut self) -> Result<(W, EncryptSummary), CryptoError> {
        if self.poisoned {
            return Err(CryptoError::Poisoned);
        }
        self.seal_buffered(true)?;
        self.inner.flush()?;
        let summary = EncryptSummary {
            archive_id: self.archive_id,
            header_bytes: self.header_bytes,
            chunks: self.chunks,
            plaintext_bytes: self.plaintext_bytes,
            ciphertext_bytes: self.ciphertext_bytes,
            key_ids: self.key_ids,
        };
        Ok((self.inner, summary))
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Seals the buffered plaintext as the next chunk and writes it.
    fn seal_buffered(&mut self, last: bool) -> Result<(), CryptoError> {
        let limit = if last {
            self.chunk_limit
        } else {
            self.chunk_limit - 1
        };
        if self.chunks >= limit {
            return Err(CryptoError::TooManyChunks);
        }
        let len = chunk::seal(&self.stream, self.chunks, last, &mut self.buf, self.filled)?;
        self.inner.write_all(&self.buf[..len])?;
        self.chunks += 1;
        self.ciphertext_bytes += len as u64;
        self.filled = 0;
        Ok(())
    }
}

impl<W: Write> fmt::Debug for EncryptWriter<W> {
    /// Progress only: no key material, no buffered plaintext.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptWriter")
            .field("archive_id", &self.archive_id)
            .field("key_ids", &self.key_ids)
            .field("chunks", &self.chunks)
            .field("plaintext_bytes", &self.plaintext_bytes)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl<W: Write> Write for EncryptWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.poisoned {
            return Err(CryptoError::Poisoned.into_io());
        }
        if data.is_empty() {
            return Ok(0);
        }
        if self.filled == self.chunk {
            // More plaintext follows, so the buffered full chunk is not the final one.
            if let Err(err) = self.seal_buffered(false) {
                self.poisoned = true;
                return Err(err.into_io());
            }
        }
        let n = data.len().min(self.chunk - self.filled);
        self.buf[self.filled..self.filled + n].copy_from_slice(&data[..n]);
        self.filled += n;
        self.plaintext_bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Checks the recipient list (1 ..= 8, distinct) and draws one wrap nonce per recipient.
pub(crate) fn recipient_nonces(recipients: &[&Key]) -> Result<Vec<[u8; 12]>, CryptoError> {
    match recipients.len() {
        0 => return Err(CryptoError::NoRecipients),
        count if count > MAX_STANZAS => return Err(CryptoError::TooManyRecipients { count }),
        _ => {}
    }
    for (i, key) in recipients.iter().enumerate() {
        if recipients[..i].iter().any(|other| other.id() == key.id()) {
            return Err(CryptoError::DuplicateRecipient { key_id: key.id() });
        }
    }
    let mut nonces = vec![[0u8; 12]; recipients.len()];
    for nonce in &mut nonces {
        fill_random(nonce)?;
    }
    Ok(nonces)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::PathBuf;

    use super::*;
    use crate::key::Key;

    type Recipients<'a> = Vec<(&'a Key, [u8; 12])>;

    fn vector_path(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors")
            .join(name)
    }

    fn vector_options() -> EncryptOptions {
        EncryptOptions::new(Uuid::parse_str("0191e0a2-7c3a-7cde-8f00-0123456789ab").expect("uuid"))
            .with_created_unix(1_767_225_600)
            .with_chunk_size(ChunkSize::from_log2(12).expect("valid"))
            .with_flags(Flags::TAR_GZIP)
    }

    fn seq(start: u8) -> [u8; 32] {
        std::array::from_fn(|i| start + u8::try_from(i).expect("i < 32"))
    }

    fn nonce(start: u8) -> [u8; 12] {
        std::array::from_fn(|i| start + u8::try_from(i).expect("i < 12"))
    }

    /// The Rust writer, fed the fixed "random" values of spec §10, reproduces the vectors the
    /// independent Python generator wrote.
    #[test]
    fn writer_reproduces_spec_vectors_byte_for_byte() {
        let kek_a = Key::from_bytes(seq(0x00));
        let kek_b = Key::from_bytes(seq(0x20));
        let cases: [(&str, Recipients<'_>); 3] = [
            ("small", vec![(&kek_a, nonce(0xC0))]),
            ("multi", vec![(&kek_a, nonce(0xC0)), (&kek_b, nonce(0xD0))]),
            ("empty", vec![(&kek_a, nonce(0xC0))]),
        ];
        for (name, recipients) in cases {
            let plaintext = fs::read(vector_path(&format!("{name}.plain"))).expect("plain");
            let expected = fs::read(vector_path(&format!("{name}.cbk"))).expect("vector");
            let data_key = DataKey::from_bytes(seq(0x40));
            let mut writer = EncryptWriter::with_secrets(
                Vec::new(),
                &recipients,
                &vector_options(),
                &data_key,
                seq(0x80),
            )
            .expect("writer");
            writer.write_all(&plaintext).expect("write");
            let (artifact, summary) = writer.finish().expect("finish");
            assert_eq!(artifact, expected, "{name}");
            assert_eq!(summary.total_bytes(), expected.len() as u64);
            assert_eq!(summary.plaintext_bytes, plaintext.len() as u64);
        }
    }

    #[test]
    fn writer_refuses_to_exceed_the_chunk_limit() {
        let key = Key::from_bytes(seq(1));
        let options = vector_options();
        let chunk = options.chunk_size.bytes();
        // Limit 2: two chunks fit (the second one final), a third does not.
        let mut writer = EncryptWriter::new(Vec::new(), &[&key], &options).expect("writer");
        writer.set_chunk_limit(2);
        writer
            .write_all(&vec![0u8; chunk + 1])
            .expect("two chunks fit");
        writer.finish().expect("final chunk at index 1 is allowed");

        let mut writer = EncryptWriter::new(Vec::new(), &[&key], &options).expect("writer");
        writer.set_chunk_limit(2);
        let err = writer
            .write_all(&vec![0u8; 2 * chunk + 1])
            .expect_err("a third chunk exceeds the limit");
        assert!(matches!(
            CryptoError::from_io(&err),
            Some(CryptoError::TooManyChunks)
        ));
        let err = writer.write(b"x").expect_err("poisoned");
        assert!(matches!(
            CryptoError::from_io(&err),
            Some(CryptoError::Poisoned)
        ));
        assert!(matches!(writer.finish(), Err(CryptoError::Poisoned)));
    }
}
