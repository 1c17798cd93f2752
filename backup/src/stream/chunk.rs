//! The bridge between the blocking stages and the async side: [`ChunkSender`] cuts the
//! encrypted stream into [`Bytes`] chunks and `blocking_send`s them into a bounded channel;
//! [`ChunkReader`] turns a bounded channel of chunks back into a `Read` for a blocking
//! consumer (verification and restore).
//!
//! Both block their thread, so both must run on a blocking thread (`spawn_blocking`), never
//! on the async runtime.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Buf as _, Bytes, BytesMut};
use tokio::sync::mpsc;

/// A `Write` that sends full chunks of `chunk_size` bytes into a bounded channel, waiting
/// (blocking the thread) while the channel is full. [`finish`](Self::finish) sends the last,
/// partial chunk and closes the channel.
///
/// If the receiver is dropped, writes fail with `BrokenPipe`: that is how the async side stops
/// the producer (cooperative cancellation), and a shared flag tells
/// that case apart from other errors.
pub(crate) struct ChunkSender {
    tx: Option<mpsc::Sender<Bytes>>,
    buf: BytesMut,
    chunk_size: usize,
    sent: u64,
    closed: Arc<AtomicBool>,
    on_chunk: Option<ChunkHook>,
}

impl std::fmt::Debug for ChunkSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSender")
            .field("chunk_size", &self.chunk_size)
            .field("buffered", &self.buf.len())
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

/// Called after each chunk is handed over, with the total bytes sent so far.
pub(crate) type ChunkHook = Box<dyn FnMut(u64) + Send>;

impl ChunkSender {
    /// Sends into `tx` in chunks of `chunk_size` bytes (at least 1).
    pub(crate) fn new(tx: mpsc::Sender<Bytes>, chunk_size: usize) -> Self {
        let chunk_size = chunk_size.max(1);
        Self {
            tx: Some(tx),
            buf: BytesMut::with_capacity(chunk_size),
            chunk_size,
            sent: 0,
            closed: Arc::new(AtomicBool::new(false)),
            on_chunk: None,
        }
    }

    /// Calls `hook` with the running total after every chunk sent (progress reporting).
    pub(crate) fn with_hook(mut self, hook: ChunkHook) -> Self {
        self.on_chunk = Some(hook);
        self
    }

    /// A flag that becomes true once a send failed because the receiver was dropped.
    #[cfg(test)]
    pub(crate) fn receiver_gone(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.closed)
    }

    /// Sends the buffered remainder and closes the channel; returns the total bytes sent.
    ///
    /// # Errors
    /// `BrokenPipe` when the receiver is gone.
    pub(crate) fn finish(mut self) -> io::Result<u64> {
        if !self.buf.is_empty() {
            self.send_buffered()?;
        }
        self.tx = None;
        Ok(self.sent)
    }

    fn send_buffered(&mut self) -> io::Result<()> {
        let chunk = self.buf.split().freeze();
        let len = chunk.len() as u64;
        let gone = || io::Error::new(io::ErrorKind::BrokenPipe, "chunk receiver is gone");
        let tx = self.tx.as_ref().ok_or_else(gone)?;
        if tx.blocking_send(chunk).is_err() {
            self.closed.store(true, Ordering::SeqCst);
            self.tx = None;
            return Err(gone());
        }
        self.sent += len;
        if let Some(hook) = self.on_chunk.as_mut() {
            hook(self.sent);
        }
        self.buf.reserve(self.chunk_size);
        Ok(())
    }
}

impl Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if self.buf.len() == self.chunk_size {
            self.send_buffered()?;
        }
        let n = data.len().min(self.chunk_size - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == self.chunk_size {
            self.send_buffered()?;
        }
        Ok(n)
    }

    /// Chunks leave when full or at `finish`; `flush` does not cut a short chunk.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A `Read` over a bounded channel of chunks fed by an async task; end of input is the channel
/// closing. A feeder that fails sends nothing more and reports its error separately, so the
/// consumer must check the feeder's result before trusting an end of input.
#[derive(Debug)]
pub(crate) struct ChunkReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChunkReader {
    /// Reads what arrives on `rx`.
    pub(crate) fn new(rx: mpsc::Receiver<Bytes>) -> Self {
        Self {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code fails by panicking")]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_full_size_except_the_last() {
        let (tx, mut rx) = mpsc::channel(64);
        let mut sender = ChunkSender::new(tx, 4);
        sender.write_all(b"abcdefghij").unwrap();
        assert_eq!(sender.finish().unwrap(), 10);
        let mut sizes = Vec::new();
        let mut all = Vec::new();
        while let Ok(chunk) = rx.try_recv() {
            sizes.push(chunk.len());
            all.extend_from_slice(&chunk);
        }
        assert_eq!(sizes, [4, 4, 2]);
        assert_eq!(all, b"abcdefghij");
    }

    #[test]
    fn dropped_receiver_stops_the_writer() {
        let (tx, rx) = mpsc::channel(1);
        let mut sender = ChunkSender::new(tx, 2);
        let gone = sender.receiver_gone();
        drop(rx);
        let err = sender.write_all(b"abcd").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert!(gone.load(Ordering::SeqCst));
    }

    #[test]
    fn reader_reassembles_the_stream() {
        let (tx, rx) = mpsc::channel(8);
        for piece in [&b"ab"[..], b"", b"cde", b"f"] {
            tx.try_send(Bytes::copy_from_slice(piece)).unwrap();
        }
        drop(tx);
        let mut out = Vec::new();
        ChunkReader::new(rx).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abcdef");
    }
}
