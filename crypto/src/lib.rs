//! Streamed, authenticated encryption of backup artifacts (format spec:
//! `docs/artifact-format.md`).
//!
//! An artifact is a header followed by a payload. The header names the recipients — each a
//! 32-byte key-encryption key ([`Key`]) identified by a public [`KeyId`] — and carries a fresh
//! per-artifact data key wrapped under each of them, authenticated by an HMAC. The payload is
//! the plaintext cut into fixed-size chunks, each sealed with AES-256-GCM in the STREAM
//! construction: the chunk counter and a last-chunk flag sit in the nonce, so truncation,
//! reordering, duplication and trailing data are all detected.
//!
//! ```text
//!             EncryptWriter<W: Write>                         DecryptReader<R: Read>
//!  plaintext ─► [ header | chunk_0 | chunk_1 | … | final ] ─► header: parse → pick stanza by
//!  (write)       │                                             key id → unwrap → verify MAC
//!                └ new(): header now; write(): full chunks     chunks: one-byte look-ahead →
//!                  once the next byte arrives; finish():       open with last=0/1 → plaintext
//!                  final chunk (dropping = no final chunk       (EOF right after the final
//!                  = rejected by readers)                        chunk = complete)
//! ```
//!
//! Main types:
//! - [`Key`] (secret, zeroized, redacted `Debug`), [`KeyId`], [`Keyring`] (several keys for
//!   reading, e.g. after a rotation);
//! - [`EncryptWriter`] with [`EncryptOptions`] → [`EncryptSummary`];
//! - [`DecryptReader`]; [`Header`] (parse without a key: [`Header::read_from`]; re-wrap for a new
//!   set of recipients: [`Header::rewrap`]);
//! - [`CryptoError`]; inside `io::Error`s use [`CryptoError::from_io`].
//!
//! Everything here is synchronous CPU work; async callers run it on a blocking thread.
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use celeriac_crypto::{DecryptReader, EncryptOptions, EncryptWriter, Flags, Key, Keyring};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = Key::generate()?;
//! let options = EncryptOptions::new(uuid::Uuid::now_v7()).with_flags(Flags::TAR_GZIP);
//! let mut writer = EncryptWriter::new(Vec::new(), &[&key], &options)?;
//! writer.write_all(b"configuration")?;
//! let (artifact, summary) = writer.finish()?;
//! assert_eq!(summary.total_bytes(), artifact.len() as u64);
//!
//! let keyring = Keyring::from(key);
//! let mut reader = DecryptReader::new(artifact.as_slice(), &keyring)?;
//! let mut plaintext = Vec::new();
//! reader.read_to_end(&mut plaintext)?;
//! assert_eq!(plaintext, b"configuration");
//! assert!(reader.is_complete());
//!
//! // Cut off the last byte: the reader refuses.
//! let mut reader = DecryptReader::new(&artifact[..artifact.len() - 1], &keyring)?;
//! let err = reader.read_to_end(&mut Vec::new()).unwrap_err();
//! assert!(celeriac_crypto::CryptoError::from_io(&err).is_some());
//! # Ok(())
//! # }
//! ```

mod chunk;
mod decrypt;
mod derive;
mod encrypt;
mod error;
mod header;
mod key;
mod params;
mod random;

pub use decrypt::DecryptReader;
pub use encrypt::{EncryptOptions, EncryptSummary, EncryptWriter};
pub use error::{CryptoError, KeyOrigin};
pub use header::{
    FORMAT_VERSION, Header, MAGIC, MAX_HEADER_LEN, MAX_STANZAS, MIN_HEADER_LEN, Stanza, StanzaKind,
};
pub use key::{KEY_ID_LEN, KEY_LEN, Key, KeyId, KeyIdParseError, Keyring};
pub use params::{ChunkSize, Flags, Suite};
