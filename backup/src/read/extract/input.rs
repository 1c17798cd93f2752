//! The decompressed input of an extraction: one gzip member read through a byte cap, with the
//! faults (corrupt gzip, cap reached) recorded so the caller can name them even when the tar
//! parser wrapped the error; and the end-of-stream checks for trailing garbage.

use std::cell::{Cell, RefCell};
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use flate2::bufread::GzDecoder;

/// Zero padding accepted after the tar end-of-archive blocks (GNU tar pads to 10 KiB records).
const MAX_ZERO_PADDING: u64 = 1 << 20;

/// A fault of the input layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// The underlying reader failed (for instance decryption refused a chunk).
    Source,
    /// The gzip stream is corrupt (bad header, data or trailer CRC/length).
    Gzip,
    /// More decompressed bytes than the cap allows.
    TooLarge,
}

/// Faults shared between the input layers and the extractor.
#[derive(Debug, Default)]
pub(super) struct InputState {
    /// The first fault.
    pub(super) fault: Cell<Option<Fault>>,
    /// The underlying reader's own error, kept for the error chain.
    pub(super) source_error: RefCell<Option<io::Error>>,
}

impl InputState {
    fn record(&self, fault: Fault) {
        if self.fault.get().is_none() {
            self.fault.set(Some(fault));
        }
    }
}

/// The caller's reader; its errors are kept aside so gzip and tar cannot misname them.
struct Source<R> {
    inner: R,
    state: Rc<InputState>,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => {
                self.state.record(Fault::Source);
                self.state.source_error.borrow_mut().get_or_insert(e);
                Err(io::Error::other("source reader failed"))
            }
            other => other,
        }
    }
}

/// Gunzips a single member and counts decompressed bytes against `cap`.
pub(super) struct Input<R: Read> {
    gz: GzDecoder<BufReader<Source<R>>>,
    produced: u64,
    cap: u64,
    state: Rc<InputState>,
}

impl<R: Read> Input<R> {
    pub(super) fn new(reader: R, cap: u64) -> (Self, Rc<InputState>) {
        let state = Rc::new(InputState::default());
        let source = Source {
            inner: reader,
            state: Rc::clone(&state),
        };
        let input = Self {
            gz: GzDecoder::new(BufReader::with_capacity(64 * 1024, source)),
            produced: 0,
            cap,
            state: Rc::clone(&state),
        };
        (input, state)
    }

    /// After the tar end: reads what is left of the member, which must be zeros (at most
    /// 1 MiB), then checks that nothing follows the gzip member.
    pub(super) fn finish(mut self) -> Result<(), Trailing> {
        let mut buf = [0u8; 8192];
        let mut zeros = 0u64;
        loop {
            let n = self.read(&mut buf).map_err(|_| Trailing::Fault)?;
            if n == 0 {
                break;
            }
            if buf[..n].iter().any(|&b| b != 0) {
                return Err(Trailing::AfterTar);
            }
            zeros += n as u64;
            if zeros > MAX_ZERO_PADDING {
                return Err(Trailing::AfterTar);
            }
        }
        let mut rest = self.gz.into_inner();
        match rest.fill_buf() {
            Ok([]) => Ok(()),
            Ok(_) => Err(Trailing::AfterGzip),
            Err(_) => Err(Trailing::Fault),
        }
    }
}

/// What follows the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trailing {
    /// Non-zero data (or too much padding) after the tar end-of-archive.
    AfterTar,
    /// Bytes after the gzip member.
    AfterGzip,
    /// The input failed while checking (see the recorded fault).
    Fault,
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.state.fault.get().is_some() {
            return Err(io::Error::other("input already failed"));
        }
        let n = match self.gz.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                self.state.record(Fault::Gzip);
                return Err(e);
            }
        };
        self.produced += n as u64;
        if self.produced > self.cap {
            self.state.record(Fault::TooLarge);
            return Err(io::Error::other("decompressed size limit reached"));
        }
        Ok(n)
    }
}
