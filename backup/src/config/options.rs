//! Tuning of a backup run: [`PipelineOptions`] (object prefix, chunk and queue sizes, gzip,
//! encryption chunk size, verification depth), [`RetryPolicy`] (re-uploads of failed copies),
//! [`GzipOptions`] (the parallel gzip stage) and the default chunk and queue sizes.

use std::num::NonZeroUsize;
use std::time::Duration;

use celeriac_crypto::ChunkSize;
use celeriac_store::ObjectPrefix;

/// Default chunk size: 1 MiB. Stores buffer for themselves (an S3 part is 8 MiB by default),
/// so chunks need not be as large as a part; small chunks keep the pipeline's peak memory low.
pub(crate) const DEFAULT_CHUNK_SIZE: usize = 1024 * 1024;

/// Default capacity, in chunks, of every channel of the pipeline.
pub(crate) const DEFAULT_QUEUE_CHUNKS: usize = 2;

/// Tuning of the parallel gzip stage (`ParGzWriter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GzipOptions {
    /// Deflate level 0–9 (default 9).
    pub level: u32,
    /// Worker threads (default: available parallelism).
    pub threads: NonZeroUsize,
    /// Input bytes per block (default 128 KiB, as pigz; at least 32 KiB).
    pub block_size: usize,
    /// Blocks submitted but not yet written, at most (default: 2 × threads).
    pub max_in_flight: NonZeroUsize,
}

impl Default for GzipOptions {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        Self {
            level: 9,
            threads,
            block_size: 128 * 1024,
            max_in_flight: threads.saturating_mul(NonZeroUsize::MIN.saturating_add(1)),
        }
    }
}

/// How a run streams, stores and checks its artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineOptions {
    /// Prefix of every object key (each store may add its own in front). Default: none.
    pub prefix: ObjectPrefix,
    /// Bytes per chunk between the producer and the stores (default 1 MiB).
    pub chunk_size: usize,
    /// Capacity, in chunks, of the producer's channel and of each store's channel (default 2).
    pub queue_chunks: usize,
    /// Parallel gzip settings (level 9, one worker per core, 128 KiB blocks).
    pub gzip: GzipOptions,
    /// Plaintext bytes per encrypted chunk (default 64 KiB).
    pub encrypt_chunk: ChunkSize,
    /// Re-uploads of copies that failed.
    pub retry: RetryPolicy,
    /// Also decrypt each artifact and walk its archive against its manifest. The check reads
    /// the encrypted stream as it goes to the stores (a fan-out tap), so it overlaps the upload;
    /// every copy then proves, by reading back SHA-256-equal bytes, that it holds what passed.
    pub deep_verify: bool,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self {
            prefix: ObjectPrefix::root(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            queue_chunks: DEFAULT_QUEUE_CHUNKS,
            gzip: GzipOptions::default(),
            encrypt_chunk: ChunkSize::DEFAULT,
            retry: RetryPolicy::default(),
            deep_verify: true,
        }
    }
}

/// How often, and how patiently, a failed copy is uploaded again from a verified copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Upload attempts per copy, the streamed one included (1 = never retry). Default 3.
    pub attempts: u32,
    /// Wait before the first retry; doubled for each further one. Default 1 s.
    pub initial_backoff: Duration,
    /// Longest wait. Default 30 s.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before `attempt` (2 = the first retry).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(2).min(20);
        self.initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        let waits: Vec<u128> = (2..=5).map(|a| p.backoff(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
    }
}
