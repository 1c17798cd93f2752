//! Key-encryption keys: `Key` (secret, zeroized), `KeyId` (public PRF of the key), `Keyring`.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{CryptoError, KeyOrigin};
use crate::random::fill_random;

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of a key id in bytes.
pub const KEY_ID_LEN: usize = 16;

const KEY_ID_LABEL: &[u8] = b"celeriac/v1 key-id";
const WRAP_KEY_LABEL: &[u8] = b"celeriac/v1 wrap-key";
/// Key files are tiny; refuse to slurp more than this from a path that is not one.
const MAX_KEY_FILE: u64 = 4096;

/// A 32-byte key-encryption key (KEK).
///
/// The bytes live on the heap, are wiped when the key is dropped and never appear in `Debug`
/// output, errors or logs. There is deliberately no `Clone`, `Display` or serialization; the only
/// way to get the bytes out again is [`Key::write_new_file`].
pub struct Key {
    bytes: Box<Zeroizing<[u8; KEY_LEN]>>,
    id: KeyId,
}

impl Key {
    /// A new random key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Box::new(Zeroizing::new([0u8; KEY_LEN]));
        fill_random(bytes.as_mut_slice())?;
        Ok(Self::from_boxed(bytes))
    }

    /// A key from raw bytes (test vectors, key derivation by a caller). The caller's copy of
    /// `bytes` is the caller's to wipe.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self::from_boxed(Box::new(Zeroizing::new(bytes)))
    }

    /// Parses standard base64 (with padding) of exactly 32 bytes; surrounding ASCII whitespace is
    /// ignored. The text never appears in the error.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        Self::decode(text.as_bytes(), KeyOrigin::Text)
    }

    /// Reads a key file holding base64 of 32 bytes (as written by [`Key::write_new_file`]).
    /// Only a regular file (or a symlink to one) is read: a FIFO or device is refused before it
    /// is opened, so a wrong path cannot block the caller forever.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, CryptoError> {
        let path = path.as_ref();
        let read_error = |source| CryptoError::KeyRead {
            path: path.to_path_buf(),
            source,
        };
        let not_regular = || CryptoError::KeyFileNotRegular {
            path: path.to_path_buf(),
        };
        if !std::fs::metadata(path).map_err(read_error)?.is_file() {
            return Err(not_regular());
        }
        let file = File::open(path).map_err(read_error)?;
        if !file.metadata().map_err(read_error)?.is_file() {
            return Err(not_regular());
        }
        let mut text = Zeroizing::new(Vec::with_capacity(64));
        file.take(MAX_KEY_FILE)
            .read_to_end(&mut text)
            .map_err(read_error)?;
        Self::decode(&text, KeyOrigin::File(path.to_path_buf()))
    }

    /// Parses base64 of 32 bytes that the caller read from `origin` (an environment variable,
    /// say: this crate reads no environment), so an error names where the text came from but
    /// never the text. The caller's copy of `text` is the caller's to wipe.
    pub fn from_base64_at(text: &[u8], origin: KeyOrigin) -> Result<Self, CryptoError> {
        Self::decode(text, origin)
    }

    /// Writes this key as base64 plus a newline to a **new** file with mode 0600 and syncs it.
    /// An existing file is never overwritten.
    pub fn write_new_file(&self, path: impl AsRef<Path>) -> Result<(), CryptoError> {
        let path = path.as_ref();
        let write_error = |source: io::Error| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                CryptoError::KeyFileExists {
                    path: path.to_path_buf(),
                }
            } else {
                CryptoError::KeyWrite {
                    path: path.to_path_buf(),
                    source,
                }
            }
        };
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(write_error)?;
        let mut text = Zeroizing::new(BASE64.encode(self.bytes.as_slice()));
        text.push('\n');
        file.write_all(text.as_bytes()).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        sync_parent_dir(path).map_err(write_error)
    }

    /// Generates a key and writes it to a new owner-only file (see [`Key::write_new_file`]).
    pub fn generate_file(path: impl AsRef<Path>) -> Result<Self, CryptoError> {
        let key = Self::generate()?;
        key.write_new_file(path)?;
        Ok(key)
    }

    /// This key's public id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The key that wraps data keys: `HMAC-SHA-256(KEK, "celeriac/v1 wrap-key")`.
    pub(crate) fn wrap_key(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(prf(&self.bytes[..], WRAP_KEY_LABEL))
    }

    fn from_boxed(bytes: Box<Zeroizing<[u8; KEY_LEN]>>) -> Self {
        let full = Zeroizing::new(prf(&bytes[..], KEY_ID_LABEL));
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&full[..KEY_ID_LEN]);
        Self {
            bytes,
            id: KeyId(id),
        }
    }

    fn decode(text: &[u8], origin: KeyOrigin) -> Result<Self, CryptoError> {
        let trimmed = text.trim_ascii();
        let decoded =
            Zeroizing::new(
                BASE64
                    .decode(trimmed)
                    .map_err(|_| CryptoError::KeyNotBase64 {
                        origin: origin.clone(),
                    })?,
            );
        if decoded.len() != KEY_LEN {
            return Err(CryptoError::KeyLength {
                origin,
                actual: decoded.len(),
            });
        }
        let mut bytes = Box::new(Zeroizing::new([0u8; KEY_LEN]));
        bytes.copy_from_slice(&decoded);
        Ok(Self::from_boxed(bytes))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("bytes", &"[redacted]")
            .finish()
    }
}

/// HMAC-SHA-256 of a fixed label under `key`.
fn prf(key: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

fn sync_parent_dir(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

/// The public id of a [`Key`]: `HMAC-SHA-256(key, "celeriac/v1 key-id")[..16]`.
///
/// Safe to log, store and show. Displayed (and parsed) as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    /// Wraps raw id bytes.
    pub const fn from_bytes(bytes: [u8; KEY_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw id bytes.
    pub const fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A string that is not 32 hex digits was parsed as a [`KeyId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a key id is 32 hexadecimal digits")]
pub struct KeyIdParseError;

impl FromStr for KeyId {
    type Err = KeyIdParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits = text.as_bytes();
        if digits.len() != 2 * KEY_ID_LEN {
            return Err(KeyIdParseError);
        }
        let mut id = [0u8; KEY_ID_LEN];
        for (byte, pair) in id.iter_mut().zip(digits.chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| KeyIdParseError)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| KeyIdParseError)?;
        }
        Ok(Self(id))
    }
}

/// The keys a reader may use, looked up by the key ids in an artifact header.
///
/// Keep retired keys here after a rotation: they still open older artifacts.
#[derive(Default)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key; returns `false` (and drops `key`) if a key with the same id is already present.
    pub fn insert(&mut self, key: Key) -> bool {
        if self.get(&key.id()).is_some() {
            return false;
        }
        self.keys.push(key);
        true
    }

    /// The key with this id.
    pub fn get(&self, id: &KeyId) -> Option<&Key> {
        self.keys.iter().find(|key| key.id == *id)
    }

    /// Ids of all keys, in insertion order.
    pub fn ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.keys.iter().map(Key::id)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if there is no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl From<Key> for Keyring {
    fn from(key: Key) -> Self {
        Self { keys: vec![key] }
    }
}

impl FromIterator<Key> for Keyring {
    fn from_iter<I: IntoIterator<Item = Key>>(iter: I) -> Self {
        let mut ring = Self::new();
        for key in iter {
            ring.insert(key);
        }
        ring
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("ids", &self.keys.iter().map(Key::id).collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    const KAT_KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn kat_bytes() -> [u8; 32] {
        std::array::from_fn(|i| u8::try_from(i).expect("i < 32"))
    }

    #[test]
    fn key_id_matches_spec_known_answer() {
        let key = Key::from_bytes(kat_bytes());
        assert_eq!(key.id().to_string(), "0917eda7e87127797636198b148981eb");
        assert_eq!(
            hex(&key.wrap_key()[..]),
            "7b32e074fb7af74858d8a435ff25b0efbabf020f2ea01c42d0e84c272090dd4b"
        );
    }

    #[test]
    fn base64_with_surrounding_whitespace_loads() {
        let key = Key::from_base64(&format!(" \t{KAT_KEY_B64}\r\n\n")).expect("valid key");
        assert_eq!(key.id(), Key::from_bytes(kat_bytes()).id());
    }

    #[test]
    fn malformed_key_text_is_rejected_without_echo() {
        let cases = [
            "not base64 at all!",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", // padding missing
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=x", // trailing junk
            "AAECAwQFBgcICQoLDA0O DxAREhMUFRYXGBkaGxwdHh8=", // inner space
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh-_", // url-safe alphabet
        ];
        for text in cases {
            let err = Key::from_base64(text).expect_err(text);
            assert!(
                matches!(err, CryptoError::KeyNotBase64 { .. }),
                "{text:?}: {err:?}"
            );
            assert!(!err.to_string().contains(text.trim()));
        }
    }

    #[test]
    fn wrong_length_is_a_typed_error() {
        for len in [0usize, 16, 31, 33, 64] {
            let text = BASE64.encode(vec![7u8; len]);
            match Key::from_base64(&text) {
                Err(CryptoError::KeyLength { actual, .. }) => assert_eq!(actual, len),
                other => panic!("{len}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn debug_is_redacted() {
        let key = Key::from_bytes(kat_bytes());
        let shown = format!("{key:?} {:?}", Keyring::from(Key::from_bytes(kat_bytes())));
        assert!(shown.contains("[redacted]"));
        assert!(shown.contains("0917eda7"));
        assert!(!shown.contains("AAECAw"));
        assert!(!shown.contains("000102"));
        assert!(!shown.contains("[0, 1, 2"));
    }

    #[test]
    fn generated_keys_differ_and_round_trip_through_a_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("k.key");
        let key = Key::generate_file(&path).expect("generate");
        assert_ne!(key.id(), Key::generate().expect("generate").id());
        let loaded = Key::from_file(&path).expect("load");
        assert_eq!(loaded.id(), key.id());
        let text = fs::read_to_string(&path).expect("read");
        assert_eq!(text.len(), 45);
        assert!(text.ends_with('\n'));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_directory_is_not_read_as_a_key_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        for path in [fifo.as_path(), dir.path()] {
            assert!(matches!(
                Key::from_file(path),
                Err(CryptoError::KeyFileNotRegular { .. })
            ));
        }
    }

    #[test]
    fn key_file_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("k.key");
        fs::write(&path, "precious").expect("write");
        let err = Key::generate_file(&path).expect_err("must refuse");
        assert!(matches!(err, CryptoError::KeyFileExists { .. }), "{err:?}");
        assert_eq!(fs::read_to_string(&path).expect("read"), "precious");
    }

    #[test]
    fn a_missing_key_file_and_bad_text_are_typed_and_name_their_origin() {
        let err = Key::from_file("/nonexistent/celeriac.key").expect_err("missing");
        assert!(matches!(err, CryptoError::KeyRead { .. }), "{err:?}");
        let err = Key::from_base64_at(b"not base64!", KeyOrigin::Env("CELERIAC_KEY".into()))
            .expect_err("bad text");
        assert!(err.to_string().contains("CELERIAC_KEY"), "{err}");
        assert!(!err.to_string().contains("not base64!"), "{err}");
    }

    #[test]
    fn key_id_parses_and_displays_as_hex() {
        let id = Key::from_bytes(kat_bytes()).id();
        assert_eq!(id.to_string().parse::<KeyId>(), Ok(id));
        assert_eq!("0917".parse::<KeyId>(), Err(KeyIdParseError));
        assert_eq!(
            "zz17eda7e87127797636198b148981eb".parse::<KeyId>(),
            Err(KeyIdParseError)
        );
    }

    #[test]
    fn keyring_finds_by_id_and_ignores_duplicates() {
        let mut ring = Keyring::new();
        assert!(ring.insert(Key::from_bytes([1; 32])));
        assert!(ring.insert(Key::from_bytes([2; 32])));
        assert!(!ring.insert(Key::from_bytes([1; 32])));
        assert_eq!(ring.len(), 2);
        let id = Key::from_bytes([2; 32]).id();
        assert_eq!(ring.get(&id).map(Key::id), Some(id));
        assert!(ring.get(&Key::from_bytes([3; 32]).id()).is_none());
    }

    fn hex(bytes: &[u8]) -> String {
        use std::fmt::Write as _;
        bytes.iter().fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
    }
}
