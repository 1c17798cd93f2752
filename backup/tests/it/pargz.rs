//! The parallel gzip writer: arbitrary sizes around block boundaries decompress to the input
//! with flate2's single-member `GzDecoder` and with `gzip -dc`.

use std::io::{Read, Write};
use std::num::NonZeroUsize;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, ensure};
use celeriac_backup::internals::GzipOptions;
use celeriac_backup::internals::ParGzWriter;
use proptest::prelude::*;

const BLOCK: usize = 32 * 1024;

fn compress(data: &[u8], threads: usize, write_size: usize) -> Result<Vec<u8>> {
    let opts = GzipOptions {
        threads: NonZeroUsize::new(threads).context("threads")?,
        block_size: BLOCK,
        max_in_flight: NonZeroUsize::new(2).context("in flight")?,
        ..GzipOptions::default()
    };
    let mut w = ParGzWriter::new(Vec::new(), &opts)?;
    for chunk in data.chunks(write_size.max(1)) {
        w.write_all(chunk)?;
    }
    let (out, summary) = w.finish()?;
    ensure!(summary.in_bytes == data.len() as u64 && summary.crc32 == crc32fast::hash(data));
    Ok(out)
}

fn gzip_dc(data: &[u8]) -> Result<Vec<u8>> {
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output()?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writer panicked"))??;
    ensure!(out.status.success(), "gzip -dc failed");
    Ok(out.stdout)
}

fn data(size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..size)
        .map(|i| {
            x ^= x << 7;
            x ^= x >> 9;
            if (i / 1000) % 3 == 0 {
                x.to_le_bytes()[0]
            } else {
                b"worker_processes auto;\n"[i % 23]
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn output_decompresses_to_the_input(
        blocks in 0usize..5,
        delta in -3isize..=3,
        threads in 1usize..4,
        write_size in prop::sample::select(vec![1usize, 4096, 65_536, 1 << 20]),
        seed in any::<u64>(),
    ) {
        let size = (blocks * BLOCK).saturating_add_signed(delta);
        let input = data(size, seed);
        let result: Result<()> = (|| {
            let gz = compress(&input, threads, write_size)?;
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(gz.as_slice()).read_to_end(&mut plain)?;
            ensure!(plain == input, "GzDecoder mismatch");
            ensure!(gzip_dc(&gz)? == input, "gzip -dc mismatch");
            Ok(())
        })();
        prop_assert!(result.is_ok(), "size {size}: {:?}", result.err());
    }
}

#[test]
fn large_input_with_many_blocks_in_flight() -> Result<()> {
    let input = data(3 << 20, 42);
    let gz = compress(&input, 2, 100_000)?;
    ensure!(gzip_dc(&gz)? == input);
    Ok(())
}
