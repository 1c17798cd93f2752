//! Shared helpers: deterministic keys and plaintexts, one-call encrypt/decrypt, spec vectors.

use std::io::{Read, Write};
use std::path::PathBuf;

use aes_gcm::aead::array::Array;
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use celeriac_crypto::{
    ChunkSize, CryptoError, DecryptReader, EncryptOptions, EncryptWriter, Flags, Key, Keyring,
};

/// Chunk size used by most tests (the smallest allowed, so multi-chunk cases stay small).
pub(crate) const C: usize = 4096;
/// Length of the header with one recipient.
pub(crate) const HEADER_1: usize = 182;

/// A deterministic key.
pub(crate) fn key(n: u8) -> Key {
    Key::from_bytes([n; 32])
}

/// A keyring of deterministic keys.
pub(crate) fn ring(ns: &[u8]) -> Keyring {
    ns.iter().map(|&n| key(n)).collect()
}

/// `len` pseudo-random bytes from `seed` (xorshift; fast enough for megabytes).
pub(crate) fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[3]
        })
        .collect()
}

/// Encrypts `plaintext` to `recipients` with chunk size `2^log2`, in one write.
pub(crate) fn encrypt(recipients: &[&Key], plaintext: &[u8], log2: u8) -> Vec<u8> {
    let options = EncryptOptions::new(uuid::Uuid::now_v7())
        .with_chunk_size(ChunkSize::from_log2(log2).expect("valid chunk size"))
        .with_flags(Flags::TAR_GZIP);
    let mut writer = EncryptWriter::new(Vec::new(), recipients, &options).expect("writer");
    writer.write_all(plaintext).expect("write");
    let (artifact, summary) = writer.finish().expect("finish");
    assert_eq!(summary.total_bytes(), artifact.len() as u64);
    artifact
}

/// Decrypts a whole artifact; header and payload errors both come back as `CryptoError`.
pub(crate) fn decrypt(keyring: &Keyring, artifact: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut reader = DecryptReader::new(artifact, keyring)?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out).map_err(CryptoError::from)?;
    assert!(reader.is_complete(), "Ok(EOF) must mean complete");
    Ok(out)
}

/// The error decrypting `artifact` gives (panics if it decrypts).
pub(crate) fn decrypt_err(keyring: &Keyring, artifact: &[u8]) -> CryptoError {
    match decrypt(keyring, artifact) {
        Ok(plain) => panic!("accepted a bad artifact ({} plaintext bytes)", plain.len()),
        Err(err) => err,
    }
}

/// Path of a file in `tests/vectors`.
pub(crate) fn vector_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name)
}

/// Contents of a file in `tests/vectors`.
pub(crate) fn vector(name: &str) -> Vec<u8> {
    std::fs::read(vector_path(name)).expect("vector file")
}

pub(crate) fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Spec §10.2 derived values, shared by all vectors (same data key, salt and context).
pub(crate) const VECTOR_MAC_KEY: &str =
    "2ecf3deea2c3ba65e9717af89b9abce385e0987b711a716c3cc369f1f418fb50";
const VECTOR_PAYLOAD_KEY: &str = "db193b462262b611e84fa18eed27c054e59ce2e3d383caa9f3706b92982dd4b1";
const VECTOR_NONCE_PREFIX: &str = "8403ffff668c0d";

/// Seals a chunk under the vectors' payload key with a hand-built nonce (for forging
/// authentic-but-misplaced chunks that only a key holder could make).
pub(crate) fn vector_chunk(index: u32, last: bool, plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new_from_slice(&unhex(VECTOR_PAYLOAD_KEY)).expect("key");
    let mut nonce = unhex(VECTOR_NONCE_PREFIX);
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

/// Recomputes the MAC of an edited vector header (`header` includes the old MAC).
pub(crate) fn remac_vector_header(header: &mut [u8]) {
    use hmac::{Hmac, Mac};
    let split = header.len() - 32;
    let mut mac =
        <Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(&unhex(VECTOR_MAC_KEY)).expect("key");
    mac.update(&header[..split]);
    header[split..].copy_from_slice(&mac.finalize().into_bytes());
}
