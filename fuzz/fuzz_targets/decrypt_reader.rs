//! Fuzz `celeriac_crypto::DecryptReader` (and through it `Header::read_from`).
//!
//! Input byte 0 picks a mode:
//! - even: the rest is an artifact; decrypting it must never panic, and `Ok` must mean complete;
//! - odd: the rest is a list of 4-byte edits (op, position, value) applied to a valid 3-chunk
//!   artifact; the edited artifact must decrypt to the original plaintext if and only if it is
//!   byte-for-byte the original, and must be rejected otherwise.

#![no_main]

use std::io::{Read, Write};
use std::sync::OnceLock;

use celeriac_crypto::{ChunkSize, DecryptReader, EncryptOptions, EncryptWriter, Key, Keyring};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    keyring: Keyring,
    plaintext: Vec<u8>,
    artifact: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // Two recipients so stanza selection is exercised; the keyring holds the second.
        let (a, b) = (Key::from_bytes([7; 32]), Key::from_bytes([8; 32]));
        let plaintext: Vec<u8> = (0..2 * 4096 + 100u32).map(|i| (i % 253) as u8).collect();
        let options = EncryptOptions::new(uuid::Uuid::nil())
            .with_created_unix(0)
            .with_chunk_size(ChunkSize::from_log2(12).expect("valid"));
        let mut writer = EncryptWriter::new(Vec::new(), &[&a, &b], &options).expect("writer");
        writer.write_all(&plaintext).expect("write");
        let artifact = writer.finish().expect("finish").0;
        Fixture {
            keyring: Keyring::from(b),
            plaintext,
            artifact,
        }
    })
}

/// Decrypts everything; `Some(plaintext)` only for a complete, authenticated artifact.
fn decrypt(keyring: &Keyring, artifact: &[u8]) -> Option<Vec<u8>> {
    let mut reader = DecryptReader::new(artifact, keyring).ok()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 1000];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => {
                assert!(reader.is_complete(), "EOF without completion");
                return Some(out);
            }
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(err) => {
                assert!(
                    celeriac_crypto::CryptoError::from_io(&err).is_some(),
                    "untyped error from an in-memory reader: {err}"
                );
                assert!(reader.read(&mut buf).is_err(), "reader must stay failed");
                return None;
            }
        }
    }
}

fn apply(artifact: &mut Vec<u8>, edits: &[u8]) {
    for edit in edits.chunks_exact(4) {
        let len = artifact.len().max(1);
        let at = usize::from(u16::from_be_bytes([edit[1], edit[2]])) * 7 % len;
        match edit[0] % 5 {
            0 => {
                if let Some(byte) = artifact.get_mut(at) {
                    *byte ^= edit[3];
                }
            }
            1 => artifact.truncate(at),
            2 => artifact.insert(at.min(artifact.len()), edit[3]),
            3 => {
                if at < artifact.len() {
                    artifact.remove(at);
                }
            }
            _ => artifact.extend(std::iter::repeat_n(edit[3], usize::from(edit[3] % 40) + 1)),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let fixture = fixture();
    if mode % 2 == 0 {
        let _ = decrypt(&fixture.keyring, rest);
        return;
    }
    let mut edited = fixture.artifact.clone();
    apply(&mut edited, rest);
    let result = decrypt(&fixture.keyring, &edited);
    if edited == fixture.artifact {
        assert_eq!(
            result.as_deref(),
            Some(fixture.plaintext.as_slice()),
            "original rejected"
        );
    } else {
        assert!(result.is_none(), "accepted a modified artifact");
    }
});
