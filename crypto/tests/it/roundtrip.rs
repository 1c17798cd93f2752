//! Round trips: every size around the chunk boundaries, several chunk sizes and recipients,
//! odd write and read sizes; plus rotation (re-wrap) and the recipient rules.

use std::io::{Read, Write};

use celeriac_crypto::{
    ChunkSize, CryptoError, DecryptReader, EncryptOptions, EncryptWriter, Header, Key, Keyring,
};
use proptest::prelude::*;

use crate::support::{C, HEADER_1, decrypt, decrypt_err, encrypt, key, pattern, ring};

/// Expected artifact size: header + plaintext + one tag per chunk (at least one chunk).
fn expected_len(header: usize, plain: usize, chunk: usize) -> usize {
    header + plain + 16 * plain.div_ceil(chunk).max(1)
}

fn boundary_sizes(c: usize) -> [usize; 7] {
    [0, 1, c - 1, c, c + 1, 2 * c, 2 * c + 1]
}

#[test]
fn every_chunk_size_round_trips_every_boundary_size() {
    for log2 in ChunkSize::MIN_LOG2..=ChunkSize::MAX_LOG2 {
        let c = 1usize << log2;
        for size in boundary_sizes(c) {
            let plain = pattern(size, u64::from(log2) << 32 | size as u64);
            let artifact = encrypt(&[&key(1)], &plain, log2);
            assert_eq!(
                artifact.len(),
                expected_len(HEADER_1, size, c),
                "2^{log2} {size}"
            );
            assert_eq!(decrypt(&ring(&[1]), &artifact).expect("decrypts"), plain);
        }
    }
}

fn case() -> impl Strategy<Value = (u8, usize, usize, usize, usize, u64)> {
    (prop::sample::select(vec![12u8, 13, 16]), 1usize..=3).prop_flat_map(|(log2, recipients)| {
        let c = 1usize << log2;
        let size = prop_oneof![
            prop::sample::select(boundary_sizes(c).to_vec()),
            0..=3 * c + 7,
        ];
        (
            Just(log2),
            Just(recipients),
            size,
            1..=2 * c + 3,
            1..=2 * c + 3,
            any::<u64>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Written in pieces of `write_piece` bytes, read back with a `read_buf`-byte buffer, with
    /// every recipient alone.
    #[test]
    fn round_trip_around_chunk_boundaries(
        (log2, recipients, size, write_piece, read_buf, seed) in case()
    ) {
        let keys: Vec<Key> = (1..=recipients).map(|n| key(u8::try_from(n).expect("small"))).collect();
        let refs: Vec<&Key> = keys.iter().collect();
        let plain = pattern(size, seed);
        let options = EncryptOptions::new(uuid::Uuid::now_v7())
            .with_chunk_size(ChunkSize::from_log2(log2).expect("valid"));
        let mut writer = EncryptWriter::new(Vec::new(), &refs, &options).expect("writer");
        for piece in plain.chunks(write_piece) {
            writer.write_all(piece).expect("write");
        }
        let (artifact, summary) = writer.finish().expect("finish");
        let c = 1usize << log2;
        let header = 71 + 79 * recipients + 32;
        prop_assert_eq!(artifact.len(), expected_len(header, size, c));
        prop_assert_eq!(summary.chunks, size.div_ceil(c).max(1) as u64);
        prop_assert_eq!(summary.plaintext_bytes, size as u64);
        prop_assert_eq!(summary.header_bytes, header as u64);
        prop_assert_eq!(&summary.key_ids, &keys.iter().map(Key::id).collect::<Vec<_>>());

        for n in 1..=recipients {
            let keyring = ring(&[u8::try_from(n).expect("small")]);
            let mut reader = DecryptReader::new(artifact.as_slice(), &keyring).expect("header");
            let mut out = Vec::with_capacity(size);
            let mut buf = vec![0u8; read_buf];
            loop {
                let got = reader.read(&mut buf).expect("read");
                if got == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..got]);
            }
            prop_assert!(reader.is_complete());
            prop_assert_eq!(reader.plaintext_bytes(), size as u64);
            prop_assert!(out == plain, "plaintext differs for recipient {}", n);
        }
    }
}

#[test]
fn writer_dropped_without_finish_is_rejected() {
    for (written, sealed) in [(0usize, 0usize), (1, 0), (C, 0), (2 * C, 1), (3 * C + 5, 3)] {
        let mut artifact = Vec::new();
        {
            let options = EncryptOptions::new(uuid::Uuid::now_v7())
                .with_chunk_size(ChunkSize::from_log2(12).expect("valid"));
            let mut writer =
                EncryptWriter::new(&mut artifact, &[&key(1)], &options).expect("writer");
            writer.write_all(&pattern(written, 9)).expect("write");
            writer.flush().expect("flush");
            // dropped here, without finish()
        }
        assert_eq!(artifact.len(), HEADER_1 + sealed * (C + 16));
        let err = decrypt_err(&ring(&[1]), &artifact);
        assert!(
            matches!(err, CryptoError::Truncated { chunks } if chunks == sealed as u64),
            "{written} bytes written: {err:?}"
        );
    }
}

#[test]
fn rewrap_moves_an_artifact_to_new_keys_without_touching_the_payload() {
    let plain = pattern(3 * C + 11, 4);
    let artifact = encrypt(&[&key(1)], &plain, 12);
    let mut input = artifact.as_slice();
    let old = Header::read_from(&mut input).expect("header");
    let payload = input;

    let new = old
        .rewrap(&ring(&[1]), &[&key(2), &key(3)])
        .expect("rewrap");
    assert_eq!(new.archive_id(), old.archive_id());
    assert_eq!(new.created_unix(), old.created_unix());
    assert_eq!(
        new.key_ids().collect::<Vec<_>>(),
        [key(2).id(), key(3).id()]
    );
    let mut rewrapped = new.as_bytes().to_vec();
    rewrapped.extend_from_slice(payload);

    assert_eq!(decrypt(&ring(&[2]), &rewrapped).expect("key 2"), plain);
    assert_eq!(decrypt(&ring(&[3]), &rewrapped).expect("key 3"), plain);
    assert!(matches!(
        decrypt_err(&ring(&[1]), &rewrapped),
        CryptoError::NoMatchingKey { .. }
    ));
    assert!(matches!(
        old.rewrap(&ring(&[9]), &[&key(2)]),
        Err(CryptoError::NoMatchingKey { .. })
    ));
}

#[test]
fn keyring_with_old_and_unrelated_keys_opens_by_key_id() {
    let plain = pattern(C + 3, 5);
    let artifact = encrypt(&[&key(7)], &plain, 12);
    let keyring: Keyring = [key(1), key(2), key(7), key(8)].into_iter().collect();
    assert_eq!(decrypt(&keyring, &artifact).expect("found by id"), plain);
}

#[test]
fn recipient_list_rules() {
    let options = EncryptOptions::new(uuid::Uuid::now_v7());
    let nine: Vec<Key> = (1..=9).map(key).collect();
    let nine: Vec<&Key> = nine.iter().collect();
    assert!(matches!(
        EncryptWriter::new(Vec::new(), &[], &options),
        Err(CryptoError::NoRecipients)
    ));
    assert!(matches!(
        EncryptWriter::new(Vec::new(), &nine, &options),
        Err(CryptoError::TooManyRecipients { count: 9 })
    ));
    let eight = encrypt(&nine[..8], b"eight", 12);
    assert_eq!(
        decrypt(&ring(&[8]), &eight).expect("8 recipients"),
        b"eight"
    );
    assert_eq!(eight.len(), 71 + 8 * 79 + 32 + 5 + 16);
    let (a, b) = (key(1), key(1));
    let err = EncryptWriter::new(Vec::new(), &[&a, &b], &options).err();
    assert!(matches!(err, Some(CryptoError::DuplicateRecipient { .. })));
}

#[test]
fn large_default_chunk_round_trip() {
    let plain = pattern(5 * 65536 + 123, 6);
    let options = EncryptOptions::new(uuid::Uuid::now_v7());
    let mut writer = EncryptWriter::new(Vec::new(), &[&key(1)], &options).expect("writer");
    writer.write_all(&plain).expect("write");
    let (artifact, summary) = writer.finish().expect("finish");
    assert_eq!(summary.chunks, 6);
    let mut reader = DecryptReader::new(artifact.as_slice(), &ring(&[1])).expect("header");
    assert_eq!(reader.header().chunk_size(), ChunkSize::DEFAULT);
    let mut out = Vec::new();
    reader.read_to_end(&mut out).expect("read");
    assert_eq!(out, plain);
    assert_eq!(reader.chunks_read(), 6);
}

#[test]
fn debug_output_shows_progress_but_no_secrets() {
    let secret = b"SUPERSECRETVALUE";
    let key = Key::from_bytes([0x5A; 32]);
    let options = EncryptOptions::new(uuid::Uuid::now_v7());
    let mut writer = EncryptWriter::new(Vec::new(), &[&key], &options).expect("writer");
    writer.write_all(secret).expect("write");
    let shown = format!("{writer:?} {key:?}");
    assert!(shown.contains("plaintext_bytes: 16"), "{shown}");
    assert!(!shown.contains("SUPERSECRET"), "{shown}");
    assert!(!shown.contains("90, 90, 90"), "{shown}"); // 0x5A key bytes
    let (artifact, _) = writer.finish().expect("finish");

    let keyring = Keyring::from(key);
    let mut reader = DecryptReader::new(artifact.as_slice(), &keyring).expect("header");
    let mut out = [0u8; 4];
    reader.read_exact(&mut out).expect("read");
    let shown = format!("{reader:?} {keyring:?}");
    assert!(shown.contains("chunks_read: 1"), "{shown}");
    assert!(
        !shown.contains("SUPERSECRET") && !shown.contains("90, 90, 90"),
        "{shown}"
    );
}
