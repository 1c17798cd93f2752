//! Per-artifact key schedule: the data key, its wrapping under a KEK, and the keys derived from it.
//!
//! ```text
//! data_key ─► PRK = HKDF-Extract(payload_salt, data_key)
//!              ├─ mac_key                    = Expand(PRK, "celeriac/v1 header-mac", 32)
//!              └─ payload_key ‖ nonce_prefix = Expand(PRK, "celeriac/v1 payload" ‖ ctx, 39)
//! ```

use aead_stream::{NewStream, StreamBE32};
use aes_gcm::aead::array::Array;
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::key::{Key, KeyId};
use crate::random::fill_random;

/// Length of the data key.
pub(crate) const DATA_KEY_LEN: usize = 32;
/// Length of a type-1 stanza body: wrap nonce ‖ wrapped key ‖ tag.
pub(crate) const WRAPPED_LEN: usize = 12 + DATA_KEY_LEN + 16;
/// Length of the STREAM nonce prefix.
pub(crate) const NONCE_PREFIX_LEN: usize = 7;

const WRAP_AAD_LABEL: &[u8] = b"celeriac/v1 wrap";
const HEADER_MAC_LABEL: &[u8] = b"celeriac/v1 header-mac";
const PAYLOAD_LABEL: &[u8] = b"celeriac/v1 payload";

/// The STREAM primitive used for the payload (AES-256-GCM, 7-byte prefix ‖ BE32 ‖ last flag).
pub(crate) type PayloadStream = StreamBE32<Aes256Gcm>;

/// The random per-artifact key; wiped on drop.
pub(crate) struct DataKey(Zeroizing<[u8; DATA_KEY_LEN]>);

impl DataKey {
    /// A fresh data key from the OS CSPRNG.
    pub(crate) fn generate() -> Result<Self, CryptoError> {
        let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        fill_random(key.as_mut_slice())?;
        Ok(Self(key))
    }

    /// A fixed data key (test vectors).
    #[cfg(test)]
    pub(crate) fn from_bytes(bytes: [u8; DATA_KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

/// Keys derived from a data key for one artifact.
pub(crate) struct ArchiveKeys {
    pub(crate) mac_key: Zeroizing<[u8; 32]>,
    pub(crate) payload: PayloadStream,
}

/// Derives `mac_key`, `payload_key` and `nonce_prefix` (spec §4).
///
/// `context` is header bytes 8..12 (version, suite, chunk_log2, flags).
pub(crate) fn derive_keys(
    data_key: &DataKey,
    payload_salt: &[u8; 32],
    context: [u8; 4],
    archive_id: Uuid,
) -> ArchiveKeys {
    let hkdf = Hkdf::<Sha256>::new(Some(payload_salt), &data_key.0[..]);
    let mut mac_key = Zeroizing::new([0u8; 32]);
    hkdf.expand(HEADER_MAC_LABEL, mac_key.as_mut_slice())
        .expect("32 bytes is a valid HKDF-SHA-256 output length");
    let mut okm = Zeroizing::new([0u8; 32 + NONCE_PREFIX_LEN]);
    hkdf.expand_multi_info(
        &[PAYLOAD_LABEL, &context, archive_id.as_bytes()],
        okm.as_mut_slice(),
    )
    .expect("39 bytes is a valid HKDF-SHA-256 output length");
    let cipher = Aes256Gcm::new_from_slice(&okm[..32]).expect("AES-256 key is 32 bytes");
    let mut prefix = [0u8; NONCE_PREFIX_LEN];
    prefix.copy_from_slice(&okm[32..]);
    ArchiveKeys {
        mac_key,
        payload: PayloadStream::from_aead(cipher, &Array::from(prefix)),
    }
}

/// HMAC-SHA-256 of the header bytes before the MAC.
pub(crate) fn header_mac(mac_key: &[u8; 32], header_without_mac: &[u8]) -> [u8; 32] {
    mac_for(mac_key, header_without_mac)
        .finalize()
        .into_bytes()
        .into()
}

/// Checks a header MAC in constant time.
pub(crate) fn verify_header_mac(
    mac_key: &[u8; 32],
    header_without_mac: &[u8],
    mac: &[u8; 32],
) -> bool {
    mac_for(mac_key, header_without_mac)
        .verify_slice(mac)
        .is_ok()
}

fn mac_for(mac_key: &[u8; 32], data: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(mac_key)
        .expect("HMAC accepts keys of any length");
    mac.update(data);
    mac
}

/// Wraps `data_key` under `kek` (stanza type 1 body).
pub(crate) fn wrap(
    kek: &Key,
    wrap_nonce: [u8; 12],
    archive_id: Uuid,
    data_key: &DataKey,
) -> [u8; WRAPPED_LEN] {
    let cipher = wrap_cipher(kek);
    let aad = wrap_aad(archive_id, kek.id());
    let mut body = [0u8; WRAPPED_LEN];
    body[..12].copy_from_slice(&wrap_nonce);
    let (sealed, tag_out) = body[12..].split_at_mut(DATA_KEY_LEN);
    sealed.copy_from_slice(&data_key.0[..]);
    let tag = cipher
        .encrypt_inout_detached(&Array::from(wrap_nonce), &aad, sealed.into())
        .expect("a 32-byte message is within AES-GCM limits");
    tag_out.copy_from_slice(&tag);
    body
}

/// Opens a stanza type 1 body; `None` if it does not authenticate under `kek`.
pub(crate) fn unwrap(kek: &Key, body: &[u8], archive_id: Uuid) -> Option<DataKey> {
    if body.len() != WRAPPED_LEN {
        return None;
    }
    let cipher = wrap_cipher(kek);
    let aad = wrap_aad(archive_id, kek.id());
    let nonce: [u8; 12] = body[..12].try_into().ok()?;
    let tag: [u8; 16] = body[12 + DATA_KEY_LEN..].try_into().ok()?;
    let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
    key.copy_from_slice(&body[12..12 + DATA_KEY_LEN]);
    cipher
        .decrypt_inout_detached(
            &Array::from(nonce),
            &aad,
            key.as_mut_slice().into(),
            &Array::from(tag),
        )
        .ok()?;
    Some(DataKey(key))
}

fn wrap_cipher(kek: &Key) -> Aes256Gcm {
    Aes256Gcm::new_from_slice(&kek.wrap_key()[..]).expect("AES-256 key is 32 bytes")
}

fn wrap_aad(archive_id: Uuid, key_id: KeyId) -> [u8; 48] {
    let mut aad = [0u8; 48];
    aad[..16].copy_from_slice(WRAP_AAD_LABEL);
    aad[16..32].copy_from_slice(archive_id.as_bytes());
    aad[32..].copy_from_slice(key_id.as_bytes());
    aad
}
