//! `CryptoError`: every way loading a key, writing or reading an artifact can fail.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::key::KeyId;

/// Where a key was being loaded from (for error messages; never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyOrigin {
    /// A key file.
    File(PathBuf),
    /// An environment variable, by name.
    Env(String),
    /// A string handed over by the caller.
    Text,
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "key file {}", path.display()),
            Self::Env(var) => write!(f, "environment variable {var}"),
            Self::Text => f.write_str("key text"),
        }
    }
}

/// Errors of this crate.
///
/// Messages carry positions, lengths, key ids and paths, never key bytes or plaintext. Inside
/// [`std::io::Read`] / [`std::io::Write`] implementations the error travels inside an
/// [`io::Error`]; get it back with [`CryptoError::from_io`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    // ----- keys -----
    /// A key file could not be read.
    #[error("cannot read key file {path}")]
    KeyRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The environment variable that should hold a key is not set.
    #[error("environment variable {var} is not set")]
    KeyEnvMissing {
        /// Its name.
        var: String,
    },
    /// The key text is not standard base64 (the offending text is deliberately not quoted).
    #[error("{origin} does not hold a base64-encoded key")]
    KeyNotBase64 {
        /// Where the text came from.
        origin: KeyOrigin,
    },
    /// The key text decodes to the wrong number of bytes.
    #[error("{origin} decodes to {actual} bytes, a key is 32")]
    KeyLength {
        /// Where the text came from.
        origin: KeyOrigin,
        /// The decoded length.
        actual: usize,
    },
    /// The key path is not a regular file (a FIFO, a device, a directory): reading it could
    /// block forever or read something else than a key.
    #[error("key file {path} is not a regular file")]
    KeyFileNotRegular {
        /// The path.
        path: PathBuf,
    },
    /// Refused to overwrite an existing key file.
    #[error("key file {path} already exists")]
    KeyFileExists {
        /// The file.
        path: PathBuf,
    },
    /// A new key file could not be written.
    #[error("cannot write key file {path}")]
    KeyWrite {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system random number generator failed")]
    Random {
        /// The error reported by `getrandom`.
        #[source]
        source: getrandom::Error,
    },

    // ----- writing -----
    /// An artifact needs at least one recipient key.
    #[error("no recipient key given")]
    NoRecipients,
    /// More than 8 recipient keys.
    #[error("{count} recipient keys given, at most 8 are allowed")]
    TooManyRecipients {
        /// How many were given.
        count: usize,
    },
    /// The same key was given twice as a recipient.
    #[error("recipient key {key_id} given twice")]
    DuplicateRecipient {
        /// Its id.
        key_id: KeyId,
    },

    // ----- header -----
    /// The input ended inside the header.
    #[error("artifact header is truncated")]
    HeaderTruncated,
    /// The input does not start with the artifact magic.
    #[error("not a celeriac artifact (bad magic)")]
    BadMagic,
    /// A format version this reader does not implement.
    #[error("unsupported artifact format version {version}")]
    UnsupportedVersion {
        /// The version byte.
        version: u8,
    },
    /// An algorithm suite this reader does not implement.
    #[error("unsupported algorithm suite {suite}")]
    UnsupportedSuite {
        /// The suite byte.
        suite: u8,
    },
    /// A chunk size outside 2^12 ..= 2^20 bytes.
    #[error("invalid chunk size 2^{log2}")]
    InvalidChunkSize {
        /// The base-2 logarithm found.
        log2: u8,
    },
    /// Reserved flag bits are set.
    #[error("unknown flag bits {flags:#04x}")]
    UnknownFlags {
        /// The whole flags byte.
        flags: u8,
    },
    /// `header_len` is outside its allowed range.
    #[error("header length {len} out of range")]
    HeaderLength {
        /// The length found.
        len: u16,
    },
    /// The header has no stanza.
    #[error("artifact header has no key stanza")]
    NoStanzas,
    /// The header has more than 8 stanzas.
    #[error("artifact header has {count} key stanzas, at most 8 are allowed")]
    TooManyStanzas {
        /// The count found.
        count: u8,
    },
    /// A stanza overruns the header, has a wrong body length, or the stanzas do not fill the
    /// header exactly.
    #[error("malformed key stanza {index}")]
    MalformedStanza {
        /// Index of the offending stanza (the stanza count if the stanzas under-fill the header).
        index: u8,
    },
    /// Two stanzas of the same type carry the same key id.
    #[error("key id {key_id} appears twice in the header")]
    DuplicateKeyId {
        /// The repeated id.
        key_id: KeyId,
    },
    /// No stanza is wrapped under a key of the keyring.
    #[error("no key in the keyring can open this artifact")]
    NoMatchingKey {
        /// Key ids of the stanzas this reader understands.
        wanted: Vec<KeyId>,
    },
    /// The stanza for a key of the keyring did not open (damaged stanza).
    #[error("the data key wrapped under key {key_id} does not open")]
    KeyUnwrap {
        /// The key id of the stanza.
        key_id: KeyId,
    },
    /// The header MAC does not verify.
    #[error("artifact header authentication failed")]
    HeaderMac,

    // ----- payload -----
    /// A chunk failed authentication (bit flip, reordering, duplication, splicing, or a cut in
    /// the middle of the final chunk).
    #[error("chunk {index} failed authentication")]
    ChunkAuthentication {
        /// Zero-based chunk index.
        index: u64,
    },
    /// The input ended without a final chunk.
    #[error("artifact truncated: no final chunk after {chunks} chunks")]
    Truncated {
        /// Complete non-final chunks seen before the end.
        chunks: u64,
    },
    /// Bytes follow the final chunk.
    #[error("data after the final chunk {index}")]
    TrailingData {
        /// Index of the final chunk.
        index: u64,
    },
    /// A final chunk without plaintext that is not the first chunk.
    #[error("empty final chunk {index}")]
    EmptyFinalChunk {
        /// Its index.
        index: u64,
    },
    /// The payload needs more than 2^32 chunks.
    #[error("more than 2^32 chunks")]
    TooManyChunks,
    /// An earlier error made this stream unusable.
    #[error("stream unusable after an earlier error")]
    Poisoned,

    // ----- transport -----
    /// The underlying reader or writer failed.
    #[error("i/o error on the underlying stream")]
    Io {
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl CryptoError {
    /// The `CryptoError` carried by an `io::Error` returned from [`crate::DecryptReader`] or
    /// [`crate::EncryptWriter`], if it carries one.
    pub fn from_io(error: &io::Error) -> Option<&CryptoError> {
        error.get_ref()?.downcast_ref::<CryptoError>()
    }

    /// Wraps this error into an `io::Error` (a plain I/O error is unwrapped instead).
    pub fn into_io(self) -> io::Error {
        match self {
            Self::Io { source } => source,
            err @ (Self::Truncated { .. } | Self::HeaderTruncated) => {
                io::Error::new(io::ErrorKind::UnexpectedEof, err)
            }
            err => io::Error::new(io::ErrorKind::InvalidData, err),
        }
    }

    /// True when the artifact's bytes are damaged or are not an artifact at all: another copy of
    /// the same artifact may be fine. `NoMatchingKey` is not counted (it usually means the wrong
    /// keyring, though a damaged key id produces it too).
    pub fn is_corrupt(&self) -> bool {
        matches!(
            self,
            Self::HeaderTruncated
                | Self::BadMagic
                | Self::UnsupportedVersion { .. }
                | Self::UnsupportedSuite { .. }
                | Self::InvalidChunkSize { .. }
                | Self::UnknownFlags { .. }
                | Self::HeaderLength { .. }
                | Self::NoStanzas
                | Self::TooManyStanzas { .. }
                | Self::MalformedStanza { .. }
                | Self::DuplicateKeyId { .. }
                | Self::KeyUnwrap { .. }
                | Self::HeaderMac
                | Self::ChunkAuthentication { .. }
                | Self::Truncated { .. }
                | Self::TrailingData { .. }
                | Self::EmptyFinalChunk { .. }
                | Self::TooManyChunks
        )
    }
}

impl From<io::Error> for CryptoError {
    /// Unwraps a `CryptoError` travelling inside an `io::Error`; anything else becomes `Io`.
    fn from(error: io::Error) -> Self {
        if CryptoError::from_io(&error).is_none() {
            return Self::Io { source: error };
        }
        let kind = error.kind();
        match error
            .into_inner()
            .map(<dyn std::error::Error + Send + Sync>::downcast::<CryptoError>)
        {
            Some(Ok(crypto)) => *crypto,
            // Not reachable after the check above; kept total instead of panicking.
            Some(Err(other)) => Self::Io {
                source: io::Error::new(kind, other),
            },
            None => Self::Io {
                source: io::Error::from(kind),
            },
        }
    }
}
