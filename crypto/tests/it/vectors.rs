//! The committed spec vectors (written by the independent Python generator) read back in Rust.

use celeriac_crypto::{ChunkSize, Flags, Header, Key, Keyring, StanzaKind};

use crate::support::{decrypt, vector, vector_path};

fn kek(name: &str) -> Key {
    Key::from_file(vector_path(&format!("kek-{name}.b64"))).expect("vector key file")
}

#[test]
fn reader_decrypts_every_spec_vector() {
    for name in ["small", "multi", "empty"] {
        let plain = decrypt(&Keyring::from(kek("a")), &vector(&format!("{name}.cbk")))
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(plain, vector(&format!("{name}.plain")), "{name}");
    }
    let plain = decrypt(&Keyring::from(kek("b")), &vector("multi.cbk")).expect("second recipient");
    assert_eq!(plain, vector("multi.plain"));
}

#[test]
fn vector_key_file_has_the_spec_key_id() {
    assert_eq!(
        kek("a").id().to_string(),
        "0917eda7e87127797636198b148981eb"
    );
}

#[test]
fn header_is_readable_without_a_key() {
    let bytes = vector("multi.cbk");
    let mut input = bytes.as_slice();
    let header = Header::read_from(&mut input).expect("header");
    assert_eq!(header.len(), 261);
    assert_eq!(
        input.len(),
        bytes.len() - 261,
        "read_from consumes exactly the header"
    );
    assert_eq!(header.as_bytes(), &bytes[..261]);
    assert_eq!(
        header.key_ids().collect::<Vec<_>>(),
        [kek("a").id(), kek("b").id()]
    );
    assert!(
        header
            .stanzas()
            .iter()
            .all(|s| s.kind() == StanzaKind::KekAes256Gcm)
    );
    assert_eq!(
        header.archive_id().to_string(),
        "0191e0a2-7c3a-7cde-8f00-0123456789ab"
    );
    assert_eq!(header.created_unix(), 1_767_225_600);
    assert_eq!(
        header.chunk_size(),
        ChunkSize::from_log2(12).expect("valid")
    );
    assert_eq!(header.flags(), Flags::TAR_GZIP);
}
