//! `DecryptReader`: a `Read` adapter that authenticates the header, then yields plaintext chunk
//! by chunk, finding the final chunk with a one-byte look-ahead.

use std::fmt;
use std::io::{self, Read};

use zeroize::Zeroizing;

use crate::chunk::{self, MAX_CHUNKS, TAG_LEN};
use crate::derive::PayloadStream;
use crate::error::CryptoError;
use crate::header::Header;
use crate::key::Keyring;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// More chunks to read.
    Streaming,
    /// The final chunk authenticated and the input ended right after it.
    Complete,
    /// An error was returned; every further read fails.
    Failed,
}

/// Decrypts an artifact read from `inner` (spec §5).
///
/// Construction reads the header and authenticates it with a key from the keyring (looked up by
/// key id). Reads then return plaintext one authenticated chunk at a time; memory is one chunk
/// plus tag plus one byte of look-ahead, reused. Payload damage surfaces as an `io::Error` whose
/// inner error is a [`CryptoError`] ([`CryptoError::from_io`]). Plaintext returned before `read`
/// reports end-of-file (`Ok(0)`) is provisional: the stream is only known to be complete and
/// unmodified at that point ([`DecryptReader::is_complete`]). After any error, reads keep failing.
///
/// This is CPU work: run it on a blocking thread.
pub struct DecryptReader<R: Read> {
    inner: R,
    header: Header,
    stream: PayloadStream,
    buf: Zeroizing<Vec<u8>>,
    chunk: usize,
    plain_start: usize,
    plain_end: usize,
    lookahead: Option<u8>,
    index: u64,
    chunk_limit: u64,
    plaintext_bytes: u64,
    state: State,
}

impl<R: Read> DecryptReader<R> {
    /// Reads and opens the header (spec §5.1 steps 1–6).
    pub fn new(mut inner: R, keyring: &Keyring) -> Result<Self, CryptoError> {
        let header = Header::read_from(&mut inner)?;
        Self::from_header(inner, header, keyring)
    }

    /// Opens a header already read with [`Header::read_from`]; `inner` must be positioned right
    /// after it.
    pub fn from_header(inner: R, header: Header, keyring: &Keyring) -> Result<Self, CryptoError> {
        let (_, keys) = header.open(keyring)?;
        let chunk = header.chunk_size().bytes();
        Ok(Self {
            inner,
            header,
            stream: keys.payload,
            buf: Zeroizing::new(vec![0u8; chunk + TAG_LEN + 1]),
            chunk,
            plain_start: 0,
            plain_end: 0,
            lookahead: None,
            index: 0,
            chunk_limit: MAX_CHUNKS,
            plaintext_bytes: 0,
            state: State::Streaming,
        })
    }

    /// Lowers the chunk limit so the "too many chunks" path can be tested.
    #[cfg(test)]
    pub(crate) fn set_chunk_limit(&mut self, limit: u64) {
        self.chunk_limit = limit;
    }

    /// The authenticated header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// True once the final chunk authenticated and the input ended right after it.
    pub fn is_complete(&self) -> bool {
        self.state == State::Complete
    }

    /// Chunks authenticated so far.
    pub fn chunks_read(&self) -> u64 {
        self.index
    }

    /// Plaintext bytes authenticated so far.
    pub fn plaintext_bytes(&self) -> u64 {
        self.plaintext_bytes
    }

    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Reads, authenticates and decrypts the next chunk into `buf[plain_start..plain_end]`.
    fn next_chunk(&mut self) -> Result<(), CryptoError> {
        let want = self.chunk + TAG_LEN + 1;
        let mut filled = 0;
        if let Some(byte) = self.lookahead.take() {
            self.buf[0] = byte;
            filled = 1;
        }
        filled = fill(&mut self.inner, &mut self.buf[..want], filled)?;
        let index = self.index;
        let plain_len = if filled == want {
            if index + 1 >= self.chunk_limit {
                return Err(CryptoError::TooManyChunks);
            }
            let plain_len = self.open_middle(index, want - 1)?;
            self.lookahead = Some(self.buf[want - 1]);
            plain_len
        } else {
            let plain_len = self.open_final(index, filled)?;
            self.state = State::Complete;
            plain_len
        };
        self.index += 1;
        self.plain_start = 0;
        self.plain_end = plain_len;
        self.plaintext_bytes += plain_len as u64;
        Ok(())
    }

    /// A full chunk followed by more input: must open as non-final.
    fn open_middle(&mut self, index: u64, len: usize) -> Result<usize, CryptoError> {
        if let Some(plain_len) = chunk::open(&self.stream, index, false, &mut self.buf[..len])? {
            return Ok(plain_len);
        }
        // Error path only: a genuine final chunk followed by extra bytes?
        if chunk::open(&self.stream, index, true, &mut self.buf[..len])?.is_some() {
            return Err(CryptoError::TrailingData { index });
        }
        Err(CryptoError::ChunkAuthentication { index })
    }

    /// The input ended after `len` bytes of chunk `index`: it must open as the final chunk.
    fn open_final(&mut self, index: u64, len: usize) -> Result<usize, CryptoError> {
        if len < TAG_LEN {
            return Err(CryptoError::Truncated { chunks: index });
        }
        if len == TAG_LEN && index > 0 {
            return Err(CryptoError::EmptyFinalChunk { index });
        }
        if let Some(plain_len) = chunk::open(&self.stream, index, true, &mut self.buf[..len])? {
            return Ok(plain_len);
        }
        // Error path only: a full non-final chunk with nothing after it means a cut at a boundary.
        if len == self.chunk + TAG_LEN
            && chunk::open(&self.stream, index, false, &mut self.buf[..len])?.is_some()
        {
            return Err(CryptoError::Truncated { chunks: index + 1 });
        }
        Err(CryptoError::ChunkAuthentication { index })
    }
}

impl<R: Read> fmt::Debug for DecryptReader<R> {
    /// Progress only: no key material, no buffered plaintext.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptReader")
            .field("archive_id", &self.header.archive_id())
            .field("chunks_read", &self.index)
            .field("plaintext_bytes", &self.plaintext_bytes)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<R: Read> Read for DecryptReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.plain_start < self.plain_end {
                let n = out.len().min(self.plain_end - self.plain_start);
                out[..n].copy_from_slice(&self.buf[self.plain_start..self.plain_start + n]);
                self.plain_start += n;
                return Ok(n);
            }
            match self.state {
                State::Complete => return Ok(0),
                State::Failed => return Err(CryptoError::Poisoned.into_io()),
                State::Streaming => {
                    if let Err(err) = self.next_chunk() {
                        self.state = State::Failed;
                        return Err(err.into_io());
                    }
                }
            }
        }
    }
}

/// Reads into `buf[filled..]` until it is full or the input ends; returns the new fill level.
fn fill<R: Read>(reader: &mut R, buf: &mut [u8], mut filled: usize) -> Result<usize, CryptoError> {
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            // `min` guards against a reader that claims more than it was given.
            Ok(n) => filled = (filled + n).min(buf.len()),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(CryptoError::Io { source: err }),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::encrypt::{EncryptOptions, EncryptWriter};
    use crate::key::Key;
    use crate::params::ChunkSize;

    fn artifact(key: &Key, chunks: usize) -> Vec<u8> {
        let options = EncryptOptions::new(uuid::Uuid::nil())
            .with_chunk_size(ChunkSize::from_log2(12).expect("valid"));
        let mut writer = EncryptWriter::new(Vec::new(), &[key], &options).expect("writer");
        writer
            .write_all(&vec![7u8; (chunks - 1) * 4096 + 1])
            .expect("write");
        writer.finish().expect("finish").0
    }

    #[test]
    fn reader_enforces_the_chunk_limit() {
        let key = Key::from_bytes([5; 32]);
        let bytes = artifact(&key, 3);
        let keyring = Keyring::from(Key::from_bytes([5; 32]));

        let mut reader = DecryptReader::new(bytes.as_slice(), &keyring).expect("header");
        reader.set_chunk_limit(3);
        assert_eq!(
            reader.read_to_end(&mut Vec::new()).expect("3 chunks fit"),
            8193
        );

        let mut reader = DecryptReader::new(bytes.as_slice(), &keyring).expect("header");
        reader.set_chunk_limit(2);
        let err = reader.read_to_end(&mut Vec::new()).expect_err("limit");
        assert!(matches!(
            CryptoError::from_io(&err),
            Some(CryptoError::TooManyChunks)
        ));
    }
}
