//! Typed header parameters: `ChunkSize`, `Flags`, `Suite`.

use std::fmt;
use std::ops::BitOr;

use crate::error::CryptoError;

/// The plaintext size of every non-final chunk: a power of two from 4 KiB to 1 MiB.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkSize {
    log2: u8,
}

impl ChunkSize {
    /// Smallest allowed `log2` (4 KiB).
    pub const MIN_LOG2: u8 = 12;
    /// Largest allowed `log2` (1 MiB).
    pub const MAX_LOG2: u8 = 20;
    /// The default, 64 KiB.
    pub const DEFAULT: Self = Self { log2: 16 };

    /// `2^log2` bytes; `log2` must be in 12 ..= 20.
    pub fn from_log2(log2: u8) -> Result<Self, CryptoError> {
        if (Self::MIN_LOG2..=Self::MAX_LOG2).contains(&log2) {
            Ok(Self { log2 })
        } else {
            Err(CryptoError::InvalidChunkSize { log2 })
        }
    }

    /// The base-2 logarithm of the size.
    pub fn log2(self) -> u8 {
        self.log2
    }

    /// The size in bytes.
    pub fn bytes(self) -> usize {
        1usize << self.log2
    }
}

impl Default for ChunkSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Debug for ChunkSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChunkSize({} bytes)", self.bytes())
    }
}

/// Header flags. Only known bits can be set; readers reject unknown ones.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u8);

impl Flags {
    /// No flags.
    pub const EMPTY: Self = Self(0);
    /// The plaintext is a gzip-compressed tar stream.
    pub const TAR_GZIP: Self = Self(0x01);
    const KNOWN: u8 = 0x01;

    /// Flags from a header byte; unknown bits are an error.
    pub fn from_bits(bits: u8) -> Result<Self, CryptoError> {
        if bits & !Self::KNOWN == 0 {
            Ok(Self(bits))
        } else {
            Err(CryptoError::UnknownFlags { flags: bits })
        }
    }

    /// The header byte.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// True if every bit of `other` is set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Flags {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.contains(Self::TAR_GZIP) {
            f.write_str("Flags(TAR_GZIP)")
        } else {
            f.write_str("Flags(EMPTY)")
        }
    }
}

/// The algorithm suite of an artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Suite {
    /// Suite 1: AES-256-GCM STREAM-BE32 payload, HKDF-SHA-256, HMAC-SHA-256 header MAC,
    /// AES-256-GCM key wrap.
    Aes256GcmHkdfSha256,
}

impl Suite {
    pub(crate) fn from_byte(byte: u8) -> Result<Self, CryptoError> {
        match byte {
            1 => Ok(Self::Aes256GcmHkdfSha256),
            suite => Err(CryptoError::UnsupportedSuite { suite }),
        }
    }

    pub(crate) fn to_byte(self) -> u8 {
        match self {
            Self::Aes256GcmHkdfSha256 => 1,
        }
    }
}
