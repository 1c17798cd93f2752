//! Encrypt/decrypt throughput of `EncryptWriter` / `DecryptReader` on one core.
//!
//! Run with `cargo run --release -p celeriac-crypto --example throughput [MiB] [chunk_log2]`
//! (defaults: 256 MiB, 64 KiB chunks). For comparison, gzip -9 manages about 40 MB/s per core,
//! so the crypto stage should be far from the bottleneck. A benchmark script, not a test.

use std::io::{self, Read, Write};
use std::time::Instant;

use anyhow::Context;
use celeriac_crypto::{ChunkSize, DecryptReader, EncryptOptions, EncryptWriter, Key, Keyring};

/// A writer that only counts, so the measurement is the crypto and not the memory system.
struct Counting(u64);

impl Write for Counting {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0 += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[allow(clippy::cast_precision_loss, reason = "throughput figures for humans")]
fn mb_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().map_or(Ok(256), |a| a.parse()).context("MiB")?;
    let log2: u8 = args
        .next()
        .map_or(Ok(16), |a| a.parse())
        .context("chunk_log2")?;
    let chunk_size = ChunkSize::from_log2(log2)?;
    let block: Vec<u8> = (0..1 << 20)
        .map(|i: u32| i.wrapping_mul(2_654_435_761).to_le_bytes()[2])
        .collect();
    let total = (mib as u64) << 20;
    let key = Key::generate()?;
    let options = EncryptOptions::new(uuid::Uuid::now_v7()).with_chunk_size(chunk_size);

    // Encrypt into a counting sink (1 MiB writes, as a gzip stage upstream would produce).
    let start = Instant::now();
    let mut writer = EncryptWriter::new(Counting(0), &[&key], &options)?;
    for _ in 0..mib {
        writer.write_all(&block)?;
    }
    let (sink, summary) = writer.finish()?;
    let encrypt_s = start.elapsed().as_secs_f64();
    assert_eq!(sink.0, summary.total_bytes());

    // Decrypt from memory: encrypt once more into a buffer (not timed), then read it back.
    let mut writer = EncryptWriter::new(
        Vec::with_capacity(usize::try_from(summary.total_bytes())?),
        &[&key],
        &options,
    )?;
    for _ in 0..mib {
        writer.write_all(&block)?;
    }
    let (artifact, _) = writer.finish()?;
    let keyring = Keyring::from(key);
    let start = Instant::now();
    let mut reader = DecryptReader::new(artifact.as_slice(), &keyring)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut plain = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        plain += n as u64;
    }
    let decrypt_s = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        plain == total && reader.is_complete(),
        "decrypted {plain} of {total}"
    );

    println!(
        "{mib} MiB, {} KiB chunks, {} chunks: encrypt {:.0} MB/s ({encrypt_s:.3} s), decrypt {:.0} MB/s ({decrypt_s:.3} s)",
        chunk_size.bytes() >> 10,
        summary.chunks,
        mb_per_s(total, encrypt_s),
        mb_per_s(total, decrypt_s),
    );
    Ok(())
}
