//! `celeriac keygen`: a new owner-only key file, its id printed and nothing else, no overwrite.

use std::os::unix::fs::PermissionsExt;

use base64::Engine;

use crate::run::{celeriac, keygen, output, stderr, stdout};

#[test]
fn keygen_writes_an_owner_only_key_and_prints_only_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("main.key");
    let id = keygen(&path);

    assert_eq!(id.len(), 32, "a key id is 32 hex digits: {id:?}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    let text = std::fs::read_to_string(&path).unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap();
    assert_eq!(bytes.len(), 32);
    let key = celeriac_crypto::Key::from_file(&path).unwrap();
    assert_eq!(
        key.id().to_string(),
        id,
        "the printed id is the file's key id"
    );
    assert!(!id.contains(text.trim()), "the key itself is not printed");
}

#[test]
fn keygen_refuses_to_overwrite_and_two_keys_differ() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    let first = keygen(&path);
    let before = std::fs::read(&path).unwrap();

    let out = output(celeriac().arg("keygen").arg("--out").arg(&path));
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the old key is untouched"
    );

    let second = keygen(&dir.path().join("other"));
    assert_ne!(first, second);
}

#[test]
fn usage_errors_exit_64() {
    let out = output(celeriac().arg("keygen"));
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("--out"));
    let help = output(celeriac().args(["keygen", "--help"]));
    assert_eq!(help.status.code(), Some(0));
    assert!(stdout(&help).contains("0600"));
}
