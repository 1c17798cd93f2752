//! Benchmark (a script, not a test) of the parallel gzip stage against `pigz -9 -p N` and
//! single-threaded flate2 at level 9, on generated configuration-like text with some binary.
//!
//! ```text
//! cargo run --release -p celeriac-backup --example pargz-bench -- [MEGABYTES] [THREADS] [FILE]
//! ```
//!
//! With FILE, that file's bytes are the input instead of generated data.
//!
//! Needs `pigz` on PATH (`apt-get install -y pigz`). Prints MB/s (10^6 bytes per second of
//! input) and the compressed/original ratio of each, best of three runs.

use std::io::{Read, Write};
use std::num::NonZeroUsize;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use celeriac_backup::internals::GzipOptions;
use celeriac_backup::internals::ParGzWriter;

const WORDS: &[&str] = &[
    "server",
    "listen",
    "proxy_pass",
    "upstream",
    "location",
    "replicas",
    "image",
    "container",
    "env",
    "value",
    "name",
    "port",
    "host",
    "database",
    "timeout",
    "worker",
    "cache",
    "enabled",
    "true",
    "false",
    "metadata",
    "labels",
    "app",
    "web",
    "celery",
    "postgres",
    "redis",
    "nginx",
    "ssl_certificate",
];

/// Deterministic pseudo-random source (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

/// About 87.5% YAML/INI/nginx-like text and 12.5% random binary, in 64 KiB runs.
fn generate(bytes: usize) -> Vec<u8> {
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let mut out = Vec::with_capacity(bytes + 4096);
    while out.len() < bytes {
        if rng.below(8) == 0 {
            out.extend((0..64 * 1024).map(|_| rng.next().to_le_bytes()[0]));
            continue;
        }
        let run_end = out.len() + 64 * 1024;
        while out.len() < run_end {
            let indent = "  ".repeat(rng.below(4));
            let key = WORDS[rng.below(WORDS.len())];
            let line = match rng.below(4) {
                0 => format!("{indent}{key}: {}\n", WORDS[rng.below(WORDS.len())]),
                1 => format!("{indent}{key}_{}: {}\n", rng.below(50), rng.below(100_000)),
                2 => format!(
                    "{indent}{key} {}.{}.{}.{}:{};\n",
                    rng.below(256),
                    rng.below(256),
                    rng.below(256),
                    rng.below(256),
                    rng.below(65_536)
                ),
                _ => format!("{indent}- {key}-{:x}\n", rng.next() >> 40),
            };
            out.extend_from_slice(line.as_bytes());
        }
    }
    out.truncate(bytes);
    out
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> Result<T>) -> Result<(Duration, T)> {
    let mut best: Option<(Duration, T)> = None;
    for _ in 0..runs {
        let start = Instant::now();
        let value = f()?;
        let elapsed = start.elapsed();
        if best.as_ref().is_none_or(|(b, _)| elapsed < *b) {
            best = Some((elapsed, value));
        }
    }
    best.context("at least one run")
}

fn ours(data: &[u8], threads: usize, block_size: usize) -> Result<usize> {
    let opts = GzipOptions {
        threads: NonZeroUsize::new(threads).context("threads")?,
        block_size,
        max_in_flight: NonZeroUsize::new(threads * 2).context("in flight")?,
        ..GzipOptions::default()
    };
    let mut w = ParGzWriter::new(Vec::new(), &opts)?;
    for chunk in data.chunks(64 * 1024) {
        w.write_all(chunk)?;
    }
    Ok(w.finish()?.0.len())
}

fn flate2_single(data: &[u8]) -> Result<usize> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(data)?;
    Ok(gz.finish()?.len())
}

fn pigz(path: &std::path::Path, threads: usize) -> Result<usize> {
    let mut child = Command::new("pigz")
        .args(["-9", "-p", &threads.to_string(), "-c"])
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .context("pigz on PATH (apt-get install -y pigz)")?;
    let mut out = child.stdout.take().context("stdout")?;
    let mut n = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let got = out.read(&mut buf)?;
        if got == 0 {
            break;
        }
        n += got;
    }
    ensure!(child.wait()?.success(), "pigz failed");
    Ok(n)
}

#[allow(clippy::cast_precision_loss, reason = "display only")]
fn report(name: &str, input: usize, (elapsed, out): (Duration, usize)) {
    let mbps = input as f64 / 1e6 / elapsed.as_secs_f64();
    println!(
        "{name:<40} {:>8.2} s {mbps:>8.1} MB/s  ratio {:.4}",
        elapsed.as_secs_f64(),
        out as f64 / input as f64
    );
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mb: usize = args
        .get(1)
        .map_or(Ok(100), |s| s.parse())
        .context("MEGABYTES")?;
    let threads: usize = args
        .get(2)
        .map_or(Ok(2), |s| s.parse())
        .context("THREADS")?;
    let data = match args.get(3) {
        Some(file) => std::fs::read(file).with_context(|| format!("reading {file}"))?,
        None => generate(mb * 1_000_000),
    };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("input.bin");
    std::fs::write(&path, &data)?;
    let _ = std::fs::read(&path)?; // warm the page cache for pigz
    println!("input: {} bytes; {threads} threads; best of 3", data.len());
    report(
        &format!("pigz -9 -p {threads}"),
        data.len(),
        best_of(3, || pigz(&path, threads))?,
    );
    for block in [128 * 1024, 256 * 1024, 1024 * 1024] {
        let name = format!("ParGzWriter -9, {threads} thr, {} KiB blocks", block / 1024);
        report(
            &name,
            data.len(),
            best_of(3, || ours(&data, threads, block))?,
        );
    }
    report(
        "flate2 GzEncoder -9, 1 thread",
        data.len(),
        best_of(1, || flate2_single(&data))?,
    );
    Ok(())
}
