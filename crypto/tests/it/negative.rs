//! The format's negative cases (spec §5.3): one test per way an artifact can be damaged.

use std::io::Read;

use celeriac_crypto::{CryptoError, DecryptReader, Key, Keyring};

use crate::support::{
    C, HEADER_1, decrypt, decrypt_err, encrypt, key, pattern, remac_vector_header, ring, vector,
    vector_chunk, vector_path,
};

/// An artifact of `full` full chunks plus a final chunk of `tail` bytes (or `full` chunks with
/// the last one final if `tail` is 0), chunk size 4096, key 1.
fn artifact(full: usize, tail: usize) -> Vec<u8> {
    encrypt(&[&key(1)], &pattern(full * C + tail, 77), 12)
}

/// Byte offset of chunk `i` in a one-recipient artifact.
fn chunk_at(i: usize) -> usize {
    HEADER_1 + i * (C + 16)
}

fn err(artifact: &[u8]) -> CryptoError {
    decrypt_err(&ring(&[1]), artifact)
}

fn header_err(artifact: &[u8]) -> CryptoError {
    match DecryptReader::new(artifact, &ring(&[1])) {
        Ok(_) => panic!("header accepted"),
        Err(err) => err,
    }
}

fn with_byte(artifact: &[u8], at: usize, value: u8) -> Vec<u8> {
    let mut out = artifact.to_vec();
    out[at] = value;
    out
}

fn kek_file(name: &str) -> Keyring {
    Keyring::from(Key::from_file(vector_path(&format!("kek-{name}.b64"))).expect("key"))
}

#[test]
fn decrypt_rejects_truncation_at_chunk_boundary() {
    let bytes = artifact(3, 5);
    for (cut, chunks) in [(2, 2u64), (3, 3)] {
        let e = err(&bytes[..chunk_at(cut)]);
        assert!(
            matches!(e, CryptoError::Truncated { chunks: c } if c == chunks),
            "{e:?}"
        );
    }
    // Plaintext of exactly 2C: the final chunk is full; cutting it off leaves chunk 0.
    let bytes = artifact(2, 0);
    let e = err(&bytes[..chunk_at(1)]);
    assert!(matches!(e, CryptoError::Truncated { chunks: 1 }), "{e:?}");
}

#[test]
fn decrypt_rejects_truncation_off_chunk_boundary() {
    let bytes = artifact(3, 5);
    let e = err(&bytes[..chunk_at(1) + 100]);
    assert!(
        matches!(e, CryptoError::ChunkAuthentication { index: 1 }),
        "{e:?}"
    );
    let e = err(&bytes[..bytes.len() - 1]);
    assert!(
        matches!(e, CryptoError::ChunkAuthentication { index: 3 }),
        "{e:?}"
    );
}

#[test]
fn decrypt_rejects_truncation_inside_the_last_tag() {
    let bytes = artifact(3, 5);
    let e = err(&bytes[..chunk_at(3) + 10]);
    assert!(matches!(e, CryptoError::Truncated { chunks: 3 }), "{e:?}");
}

#[test]
fn decrypt_rejects_truncation_right_after_header() {
    let bytes = artifact(1, 1);
    let e = err(&bytes[..HEADER_1]);
    assert!(matches!(e, CryptoError::Truncated { chunks: 0 }), "{e:?}");
}

#[test]
fn decrypt_rejects_truncated_header() {
    let bytes = artifact(0, 10);
    for cut in 0..HEADER_1 {
        let e = header_err(&bytes[..cut]);
        assert!(
            matches!(e, CryptoError::HeaderTruncated),
            "cut {cut}: {e:?}"
        );
    }
}

#[test]
fn decrypt_rejects_swapped_chunks() {
    let bytes = artifact(3, 5);
    let mut swapped = bytes[..chunk_at(0)].to_vec();
    swapped.extend_from_slice(&bytes[chunk_at(1)..chunk_at(2)]);
    swapped.extend_from_slice(&bytes[chunk_at(0)..chunk_at(1)]);
    swapped.extend_from_slice(&bytes[chunk_at(2)..]);
    let e = err(&swapped);
    assert!(
        matches!(e, CryptoError::ChunkAuthentication { index: 0 }),
        "{e:?}"
    );
}

#[test]
fn decrypt_rejects_duplicated_chunk() {
    let bytes = artifact(3, 5);
    let mut dup = bytes[..chunk_at(1)].to_vec();
    dup.extend_from_slice(&bytes[chunk_at(0)..]);
    let e = err(&dup);
    assert!(
        matches!(e, CryptoError::ChunkAuthentication { index: 1 }),
        "{e:?}"
    );
}

#[test]
fn decrypt_rejects_dropped_chunk() {
    let bytes = artifact(3, 5);
    let mut dropped = bytes[..chunk_at(1)].to_vec();
    dropped.extend_from_slice(&bytes[chunk_at(2)..]);
    let e = err(&dropped);
    assert!(
        matches!(e, CryptoError::ChunkAuthentication { index: 1 }),
        "{e:?}"
    );
}

#[test]
fn decrypt_rejects_second_final_chunk() {
    let bytes = artifact(2, 0);
    let mut twice = bytes.clone();
    twice.extend_from_slice(&bytes[chunk_at(1)..]);
    let e = err(&twice);
    assert!(matches!(e, CryptoError::TrailingData { index: 1 }), "{e:?}");
}

#[test]
fn decrypt_rejects_empty_final_chunk_after_the_first() {
    // Forged with the spec vector's payload key: an *authentic* empty final chunk at index 2.
    let multi = vector("multi.cbk");
    let plain = vector("multi.plain");
    let body_end = 261 + 2 * (C + 16);
    let mut genuine = multi[..body_end].to_vec();
    genuine.extend_from_slice(&vector_chunk(2, true, &plain[2 * C..]));
    assert_eq!(
        genuine, multi,
        "hand-sealed chunk must equal the vector's final chunk"
    );

    let mut forged = multi[..body_end].to_vec();
    forged.extend_from_slice(&vector_chunk(2, true, b""));
    let e = decrypt_err(&kek_file("a"), &forged);
    assert!(
        matches!(e, CryptoError::EmptyFinalChunk { index: 2 }),
        "{e:?}"
    );
}

#[test]
fn decrypt_accepts_empty_final_chunk_only_as_the_whole_payload() {
    let bytes = artifact(0, 0);
    assert_eq!(bytes.len(), HEADER_1 + 16);
    assert_eq!(decrypt(&ring(&[1]), &bytes).expect("empty plaintext"), b"");
}

#[test]
fn decrypt_rejects_bit_flips_in_header() {
    let bytes = artifact(1, 3);
    for at in 0..HEADER_1 {
        for bit in 0..8 {
            let flipped = with_byte(&bytes, at, bytes[at] ^ (1 << bit));
            let e = header_err(&flipped);
            let expected = match at {
                0..8 => matches!(e, CryptoError::BadMagic),
                8 => matches!(e, CryptoError::UnsupportedVersion { .. }),
                9 => matches!(e, CryptoError::UnsupportedSuite { .. }),
                14..30 | 90..150 => matches!(e, CryptoError::KeyUnwrap { .. }),
                30..=69 | 150..182 => matches!(e, CryptoError::HeaderMac),
                71..88 => matches!(e, CryptoError::NoMatchingKey { .. }),
                88..90 => matches!(e, CryptoError::MalformedStanza { .. }),
                _ => true, // chunk size, flags, header_len, count: several outcomes, all errors
            };
            assert!(expected, "byte {at} bit {bit}: {e:?}");
            assert!(e.is_corrupt() || matches!(e, CryptoError::NoMatchingKey { .. }));
        }
    }
}

#[test]
fn decrypt_rejects_bit_flips_in_body() {
    let bytes = artifact(2, 50);
    for (index, len) in [(0usize, C), (1, C), (2, 50)] {
        for offset in [0, len / 2, len - 1] {
            let at = chunk_at(index) + offset;
            let e = err(&with_byte(&bytes, at, bytes[at] ^ 0x10));
            assert!(
                matches!(e, CryptoError::ChunkAuthentication { index: i } if i == index as u64),
                "chunk {index} offset {offset}: {e:?}"
            );
        }
    }
}

#[test]
fn decrypt_rejects_bit_flips_in_tag() {
    let bytes = artifact(2, 50);
    for (index, len) in [(0usize, C), (1, C), (2, 50)] {
        for t in 0..16 {
            let at = chunk_at(index) + len + t;
            let e = err(&with_byte(&bytes, at, bytes[at] ^ 0x80));
            assert!(
                matches!(e, CryptoError::ChunkAuthentication { index: i } if i == index as u64),
                "chunk {index} tag byte {t}: {e:?}"
            );
        }
    }
}

#[test]
fn decrypt_rejects_trailing_garbage_after_full_final_chunk() {
    for extra in [1usize, 7, C + 17, 3 * C] {
        let mut bytes = artifact(2, 0);
        bytes.extend(std::iter::repeat_n(0xA5, extra));
        let e = err(&bytes);
        assert!(
            matches!(e, CryptoError::TrailingData { index: 1 }),
            "{extra}: {e:?}"
        );
    }
}

#[test]
fn decrypt_rejects_trailing_garbage_after_short_final_chunk() {
    for extra in [1usize, 16, 1000] {
        let mut bytes = artifact(1, 100);
        bytes.extend(std::iter::repeat_n(0u8, extra));
        let e = err(&bytes);
        assert!(
            matches!(e, CryptoError::ChunkAuthentication { index: 1 }),
            "{e:?}"
        );
    }
    let mut empty = artifact(0, 0);
    empty.push(0);
    let e = err(&empty);
    assert!(
        matches!(e, CryptoError::ChunkAuthentication { index: 0 }),
        "{e:?}"
    );
}

#[test]
fn decrypt_rejects_unknown_version() {
    let bytes = artifact(0, 5);
    for version in [0u8, 2, 255] {
        let e = header_err(&with_byte(&bytes, 8, version));
        assert!(matches!(e, CryptoError::UnsupportedVersion { version: v } if v == version));
    }
}

#[test]
fn decrypt_rejects_unknown_suite() {
    let bytes = artifact(0, 5);
    for suite in [0u8, 2, 255] {
        let e = header_err(&with_byte(&bytes, 9, suite));
        assert!(matches!(e, CryptoError::UnsupportedSuite { suite: s } if s == suite));
    }
}

#[test]
fn decrypt_rejects_unknown_flag_bits() {
    let bytes = artifact(0, 5);
    for bit in 1..8 {
        let flags = bytes[11] | (1 << bit);
        let e = header_err(&with_byte(&bytes, 11, flags));
        assert!(
            matches!(e, CryptoError::UnknownFlags { flags: f } if f == flags),
            "{e:?}"
        );
    }
}

#[test]
fn decrypt_rejects_invalid_chunk_size() {
    let bytes = artifact(0, 5);
    for log2 in [0u8, 11, 21, 64, 255] {
        let e = header_err(&with_byte(&bytes, 10, log2));
        assert!(
            matches!(e, CryptoError::InvalidChunkSize { log2: l } if l == log2),
            "{e:?}"
        );
    }
}

#[test]
fn decrypt_rejects_header_len_out_of_range() {
    let bytes = artifact(0, 5);
    for len in [0u16, 14, 181, 4097, u16::MAX] {
        let mut edited = bytes.clone();
        edited[12..14].copy_from_slice(&len.to_be_bytes());
        let e = header_err(&edited);
        assert!(
            matches!(e, CryptoError::HeaderLength { len: l } if l == len),
            "{e:?}"
        );
    }
    // In range but not matching the stanzas: they no longer fill the header exactly.
    let mut edited = bytes.clone();
    edited[12..14].copy_from_slice(&183u16.to_be_bytes());
    let e = header_err(&edited);
    assert!(
        matches!(e, CryptoError::MalformedStanza { index: 1 }),
        "{e:?}"
    );
}

#[test]
fn decrypt_rejects_zero_stanzas() {
    let e = header_err(&with_byte(&artifact(0, 5), 70, 0));
    assert!(matches!(e, CryptoError::NoStanzas), "{e:?}");
}

#[test]
fn decrypt_rejects_too_many_stanzas() {
    let e = header_err(&with_byte(&artifact(0, 5), 70, 9));
    assert!(
        matches!(e, CryptoError::TooManyStanzas { count: 9 }),
        "{e:?}"
    );
}

#[test]
fn decrypt_rejects_malformed_stanza() {
    let bytes = artifact(0, 5);
    for body_len in [0u16, 59, 61, 200] {
        let mut edited = bytes.clone();
        edited[88..90].copy_from_slice(&body_len.to_be_bytes());
        let e = header_err(&edited);
        assert!(
            matches!(e, CryptoError::MalformedStanza { index: 0 }),
            "{e:?}"
        );
    }
    let e = header_err(&with_byte(&bytes, 70, 2));
    assert!(
        matches!(e, CryptoError::MalformedStanza { index: 1 }),
        "{e:?}"
    );
}

#[test]
fn decrypt_rejects_duplicate_key_id() {
    let mut multi = vector("multi.cbk");
    let id_a = multi[72..88].to_vec();
    multi[151..167].copy_from_slice(&id_a);
    let e = header_err(&multi);
    assert!(matches!(e, CryptoError::DuplicateKeyId { .. }), "{e:?}");
}

#[test]
fn decrypt_rejects_wrong_key() {
    let bytes = artifact(1, 1);
    match decrypt_err(&ring(&[2, 3]), &bytes) {
        CryptoError::NoMatchingKey { wanted } => assert_eq!(wanted, [key(1).id()]),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        decrypt_err(&Keyring::new(), &bytes),
        CryptoError::NoMatchingKey { .. }
    ));
}

#[test]
fn decrypt_rejects_damaged_stanza() {
    let bytes = artifact(1, 1);
    let e = header_err(&with_byte(&bytes, 120, bytes[120] ^ 1));
    assert!(matches!(e, CryptoError::KeyUnwrap { key_id } if key_id == key(1).id()));
}

#[test]
fn decrypt_rejects_bad_header_mac() {
    let bytes = artifact(1, 1);
    let e = header_err(&with_byte(&bytes, HEADER_1 - 1, bytes[HEADER_1 - 1] ^ 1));
    assert!(matches!(e, CryptoError::HeaderMac), "{e:?}");
}

#[test]
fn unknown_stanza_types_are_skipped_but_authenticated() {
    let multi = vector("multi.cbk");
    let plain = vector("multi.plain");
    // Stanza B (at 150) becomes an unknown type; re-MAC with the vector's mac_key.
    let mut edited = multi.clone();
    edited[150] = 0x7f;
    remac_vector_header(&mut edited[..261]);
    assert_eq!(
        decrypt(&kek_file("a"), &edited).expect("stanza A still opens"),
        plain
    );
    let e = decrypt_err(&kek_file("b"), &edited);
    assert!(
        matches!(&e, CryptoError::NoMatchingKey { wanted } if wanted.len() == 1),
        "{e:?}"
    );
    // Stanza A becomes the reserved type 2: key B opens it.
    let mut edited = multi.clone();
    edited[71] = 0x02;
    remac_vector_header(&mut edited[..261]);
    assert_eq!(
        decrypt(&kek_file("b"), &edited).expect("stanza B opens"),
        plain
    );
    // Without the re-MAC the change is caught.
    let mut edited = multi;
    edited[150] = 0x7f;
    let e = decrypt_err(&kek_file("a"), &edited);
    assert!(matches!(e, CryptoError::HeaderMac), "{e:?}");
}

#[test]
fn reader_stays_failed_after_an_error() {
    let bytes = artifact(3, 5);
    let mut damaged = bytes.clone();
    damaged[chunk_at(1) + 3] ^= 1;
    let mut reader = DecryptReader::new(damaged.as_slice(), &ring(&[1])).expect("header");
    let mut buf = vec![0u8; C];
    reader.read_exact(&mut buf).expect("chunk 0 is fine");
    let first = reader.read(&mut buf).expect_err("chunk 1 is damaged");
    assert!(matches!(
        CryptoError::from_io(&first),
        Some(CryptoError::ChunkAuthentication { index: 1 })
    ));
    assert_eq!(first.kind(), std::io::ErrorKind::InvalidData);
    let again = reader.read(&mut buf).expect_err("still failed");
    assert!(matches!(
        CryptoError::from_io(&again),
        Some(CryptoError::Poisoned)
    ));
    assert!(!reader.is_complete());
}
