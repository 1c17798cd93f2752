//! Sealing and opening one payload chunk in place, in a fixed, reused buffer.

use aead_stream::StreamPrimitive;
use aes_gcm::aead;

use crate::derive::PayloadStream;
use crate::error::CryptoError;

/// Length of a GCM tag.
pub(crate) const TAG_LEN: usize = 16;
/// Number of chunks a payload may have: 2^32 (the counter is 32 bits).
pub(crate) const MAX_CHUNKS: u64 = 1 << 32;

/// A view of the first `len` bytes of a fixed slice that the AEAD can grow (by the tag) and
/// shrink, so no chunk ever allocates.
struct SliceBuf<'a> {
    bytes: &'a mut [u8],
    len: usize,
}

impl AsRef<[u8]> for SliceBuf<'_> {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl AsMut<[u8]> for SliceBuf<'_> {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[..self.len]
    }
}

impl aead::Buffer for SliceBuf<'_> {
    fn extend_from_slice(&mut self, other: &[u8]) -> aead::Result<()> {
        let end = self.len + other.len();
        let dest = self.bytes.get_mut(self.len..end).ok_or(aead::Error)?;
        dest.copy_from_slice(other);
        self.len = end;
        Ok(())
    }

    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

/// Encrypts `buf[..plain_len]` in place as chunk `index`; the tag lands right after it.
/// Returns the chunk's length on disk. `buf` must have room for the tag.
pub(crate) fn seal(
    stream: &PayloadStream,
    index: u64,
    last: bool,
    buf: &mut [u8],
    plain_len: usize,
) -> Result<usize, CryptoError> {
    let position = position(index, last)?;
    let mut view = SliceBuf {
        bytes: buf,
        len: plain_len,
    };
    stream
        .encrypt_in_place(position, last, b"", &mut view)
        .expect("the buffer has room for the tag and chunks are far below GCM's limit");
    Ok(view.len)
}

/// Decrypts the chunk in `buf` in place; returns the plaintext length (`buf.len() - 16`), or
/// `None` if it does not authenticate as chunk `index` with this `last` flag. On failure `buf` is
/// left as it was (GCM verifies before decrypting), so the caller may try the other flag.
pub(crate) fn open(
    stream: &PayloadStream,
    index: u64,
    last: bool,
    buf: &mut [u8],
) -> Result<Option<usize>, CryptoError> {
    let position = position(index, last)?;
    let len = buf.len();
    let mut view = SliceBuf { bytes: buf, len };
    Ok(stream
        .decrypt_in_place(position, last, b"", &mut view)
        .ok()
        .map(|()| view.len))
}

/// The STREAM counter for chunk `index`: non-final chunks must leave room for a final one.
fn position(index: u64, last: bool) -> Result<u32, CryptoError> {
    let limit = if last { MAX_CHUNKS } else { MAX_CHUNKS - 1 };
    if index >= limit {
        return Err(CryptoError::TooManyChunks);
    }
    u32::try_from(index).map_err(|_| CryptoError::TooManyChunks)
}

#[cfg(test)]
mod tests {
    use aes_gcm::aead::array::Array;
    use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
    use uuid::Uuid;

    use super::*;
    use crate::derive::{DataKey, derive_keys};

    /// Spec §10.2 values.
    const PAYLOAD_KEY: &str = "db193b462262b611e84fa18eed27c054e59ce2e3d383caa9f3706b92982dd4b1";
    const NONCE_PREFIX: &str = "8403ffff668c0d";

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn vector_stream() -> PayloadStream {
        let data_key = DataKey::from_bytes(std::array::from_fn(|i| {
            0x40 + u8::try_from(i).expect("i < 32")
        }));
        let salt: [u8; 32] = std::array::from_fn(|i| 0x80 + u8::try_from(i).expect("i < 32"));
        let archive_id = Uuid::parse_str("0191e0a2-7c3a-7cde-8f00-0123456789ab").expect("uuid");
        derive_keys(&data_key, &salt, [1, 1, 12, 1], archive_id).payload
    }

    /// Encrypts with a nonce assembled by hand: prefix ‖ BE32(index) ‖ flag.
    fn hand_sealed(index: u32, last: bool, plaintext: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new_from_slice(&unhex(PAYLOAD_KEY)).expect("key");
        let mut nonce = unhex(NONCE_PREFIX);
        nonce.extend_from_slice(&index.to_be_bytes());
        nonce.push(u8::from(last));
        let nonce: [u8; 12] = nonce.try_into().expect("12 bytes");
        let mut out = plaintext.to_vec();
        let tag = cipher
            .encrypt_inout_detached(&Array::from(nonce), b"", out.as_mut_slice().into())
            .expect("encrypt");
        out.extend_from_slice(&tag);
        out
    }

    #[test]
    fn nonce_layout_matches_hand_built_nonce() {
        let stream = vector_stream();
        let plaintext = b"hello, celeriac\n";
        for (index, last) in [
            (0u32, true),
            (0, false),
            (5, false),
            (5, true),
            (0x0102_0304, true),
        ] {
            let mut buf = [0u8; 64];
            buf[..plaintext.len()].copy_from_slice(plaintext);
            let len =
                seal(&stream, u64::from(index), last, &mut buf, plaintext.len()).expect("seal");
            assert_eq!(
                buf[..len],
                hand_sealed(index, last, plaintext),
                "{index} {last}"
            );
        }
    }

    #[test]
    fn open_reports_wrong_flag_and_leaves_buffer_intact() {
        let stream = vector_stream();
        let mut sealed = hand_sealed(3, false, &[9u8; 100]);
        let original = sealed.clone();
        assert_eq!(open(&stream, 3, true, &mut sealed).expect("in range"), None);
        assert_eq!(sealed, original, "a failed open must not touch the buffer");
        assert_eq!(
            open(&stream, 3, false, &mut sealed).expect("in range"),
            Some(100)
        );
        assert_eq!(sealed[..100], [9u8; 100]);
    }

    #[test]
    fn counter_limits_are_enforced() {
        let stream = vector_stream();
        let mut buf = [0u8; 32];
        assert!(matches!(
            seal(&stream, MAX_CHUNKS - 1, false, &mut buf, 0),
            Err(CryptoError::TooManyChunks)
        ));
        assert!(seal(&stream, MAX_CHUNKS - 1, true, &mut buf, 0).is_ok());
        assert!(matches!(
            seal(&stream, MAX_CHUNKS, true, &mut buf, 0),
            Err(CryptoError::TooManyChunks)
        ));
    }
}
