//! The independent Python decryptor (`crypto/python/celeriac_decrypt.py`, written from the spec)
//! against artifacts from our writer. Python 3 with `cryptography` is required: without it these
//! tests fail, they do not skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use celeriac_crypto::Key;

use crate::support::{C, HEADER_1, encrypt, key, pattern, vector, vector_path};

/// The interpreter: `CELERIAC_TEST_PYTHON` (as `scripts/test` exports it) or `python3`; fails the
/// test with instructions if it is missing or cannot import `cryptography`.
fn python() -> PathBuf {
    static CHECKED: OnceLock<PathBuf> = OnceLock::new();
    CHECKED.get_or_init(find_python).clone()
}

fn find_python() -> PathBuf {
    let interpreter = std::env::var_os("CELERIAC_TEST_PYTHON")
        .map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let probe = Command::new(&interpreter)
        .args(["-c", "import cryptography"])
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run {} ({err}): the Python decryptor tests need python3 with the \
                 `cryptography` package (install python3, or set CELERIAC_TEST_PYTHON)",
                interpreter.display()
            )
        });
    assert!(
        probe.status.success(),
        "{} cannot import the `cryptography` module (pip install cryptography, or run \
         scripts/test): {}",
        interpreter.display(),
        String::from_utf8_lossy(&probe.stderr)
    );
    interpreter
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/celeriac_decrypt.py")
}

/// Runs the decryptor on `artifact` (written to a temp file) with output on stdout.
fn run(key_file: &Path, artifact: &[u8]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("in.cbk");
    std::fs::write(&input, artifact).expect("write artifact");
    Command::new(python())
        .arg(script())
        .arg("--key-file")
        .arg(key_file)
        .arg(&input)
        .output()
        .expect("run the decryptor")
}

struct KeyFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn key_file(key: &Key) -> KeyFile {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("backup.key");
    key.write_new_file(&path).expect("key file");
    KeyFile { _dir: dir, path }
}

fn assert_rejected(output: &Output, what: &str) {
    assert!(
        !output.status.success(),
        "python accepted a {what} artifact"
    );
    assert_eq!(output.status.code(), Some(1), "{what}: exit status");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("celeriac_decrypt: error:"),
        "{what}: {stderr}"
    );
}

#[test]
fn python_decrypts_rust_artifacts_byte_for_byte() {
    let k1 = key(1);
    let k2 = key(2);
    let f1 = key_file(&k1);
    let f2 = key_file(&k2);
    for size in [0, 1, C - 1, C, C + 1, 2 * C, 3 * C + 7] {
        let plain = pattern(size, size as u64);
        let artifact = encrypt(&[&k1, &k2], &plain, 12);
        for file in [&f1, &f2] {
            let out = run(&file.path, &artifact);
            assert!(
                out.status.success(),
                "size {size}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.stdout == plain, "size {size}: plaintext differs");
        }
    }
}

#[test]
fn python_decrypts_default_chunk_size_to_an_output_file() {
    let k = key(3);
    let f = key_file(&k);
    let plain = pattern(1024 * 1024 + 3, 11);
    let artifact = encrypt(&[&k], &plain, 16);
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("in.cbk");
    let output = dir.path().join("out.tar.gz");
    std::fs::write(&input, &artifact).expect("write");
    let out = Command::new(python())
        .arg(script())
        .args(["--key-file".as_ref(), f.path.as_os_str(), input.as_os_str()])
        .arg("-o")
        .arg(&output)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&output).expect("output") == plain);
}

#[test]
fn python_decrypts_the_spec_vectors() {
    for (name, kek) in [
        ("small", "a"),
        ("multi", "a"),
        ("multi", "b"),
        ("empty", "a"),
    ] {
        let out = run(
            &vector_path(&format!("kek-{kek}.b64")),
            &vector(&format!("{name}.cbk")),
        );
        assert!(
            out.status.success(),
            "{name}/{kek}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, vector(&format!("{name}.plain")), "{name}/{kek}");
    }
}

#[test]
fn python_rejects_truncated_artifacts_and_leaves_no_output() {
    let k = key(4);
    let f = key_file(&k);
    let artifact = encrypt(&[&k], &pattern(3 * C + 5, 1), 12);
    let boundary = HEADER_1 + 2 * (C + 16);
    for (cut, what) in [
        (boundary, "cut at a chunk boundary"),
        (boundary + 99, "cut inside a chunk"),
        (artifact.len() - 1, "cut by one byte"),
        (HEADER_1, "header-only"),
        (100, "cut inside the header"),
    ] {
        assert_rejected(&run(&f.path, &artifact[..cut]), what);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("in.cbk");
    let output = dir.path().join("out");
    std::fs::write(&input, &artifact[..boundary]).expect("write");
    let out = Command::new(python())
        .arg(script())
        .arg("--key-file")
        .arg(&f.path)
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .output()
        .expect("run");
    assert_rejected(&out, "truncated (-o)");
    assert!(!output.exists(), "no output file after a failure");
    assert!(
        !dir.path().join("out.partial").exists(),
        "no partial file after a failure"
    );
}

#[test]
fn python_rejects_bit_flipped_artifacts() {
    let k = key(5);
    let f = key_file(&k);
    let artifact = encrypt(&[&k], &pattern(2 * C + 9, 2), 12);
    for (at, what) in [
        (8, "version"),
        (40, "salt"),
        (80, "key id"),
        (120, "wrapped key"),
        (HEADER_1 - 1, "header MAC"),
        (HEADER_1 + 5, "first chunk body"),
        (HEADER_1 + C + 3, "first chunk tag"),
        (artifact.len() - 1, "final chunk tag"),
    ] {
        let mut flipped = artifact.clone();
        flipped[at] ^= 0x01;
        assert_rejected(&run(&f.path, &flipped), what);
    }
}

#[test]
fn python_rejects_trailing_bytes_and_wrong_keys() {
    let k = key(6);
    let f = key_file(&k);
    for plain_len in [2 * C, 2 * C + 9] {
        let mut artifact = encrypt(&[&k], &pattern(plain_len, 3), 12);
        artifact.extend_from_slice(b"garbage");
        assert_rejected(&run(&f.path, &artifact), "trailing bytes");
    }
    let artifact = encrypt(&[&k], b"secret", 12);
    let other = key_file(&key(7));
    assert_rejected(&run(&other.path, &artifact), "wrong key");
}
