//! The `[limits]` table ([`RawLimits`]) and its checks, which turn it into
//! [`PipelineOptions`] and the validated archive-reading [`Limits`] (defined here: what extract,
//! verify and restore refuse above).

use std::num::NonZeroUsize;
use std::time::Duration;

use celeriac_crypto::ChunkSize;
use serde::Deserialize;

use super::ConfigError;
use crate::config::options::{GzipOptions, PipelineOptions, RetryPolicy};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawLimits {
    /// Chunk size between the producer and the stores (KiB, 64 ..= 65536).
    pub chunk_kib: u64,
    /// Channel capacity in chunks (1 ..= 64).
    pub queue_chunks: usize,
    /// Gzip level (0 ..= 9).
    pub gzip_level: u32,
    /// Gzip worker threads (default: one per core).
    pub gzip_threads: Option<usize>,
    /// Encryption chunk size as a power of two (12 ..= 20).
    pub encrypt_chunk_log2: u8,
    /// Upload attempts per copy, the streamed one included (1 ..= 20).
    pub retry_attempts: u32,
    /// First retry backoff (ms).
    pub retry_initial_backoff_ms: u64,
    /// Longest retry backoff (ms).
    pub retry_max_backoff_ms: u64,
    /// Restore: most tar entries accepted.
    pub restore_max_entries: u64,
    /// Restore: largest single file (MiB).
    pub restore_max_file_mib: u64,
    /// Restore: largest total of file sizes (MiB).
    pub restore_max_total_mib: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        let restore = Limits::default();
        let retry = RetryPolicy::default();
        Self {
            chunk_kib: crate::config::options::DEFAULT_CHUNK_SIZE as u64 / KIB,
            queue_chunks: crate::config::options::DEFAULT_QUEUE_CHUNKS,
            gzip_level: 9,
            gzip_threads: None,
            encrypt_chunk_log2: ChunkSize::DEFAULT.log2(),
            retry_attempts: retry.attempts,
            retry_initial_backoff_ms: millis(retry.initial_backoff),
            retry_max_backoff_ms: millis(retry.max_backoff),
            restore_max_entries: restore.max_entries,
            restore_max_file_mib: restore.max_file_bytes / MIB,
            restore_max_total_mib: restore.max_total_bytes / MIB,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn check<T: PartialOrd>(
    value: T,
    range: std::ops::RangeInclusive<T>,
    key: &'static str,
    expected: &'static str,
) -> Result<T, ConfigError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::Invalid { key, expected })
    }
}

pub(super) fn pipeline_options(l: &RawLimits) -> Result<PipelineOptions, ConfigError> {
    let chunk_kib = check(l.chunk_kib, 64..=65_536, "limits.chunk-kib", "64 to 65536")?;
    let queue = check(l.queue_chunks, 1..=64, "limits.queue-chunks", "1 to 64")?;
    let level = check(l.gzip_level, 0..=9, "limits.gzip-level", "0 to 9")?;
    let mut gzip = GzipOptions {
        level,
        ..GzipOptions::default()
    };
    if let Some(threads) = l.gzip_threads {
        let threads = check(threads, 1..=256, "limits.gzip-threads", "1 to 256")?;
        let threads = NonZeroUsize::new(threads).unwrap_or(NonZeroUsize::MIN);
        gzip.threads = threads;
        gzip.max_in_flight = threads.saturating_mul(NonZeroUsize::MIN.saturating_add(1));
    }
    let encrypt_chunk =
        ChunkSize::from_log2(l.encrypt_chunk_log2).map_err(|_| ConfigError::Invalid {
            key: "limits.encrypt-chunk-log2",
            expected: "12 to 20",
        })?;
    let attempts = check(l.retry_attempts, 1..=20, "limits.retry-attempts", "1 to 20")?;
    let max_backoff = check(
        l.retry_max_backoff_ms,
        l.retry_initial_backoff_ms..=3_600_000,
        "limits.retry-max-backoff-ms",
        "at least retry-initial-backoff-ms, at most one hour",
    )?;
    Ok(PipelineOptions {
        chunk_size: usize::try_from(chunk_kib * KIB).unwrap_or(usize::MAX),
        queue_chunks: queue,
        gzip,
        encrypt_chunk,
        retry: RetryPolicy {
            attempts,
            initial_backoff: Duration::from_millis(l.retry_initial_backoff_ms),
            max_backoff: Duration::from_millis(max_backoff),
        },
        ..PipelineOptions::default()
    })
}

pub(super) fn restore_limits(l: &RawLimits) -> Result<Limits, ConfigError> {
    let positive = "at least 1";
    Ok(Limits {
        max_entries: check(
            l.restore_max_entries,
            1..=u64::MAX,
            "limits.restore-max-entries",
            positive,
        )?,
        max_file_bytes: check(
            l.restore_max_file_mib,
            1..=u64::MAX / MIB,
            "limits.restore-max-file-mib",
            positive,
        )? * MIB,
        max_total_bytes: check(
            l.restore_max_total_mib,
            1..=u64::MAX / MIB,
            "limits.restore-max-total-mib",
            positive,
        )? * MIB,
        ..Limits::default()
    })
}

/// Size limits; anything above is refused before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::struct_field_names,
    reason = "each is a maximum, as the `restore-max-*` keys say"
)]
pub struct Limits {
    /// Tar entries (manifest excluded), default 100 000.
    pub max_entries: u64,
    /// One file's size, default 1 GiB.
    pub max_file_bytes: u64,
    /// Sum of file sizes, default 4 GiB.
    pub max_total_bytes: u64,
    /// `MANIFEST.json` size, default 64 MiB.
    pub max_manifest_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_file_bytes: 1 << 30,
            max_total_bytes: 4 << 30,
            max_manifest_bytes: 64 << 20,
        }
    }
}

impl Limits {
    /// Decompressed bytes allowed: contents plus tar overhead for every entry (header, long-name
    /// records, padding) plus the manifest and end-of-archive padding.
    pub(crate) fn decompressed_cap(&self) -> u64 {
        let per_entry = 4 * 512 + 4096;
        self.max_total_bytes
            .saturating_add(self.max_entries.saturating_add(2).saturating_mul(per_entry))
            .saturating_add(self.max_manifest_bytes)
            .saturating_add(2 << 20)
    }
}
