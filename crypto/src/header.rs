//! The artifact header: parsing without a key, sealing (stanzas + MAC) and opening with a keyring.

use std::fmt;
use std::io::{self, Read};

use uuid::Uuid;

use crate::derive::{self, ArchiveKeys, DataKey, WRAPPED_LEN};
use crate::error::CryptoError;
use crate::key::{KEY_ID_LEN, Key, KeyId, Keyring};
use crate::params::{ChunkSize, Flags, Suite};

/// The 8 magic bytes every artifact starts with: `"\x89CBK\r\n\x1a\n"`.
pub const MAGIC: [u8; 8] = [0x89, b'C', b'B', b'K', 0x0D, 0x0A, 0x1A, 0x0A];
/// The format version this crate reads and writes.
pub const FORMAT_VERSION: u8 = 1;
/// Smallest valid `header_len` (one type-1 stanza).
pub const MIN_HEADER_LEN: usize = FIXED_LEN + STANZA_HEAD_LEN + WRAPPED_LEN + MAC_LEN;
/// Largest valid `header_len`.
pub const MAX_HEADER_LEN: usize = 4096;
/// Most recipients (stanzas) an artifact can have.
pub const MAX_STANZAS: usize = 8;

const PREAMBLE_LEN: usize = 14;
const FIXED_LEN: usize = 71;
const MAC_LEN: usize = 32;
const STANZA_HEAD_LEN: usize = 1 + KEY_ID_LEN + 2;
const KEK_STANZA_TYPE: u8 = 0x01;

/// The kind of a key stanza.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StanzaKind {
    /// Type 1: data key wrapped with AES-256-GCM under a symmetric KEK.
    KekAes256Gcm,
    /// A type this version does not know; skipped when opening.
    Unknown(u8),
}

impl StanzaKind {
    fn from_byte(byte: u8) -> Self {
        match byte {
            KEK_STANZA_TYPE => Self::KekAes256Gcm,
            other => Self::Unknown(other),
        }
    }

    fn to_byte(self) -> u8 {
        match self {
            Self::KekAes256Gcm => KEK_STANZA_TYPE,
            Self::Unknown(byte) => byte,
        }
    }
}

/// One recipient entry of the header.
#[derive(Clone, PartialEq, Eq)]
pub struct Stanza {
    kind: StanzaKind,
    key_id: KeyId,
    body: Vec<u8>,
}

impl Stanza {
    /// Its type.
    pub fn kind(&self) -> StanzaKind {
        self.kind
    }

    /// Id of the key it is wrapped under.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }
}

impl fmt::Debug for Stanza {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stanza")
            .field("kind", &self.kind)
            .field("key_id", &self.key_id)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The fields a writer chooses for a new header.
pub(crate) struct HeaderParams {
    pub(crate) chunk_size: ChunkSize,
    pub(crate) flags: Flags,
    pub(crate) archive_id: Uuid,
    pub(crate) created_unix: u64,
    pub(crate) payload_salt: [u8; 32],
}

/// A parsed artifact header.
///
/// [`Header::read_from`] checks its structure but needs no key, so nothing in it is authenticated
/// until a [`crate::DecryptReader`] has opened it (spec §5.1). Good for `inspect` and for
/// listing the key ids an artifact needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    suite: Suite,
    chunk_size: ChunkSize,
    flags: Flags,
    archive_id: Uuid,
    created_unix: u64,
    payload_salt: [u8; 32],
    stanzas: Vec<Stanza>,
    bytes: Vec<u8>,
}

impl Header {
    /// Reads and structurally checks a header (spec §5.1 steps 1–2), consuming exactly its bytes.
    pub fn read_from<R: Read + ?Sized>(reader: &mut R) -> Result<Self, CryptoError> {
        let mut bytes = vec![0u8; PREAMBLE_LEN];
        read_header_bytes(reader, &mut bytes)?;
        let (suite, chunk_size, flags, len) = parse_preamble(&bytes)?;
        bytes.resize(len, 0);
        read_header_bytes(reader, &mut bytes[PREAMBLE_LEN..])?;
        let body = &bytes[..len - MAC_LEN];
        let archive_id = Uuid::from_bytes(array_at(body, 14));
        let created_unix = u64::from_be_bytes(array_at(body, 30));
        let payload_salt: [u8; 32] = array_at(body, 38);
        let stanzas = parse_stanzas(body[70], &body[FIXED_LEN..])?;
        Ok(Self {
            suite,
            chunk_size,
            flags,
            archive_id,
            created_unix,
            payload_salt,
            stanzas,
            bytes,
        })
    }

    /// Builds a header with one stanza per recipient and its MAC, and derives the payload keys.
    pub(crate) fn seal(
        params: &HeaderParams,
        data_key: &DataKey,
        recipients: &[(&Key, [u8; 12])],
    ) -> (Self, ArchiveKeys) {
        let stanzas: Vec<Stanza> = recipients
            .iter()
            .map(|(key, nonce)| Stanza {
                kind: StanzaKind::KekAes256Gcm,
                key_id: key.id(),
                body: derive::wrap(key, *nonce, params.archive_id, data_key).to_vec(),
            })
            .collect();
        let mut header = Self {
            suite: Suite::Aes256GcmHkdfSha256,
            chunk_size: params.chunk_size,
            flags: params.flags,
            archive_id: params.archive_id,
            created_unix: params.created_unix,
            payload_salt: params.payload_salt,
            stanzas,
            bytes: Vec::new(),
        };
        let keys = header.serialize(data_key);
        (header, keys)
    }

    /// Picks the stanza for a key of `keyring`, unwraps the data key and verifies the MAC
    /// (spec §5.1 steps 3–6).
    pub(crate) fn open(&self, keyring: &Keyring) -> Result<(DataKey, ArchiveKeys), CryptoError> {
        let (stanza, kek) = self
            .stanzas
            .iter()
            .filter(|s| s.kind == StanzaKind::KekAes256Gcm)
            .find_map(|s| keyring.get(&s.key_id).map(|kek| (s, kek)))
            .ok_or_else(|| CryptoError::NoMatchingKey {
                wanted: self.key_ids().collect(),
            })?;
        let data_key =
            derive::unwrap(kek, &stanza.body, self.archive_id).ok_or(CryptoError::KeyUnwrap {
                key_id: stanza.key_id,
            })?;
        let keys = derive::derive_keys(
            &data_key,
            &self.payload_salt,
            self.context(),
            self.archive_id,
        );
        let (unauthenticated, mac) = self.bytes.split_at(self.bytes.len() - MAC_LEN);
        let mac: [u8; MAC_LEN] = array_at(mac, 0);
        if !derive::verify_header_mac(&keys.mac_key, unauthenticated, &mac) {
            return Err(CryptoError::HeaderMac);
        }
        Ok((data_key, keys))
    }

    /// A copy of this header wrapped to a new set of recipients (spec §9): same data key, salt,
    /// archive id, time and parameters, so the payload bytes stay valid unchanged. Needs a key of
    /// `keyring` that opens this header.
    pub fn rewrap(&self, keyring: &Keyring, recipients: &[&Key]) -> Result<Self, CryptoError> {
        let (data_key, _) = self.open(keyring)?;
        let nonces = crate::encrypt::recipient_nonces(recipients)?;
        let params = HeaderParams {
            chunk_size: self.chunk_size,
            flags: self.flags,
            archive_id: self.archive_id,
            created_unix: self.created_unix,
            payload_salt: self.payload_salt,
        };
        let pairs: Vec<(&Key, [u8; 12])> = recipients.iter().copied().zip(nonces).collect();
        Ok(Self::seal(&params, &data_key, &pairs).0)
    }

    /// Writes `bytes` from the fields and appends the MAC.
    fn serialize(&mut self, data_key: &DataKey) -> ArchiveKeys {
        let stanza_bytes: usize = self
            .stanzas
            .iter()
            .map(|s| STANZA_HEAD_LEN + s.body.len())
            .sum();
        let len = FIXED_LEN + stanza_bytes + MAC_LEN;
        let len16 = u16::try_from(len).expect("at most 8 fixed-size stanzas fit in 4096 bytes");
        let count = u8::try_from(self.stanzas.len()).expect("at most 8 stanzas");
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.context());
        out.extend_from_slice(&len16.to_be_bytes());
        out.extend_from_slice(self.archive_id.as_bytes());
        out.extend_from_slice(&self.created_unix.to_be_bytes());
        out.extend_from_slice(&self.payload_salt);
        out.push(count);
        for stanza in &self.stanzas {
            out.push(stanza.kind.to_byte());
            out.extend_from_slice(stanza.key_id.as_bytes());
            let body_len = u16::try_from(stanza.body.len()).expect("stanza bodies are 60 bytes");
            out.extend_from_slice(&body_len.to_be_bytes());
            out.extend_from_slice(&stanza.body);
        }
        let keys = derive::derive_keys(
            data_key,
            &self.payload_salt,
            self.context(),
            self.archive_id,
        );
        let mac = derive::header_mac(&keys.mac_key, &out);
        out.extend_from_slice(&mac);
        self.bytes = out;
        keys
    }

    /// Header bytes 8..12: version, suite, chunk_log2, flags.
    fn context(&self) -> [u8; 4] {
        [
            FORMAT_VERSION,
            self.suite.to_byte(),
            self.chunk_size.log2(),
            self.flags.bits(),
        ]
    }

    /// The algorithm suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The plaintext chunk size.
    pub fn chunk_size(&self) -> ChunkSize {
        self.chunk_size
    }

    /// The flags.
    pub fn flags(&self) -> Flags {
        self.flags
    }

    /// The archive id.
    pub fn archive_id(&self) -> Uuid {
        self.archive_id
    }

    /// Creation time, seconds since the Unix epoch.
    pub fn created_unix(&self) -> u64 {
        self.created_unix
    }

    /// All stanzas, in header order.
    pub fn stanzas(&self) -> &[Stanza] {
        &self.stanzas
    }

    /// Ids of the keys that can open this artifact (stanzas of known types), in header order.
    pub fn key_ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.stanzas
            .iter()
            .filter(|s| s.kind == StanzaKind::KekAes256Gcm)
            .map(Stanza::key_id)
    }

    /// The exact header bytes (what precedes the payload).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Header length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a header is never empty (for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

fn read_header_bytes<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> Result<(), CryptoError> {
    reader.read_exact(buf).map_err(|err| {
        if err.kind() == io::ErrorKind::UnexpectedEof {
            CryptoError::HeaderTruncated
        } else {
            CryptoError::from(err)
        }
    })
}

/// Checks the 14-byte preamble in spec order; returns suite, chunk size, flags and header_len.
fn parse_preamble(p: &[u8]) -> Result<(Suite, ChunkSize, Flags, usize), CryptoError> {
    if p[..8] != MAGIC {
        return Err(CryptoError::BadMagic);
    }
    if p[8] != FORMAT_VERSION {
        return Err(CryptoError::UnsupportedVersion { version: p[8] });
    }
    let suite = Suite::from_byte(p[9])?;
    let chunk_size = ChunkSize::from_log2(p[10])?;
    let flags = Flags::from_bits(p[11])?;
    let len16 = u16::from_be_bytes([p[12], p[13]]);
    let len = usize::from(len16);
    if !(MIN_HEADER_LEN..=MAX_HEADER_LEN).contains(&len) {
        return Err(CryptoError::HeaderLength { len: len16 });
    }
    Ok((suite, chunk_size, flags, len))
}

/// Parses `count` stanzas that must fill `area` exactly.
fn parse_stanzas(count: u8, area: &[u8]) -> Result<Vec<Stanza>, CryptoError> {
    if count == 0 {
        return Err(CryptoError::NoStanzas);
    }
    if usize::from(count) > MAX_STANZAS {
        return Err(CryptoError::TooManyStanzas { count });
    }
    let mut stanzas: Vec<Stanza> = Vec::with_capacity(usize::from(count));
    let mut rest = area;
    for index in 0..count {
        let malformed = CryptoError::MalformedStanza { index };
        let Some((head, tail)) = rest.split_at_checked(STANZA_HEAD_LEN) else {
            return Err(malformed);
        };
        let kind = StanzaKind::from_byte(head[0]);
        let key_id = KeyId::from_bytes(array_at(head, 1));
        let body_len = usize::from(u16::from_be_bytes([head[17], head[18]]));
        let Some((body, tail)) = tail.split_at_checked(body_len) else {
            return Err(malformed);
        };
        if kind == StanzaKind::KekAes256Gcm && body_len != WRAPPED_LEN {
            return Err(malformed);
        }
        if stanzas.iter().any(|s| s.kind == kind && s.key_id == key_id) {
            return Err(CryptoError::DuplicateKeyId { key_id });
        }
        stanzas.push(Stanza {
            kind,
            key_id,
            body: body.to_vec(),
        });
        rest = tail;
    }
    if rest.is_empty() {
        Ok(stanzas)
    } else {
        Err(CryptoError::MalformedStanza { index: count })
    }
}

/// `N` bytes of `bytes` starting at `at`; callers have checked the length.
fn array_at<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}
