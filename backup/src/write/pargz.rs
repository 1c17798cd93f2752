//! Parallel gzip: a `Write` adapter that deflates fixed-size blocks on worker threads and writes
//! them in order as **one** gzip member, the way pigz does.
//!
//! Each block is raw-deflated with the previous block's last 32 KiB as preset dictionary and ends
//! with a sync flush (byte-aligned, not final); the last block is finished. The CRC-32 of each
//! block is computed by its worker and combined in order (`crc32fast::Hasher::combine`); the
//! trailer carries the combined CRC and the length mod 2^32. Any gzip reader, including flate2's
//! single-member `GzDecoder`, reads the result. The header has mtime 0 and no name, so equal
//! input gives equal bytes whatever the thread count.
//!
//! **Memory bound.** At most `max_in_flight` blocks are submitted and not yet written; each holds
//! its input (`block_size`), a 32 KiB dictionary and its output (about `block_size` for
//! incompressible data). Peak ≈ `(max_in_flight + 1) × (2 × block_size + 32 KiB)` plus one
//! deflate state per worker (~270 KiB at level 9): about 2 MiB with the defaults on 2 cores
//! (4 blocks of 128 KiB in flight).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, FlushCompress, Status};

use crate::config::options::GzipOptions;

/// Size of the deflate window, hence of the dictionary carried between blocks.
const DICT: usize = 32 * 1024;

/// What a finished gzip stream contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GzipSummary {
    /// Uncompressed bytes.
    pub in_bytes: u64,
    /// Bytes written to the inner writer (header, deflate data, trailer).
    pub out_bytes: u64,
    /// CRC-32 of the uncompressed bytes.
    pub crc32: u32,
    /// Blocks compressed.
    pub blocks: u64,
}

/// Why the gzip stage failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GzipError {
    /// Writing to the inner writer failed.
    #[error("writing compressed output failed")]
    Write {
        /// The writer's error.
        #[source]
        source: io::Error,
    },
    /// Deflate refused a block (not expected with valid settings).
    #[error("deflate failed on block {block}")]
    Compress {
        /// Block number.
        block: u64,
        /// The compressor's error.
        #[source]
        source: flate2::CompressError,
    },
    /// A worker thread died (panicked) before returning its block.
    #[error("a compression worker stopped unexpectedly")]
    WorkerLost,
    /// Invalid options.
    #[error("invalid gzip options: {what}")]
    InvalidOptions {
        /// Which rule.
        what: &'static str,
    },
}

impl GzipError {
    /// As the I/O error a `Write` reports: a write error is passed on as it came.
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            Self::Write { source } => source,
            other => io::Error::other(other),
        }
    }
}

struct Job {
    index: u64,
    input: Vec<u8>,
    dict: Vec<u8>,
    last: bool,
    reply: SyncSender<Result<Block, GzipError>>,
}

struct Block {
    data: Vec<u8>,
    crc: u32,
    len: u64,
}

/// The parallel gzip writer. Call [`ParGzWriter::finish`]: dropping it unfinished leaves a
/// truncated stream that readers reject.
pub struct ParGzWriter<W: Write> {
    inner: Option<W>,
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    pending: VecDeque<Receiver<Result<Block, GzipError>>>,
    buf: Vec<u8>,
    dict: Vec<u8>,
    block_size: usize,
    max_in_flight: usize,
    next_index: u64,
    crc: crc32fast::Hasher,
    summary: GzipSummary,
    header_written: bool,
}

impl<W: Write> std::fmt::Debug for ParGzWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParGzWriter")
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl<W: Write> ParGzWriter<W> {
    /// Starts the workers.
    ///
    /// # Errors
    /// [`GzipError::InvalidOptions`] for a level above 9 or a block under 32 KiB.
    pub fn new(inner: W, opts: &GzipOptions) -> Result<Self, GzipError> {
        if opts.level > 9 {
            return Err(GzipError::InvalidOptions {
                what: "level must be 0..=9",
            });
        }
        if opts.block_size < DICT {
            return Err(GzipError::InvalidOptions {
                what: "block size must be at least 32 KiB",
            });
        }
        let (tx, rx) = sync_channel::<Job>(opts.max_in_flight.get());
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..opts.threads.get())
            .map(|_| {
                let rx = Arc::clone(&rx);
                let level = Compression::new(opts.level);
                std::thread::spawn(move || worker(&rx, level))
            })
            .collect();
        Ok(Self {
            inner: Some(inner),
            jobs: Some(tx),
            workers,
            pending: VecDeque::new(),
            buf: Vec::with_capacity(opts.block_size),
            dict: Vec::new(),
            block_size: opts.block_size,
            max_in_flight: opts.max_in_flight.get(),
            next_index: 0,
            crc: crc32fast::Hasher::new(),
            summary: GzipSummary {
                in_bytes: 0,
                out_bytes: 0,
                crc32: 0,
                blocks: 0,
            },
            header_written: false,
        })
    }

    /// Compresses what is buffered as the final block, writes everything and the trailer, stops
    /// the workers and returns the inner writer.
    ///
    /// # Errors
    /// [`GzipError`].
    ///
    /// # Panics
    /// Never: the inner writer is only taken here, once.
    pub fn finish(mut self) -> Result<(W, GzipSummary), GzipError> {
        self.submit(true)?;
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        self.jobs = None;
        for worker in self.workers.drain(..) {
            worker.join().map_err(|_| GzipError::WorkerLost)?;
        }
        self.summary.crc32 = self.crc.clone().finalize();
        #[allow(
            clippy::cast_possible_truncation,
            reason = "ISIZE is the length modulo 2^32"
        )]
        let isize = self.summary.in_bytes as u32;
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.summary.crc32.to_le_bytes());
        trailer[4..].copy_from_slice(&isize.to_le_bytes());
        self.emit(&trailer)?;
        let mut inner = self
            .inner
            .take()
            .expect("inner writer is present until finish");
        inner
            .flush()
            .map_err(|source| GzipError::Write { source })?;
        Ok((inner, self.summary))
    }

    fn emit(&mut self, data: &[u8]) -> Result<(), GzipError> {
        let inner = self
            .inner
            .as_mut()
            .expect("inner writer is present until finish");
        if !self.header_written {
            // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=2 (max compression) OS=255 (unknown).
            let header = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255];
            inner
                .write_all(&header)
                .map_err(|source| GzipError::Write { source })?;
            self.summary.out_bytes += header.len() as u64;
            self.header_written = true;
        }
        inner
            .write_all(data)
            .map_err(|source| GzipError::Write { source })?;
        self.summary.out_bytes += data.len() as u64;
        Ok(())
    }

    fn submit(&mut self, last: bool) -> Result<(), GzipError> {
        while self.pending.len() >= self.max_in_flight {
            self.write_oldest()?;
        }
        let input = std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(if last { 0 } else { self.block_size }),
        );
        let dict = std::mem::take(&mut self.dict);
        self.dict = input[input.len().saturating_sub(DICT)..].to_vec();
        let (reply, rx) = sync_channel(1);
        let job = Job {
            index: self.next_index,
            input,
            dict,
            last,
            reply,
        };
        self.next_index += 1;
        let jobs = self.jobs.as_ref().ok_or(GzipError::WorkerLost)?;
        jobs.send(job).map_err(|_| GzipError::WorkerLost)?;
        self.pending.push_back(rx);
        Ok(())
    }

    fn write_oldest(&mut self) -> Result<(), GzipError> {
        let Some(rx) = self.pending.pop_front() else {
            return Ok(());
        };
        let block = rx.recv().map_err(|_| GzipError::WorkerLost)??;
        self.crc.combine(&crc32fast::Hasher::new_with_initial_len(
            block.crc, block.len,
        ));
        self.summary.in_bytes += block.len;
        self.summary.blocks += 1;
        self.emit(&block.data)
    }
}

impl<W: Write> Write for ParGzWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.block_size - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == self.block_size {
            self.submit(false).map_err(GzipError::into_io)?;
        }
        Ok(n)
    }

    /// Does not force a block out (that would cost ratio); output is complete at `finish`.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn worker(jobs: &Mutex<Receiver<Job>>, level: Compression) {
    let mut deflate = Compress::new(level, false);
    loop {
        let job = {
            let Ok(rx) = jobs.lock() else { return };
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let result = compress_block(&mut deflate, &job);
        // The writer may be gone (dropped unfinished); nothing to do then.
        let _ = job.reply.send(result);
    }
}

fn compress_block(deflate: &mut Compress, job: &Job) -> Result<Block, GzipError> {
    let err = |source| GzipError::Compress {
        block: job.index,
        source,
    };
    deflate.reset();
    if !job.dict.is_empty() {
        deflate.set_dictionary(&job.dict).map_err(err)?;
    }
    let flush = if job.last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut data = Vec::with_capacity(job.input.len() + job.input.len() / 16 + 64);
    let mut consumed = 0usize;
    loop {
        let before = deflate.total_in();
        let status = deflate
            .compress_vec(&job.input[consumed..], &mut data, flush)
            .map_err(err)?;
        #[allow(
            clippy::cast_possible_truncation,
            reason = "bounded by the block length"
        )]
        let used = (deflate.total_in() - before) as usize;
        consumed += used;
        let room_left = data.len() < data.capacity();
        let done = match status {
            Status::StreamEnd => true,
            Status::Ok | Status::BufError => !job.last && consumed == job.input.len() && room_left,
        };
        if done {
            break;
        }
        if !room_left {
            data.reserve(64 * 1024);
        }
    }
    Ok(Block {
        data,
        crc: crc32fast::hash(&job.input),
        len: job.input.len() as u64,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use std::io::Read;
    use std::num::NonZeroUsize;

    use super::*;

    fn gz(data: &[u8], threads: usize, block: usize) -> Vec<u8> {
        let opts = GzipOptions {
            threads: NonZeroUsize::new(threads).unwrap(),
            block_size: block,
            max_in_flight: NonZeroUsize::new(3).unwrap(),
            ..GzipOptions::default()
        };
        let mut w = ParGzWriter::new(Vec::new(), &opts).unwrap();
        w.write_all(data).unwrap();
        let (out, summary) = w.finish().unwrap();
        assert_eq!(summary.in_bytes, data.len() as u64);
        assert_eq!(summary.out_bytes, out.len() as u64);
        out
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn round_trips_and_is_deterministic_across_thread_counts() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| format!("line {} {}\n", i, i % 7).into_bytes())
            .collect();
        let one = gz(&data, 1, 32 * 1024);
        let three = gz(&data, 3, 32 * 1024);
        assert_eq!(one, three);
        assert_eq!(gunzip(&one), data);
        assert!(one.len() < data.len() / 4);
    }

    #[test]
    fn empty_input_is_a_valid_gzip() {
        let out = gz(b"", 2, 32 * 1024);
        assert_eq!(gunzip(&out), b"");
    }

    #[test]
    fn dictionary_keeps_ratio_close_to_single_stream() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("key_{}: value {}\n", i % 500, i % 13).into_bytes())
            .collect();
        let par = gz(&data, 2, 32 * 1024);
        let mut single = flate2::write::GzEncoder::new(Vec::new(), Compression::best());
        single.write_all(&data).unwrap();
        let single = single.finish().unwrap();
        assert!(
            par.len() * 100 <= single.len() * 102,
            "{} vs {}",
            par.len(),
            single.len()
        );
    }
}
