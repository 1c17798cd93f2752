//! `MANIFEST.json` is parsed while it streams out of the decrypting reader: a decryption failure
//! in the middle of it must still surface as the input's failure (which the deep check and
//! restore name a decryption error), never as a manifest that is not valid JSON.

use std::io::Write as _;

use anyhow::{Context as _, Result, bail, ensure};
use celeriac_backup::Bundle;
use celeriac_backup::internals::ExtractError;
use celeriac_backup::internals::Limits;
use celeriac_backup::internals::{ExtractOptions, dry_run, list};
use celeriac_crypto::{
    ChunkSize, CryptoError, DecryptReader, EncryptOptions, EncryptWriter, Header, Key, Keyring,
};

use crate::fixture::{archive, collect_dir};

const CHUNK: usize = 4096;

/// A tree of 600 small files: its manifest compresses to several 4 KiB chunks.
fn many_files() -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("k8s"))?;
    for i in 0..600 {
        let path = dir.path().join(format!("k8s/app-{i:04}.yaml"));
        std::fs::write(path, format!("replicas: {i}\n"))?;
    }
    Ok(dir)
}

fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(data)?;
    Ok(gz.finish()?)
}

fn seal(plain: &[u8], key: &Key) -> Result<Vec<u8>> {
    let options = EncryptOptions::new(uuid::Uuid::nil()).with_chunk_size(ChunkSize::from_log2(12)?);
    let mut writer = EncryptWriter::new(Vec::new(), &[key], &options)?;
    writer.write_all(plain)?;
    Ok(writer.finish()?.0)
}

fn is_decryption_failure(e: &ExtractError) -> bool {
    matches!(e, ExtractError::Source { source } if CryptoError::from_io(source).is_some())
}

#[test]
fn a_decryption_failure_inside_the_manifest_is_not_bad_json() -> Result<()> {
    let dir = many_files()?;
    let c = collect_dir(dir.path())?;
    let manifest_gz = gzip(&c.manifest(Bundle::Main).to_json())?;
    ensure!(
        manifest_gz.len() > 3 * CHUNK,
        "the manifest must span the corrupted chunk ({} bytes)",
        manifest_gz.len()
    );
    let key = Key::from_bytes([7; 32]);
    let keyring = Keyring::from(Key::from_bytes([7; 32]));
    let good = seal(&archive(&c, Bundle::Main)?, &key)?;
    let summary = dry_run(
        DecryptReader::new(good.as_slice(), &keyring)?,
        &ExtractOptions::default(),
    )?;
    ensure!(summary.manifest.len() == c.main.len());

    // One flipped byte in the third chunk, which only holds manifest bytes.
    let header_len = Header::read_from(&mut good.as_slice())?.len();
    let mut bad = good.clone();
    bad[header_len + 2 * (CHUNK + 16) + 100] ^= 1;
    let refused = dry_run(
        DecryptReader::new(bad.as_slice(), &keyring)?,
        &ExtractOptions::default(),
    )
    .err()
    .context("a corrupt chunk must be refused")?;
    ensure!(is_decryption_failure(&refused), "{refused:?}");
    let listed = list(
        DecryptReader::new(bad.as_slice(), &keyring)?,
        &Limits::default(),
    )
    .err()
    .context("a corrupt chunk must be refused")?;
    ensure!(is_decryption_failure(&listed), "{listed:?}");

    // Cut inside the manifest: the tar is short, which is not a JSON problem either.
    let plain = archive(&c, Bundle::Main)?;
    let cut = &plain[..manifest_gz.len() / 2];
    match dry_run(cut, &ExtractOptions::default()) {
        Err(ExtractError::Gzip { .. } | ExtractError::Tar { .. }) => Ok(()),
        other => bail!("{other:?}"),
    }
}
