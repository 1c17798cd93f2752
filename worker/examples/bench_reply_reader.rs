//! A lean rpc:// reply reader for `bench/worker-throughput`: consumes a reply queue without acks
//! and reports how many replies arrived, how many were not SUCCESS, and the time from the first
//! to the last.
//!
//! It speaks just enough AMQP 0-9-1 over one blocking socket (handshake, `channel.open`,
//! `basic.consume` with `no-ack`, then frames until `count` deliveries), on one thread with
//! large buffered reads: the benchmark's two cores are shared by the worker, RabbitMQ and this
//! reader, so every microsecond the reader spends per reply is taken from the worker under test.
//! (A lapin consumer costs about 8 µs of CPU per reply here: two threads and a wake-up per batch.)
//!
//! Usage: `bench_reply_reader <broker-url> <queue> <count>`; prints `ready` once consuming, then
//! one JSON line when `count` replies have arrived.

use std::io::{BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use lapin::uri::AMQPUri;

type Error = Box<dyn std::error::Error>;

const FRAME_METHOD: u8 = 1;
const FRAME_HEADER: u8 = 2;
const FRAME_BODY: u8 = 3;
const FRAME_HEARTBEAT: u8 = 8;
const FRAME_END: u8 = 0xCE;

/// (class id, method id) of the methods this reader sends or waits for.
const CONNECTION_START: (u16, u16) = (10, 10);
const CONNECTION_START_OK: (u16, u16) = (10, 11);
const CONNECTION_TUNE: (u16, u16) = (10, 30);
const CONNECTION_TUNE_OK: (u16, u16) = (10, 31);
const CONNECTION_OPEN: (u16, u16) = (10, 40);
const CONNECTION_OPEN_OK: (u16, u16) = (10, 41);
const CONNECTION_CLOSE: (u16, u16) = (10, 50);
const CONNECTION_CLOSE_OK: (u16, u16) = (10, 51);
const CHANNEL_OPEN: (u16, u16) = (20, 10);
const CHANNEL_OPEN_OK: (u16, u16) = (20, 11);
const CHANNEL_CLOSE: (u16, u16) = (20, 40);
const BASIC_CONSUME: (u16, u16) = (60, 20);
const BASIC_CONSUME_OK: (u16, u16) = (60, 21);

/// One frame as read: type, channel, payload (reused between frames).
struct Frames {
    reader: BufReader<TcpStream>,
    payload: Vec<u8>,
}

impl Frames {
    /// Reads the next frame into `self.payload` and returns its type.
    fn next(&mut self) -> Result<u8, Error> {
        let mut head = [0u8; 7];
        self.reader.read_exact(&mut head)?;
        let size = u32::from_be_bytes([head[3], head[4], head[5], head[6]]) as usize;
        self.payload.resize(size + 1, 0);
        self.reader.read_exact(&mut self.payload)?;
        if self.payload.pop() != Some(FRAME_END) {
            return Err("frame does not end with 0xCE".into());
        }
        Ok(head[0])
    }

    /// The (class, method) of the method frame just read.
    fn method(&self) -> Result<(u16, u16), Error> {
        match self.payload.get(..4) {
            Some(p) => Ok((
                u16::from_be_bytes([p[0], p[1]]),
                u16::from_be_bytes([p[2], p[3]]),
            )),
            None => Err("short method frame".into()),
        }
    }

    /// Skips frames until the method `want` arrives; a close from the broker is an error.
    fn expect(&mut self, want: (u16, u16)) -> Result<(), Error> {
        loop {
            if self.next()? != FRAME_METHOD {
                continue;
            }
            let got = self.method()?;
            if got == want {
                return Ok(());
            }
            if got == CONNECTION_CLOSE || got == CHANNEL_CLOSE {
                let text = short_string_at(&self.payload, 6).unwrap_or("?");
                return Err(format!("broker closed: {text}").into());
            }
        }
    }
}

/// The short string at `at` in a method payload.
fn short_string_at(payload: &[u8], at: usize) -> Option<&str> {
    let len = usize::from(*payload.get(at)?);
    std::str::from_utf8(payload.get(at + 1..at + 1 + len)?).ok()
}

/// Builds one method frame on channel `channel`.
fn method_frame(channel: u16, (class, method): (u16, u16), args: &[u8]) -> Result<Vec<u8>, Error> {
    let size = u32::try_from(4 + args.len())?;
    let mut out = Vec::with_capacity(12 + args.len());
    out.push(FRAME_METHOD);
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&method.to_be_bytes());
    out.extend_from_slice(args);
    out.push(FRAME_END);
    Ok(out)
}

fn short_string(out: &mut Vec<u8>, s: &str) -> Result<(), Error> {
    out.push(u8::try_from(s.len())?);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn long_string(out: &mut Vec<u8>, s: &[u8]) -> Result<(), Error> {
    out.extend_from_slice(&u32::try_from(s.len())?.to_be_bytes());
    out.extend_from_slice(s);
    Ok(())
}

/// Opens the connection and channel 1 and starts a no-ack consumer on `queue`.
fn connect(uri: &AMQPUri, queue: &str) -> Result<(Frames, BufWriter<TcpStream>), Error> {
    let stream = TcpStream::connect((uri.authority.host.as_str(), uri.authority.port))?;
    stream.set_nodelay(true)?;
    let mut writer = BufWriter::new(stream.try_clone()?);
    let mut frames = Frames {
        reader: BufReader::with_capacity(256 * 1024, stream),
        payload: Vec::with_capacity(64 * 1024),
    };
    writer.write_all(b"AMQP\x00\x00\x09\x01")?;
    writer.flush()?;
    frames.expect(CONNECTION_START)?;
    let user = &uri.authority.userinfo;
    let mut args = 0u32.to_be_bytes().to_vec(); // no client properties
    short_string(&mut args, "PLAIN")?;
    long_string(
        &mut args,
        format!("\0{}\0{}", user.username, user.password).as_bytes(),
    )?;
    short_string(&mut args, "en_US")?;
    writer.write_all(&method_frame(0, CONNECTION_START_OK, &args)?)?;
    writer.flush()?;
    frames.expect(CONNECTION_TUNE)?;
    let tune = frames.payload.get(4..10).ok_or("short connection.tune")?;
    let mut args = tune[..6].to_vec(); // channel-max and frame-max as offered
    args.extend_from_slice(&0u16.to_be_bytes()); // no heartbeats
    writer.write_all(&method_frame(0, CONNECTION_TUNE_OK, &args)?)?;
    let mut args = Vec::new();
    short_string(&mut args, &uri.vhost)?;
    short_string(&mut args, "")?;
    args.push(0);
    writer.write_all(&method_frame(0, CONNECTION_OPEN, &args)?)?;
    writer.flush()?;
    frames.expect(CONNECTION_OPEN_OK)?;
    writer.write_all(&method_frame(1, CHANNEL_OPEN, &[0])?)?;
    writer.flush()?;
    frames.expect(CHANNEL_OPEN_OK)?;
    let mut args = 0u16.to_be_bytes().to_vec();
    short_string(&mut args, queue)?;
    short_string(&mut args, "")?;
    args.push(0b0000_0010); // no-ack
    args.extend_from_slice(&0u32.to_be_bytes()); // no arguments
    writer.write_all(&method_frame(1, BASIC_CONSUME, &args)?)?;
    writer.flush()?;
    frames.expect(BASIC_CONSUME_OK)?;
    Ok((frames, writer))
}

/// Counts deliveries until `count`; returns (failures, seconds from the first to the last).
fn read_replies(frames: &mut Frames, count: u64) -> Result<(u64, f64), Error> {
    let (mut seen, mut failures) = (0u64, 0u64);
    let (mut first, mut last) = (None, Instant::now());
    let mut body = Vec::with_capacity(4096);
    let mut body_size = 0usize;
    while seen < count {
        let complete = match frames.next()? {
            FRAME_METHOD => match frames.method()? {
                CONNECTION_CLOSE | CHANNEL_CLOSE => return Err("broker closed the reader".into()),
                _ => false,
            },
            FRAME_HEADER => {
                let size = frames.payload.get(4..12).ok_or("short content header")?;
                body_size = usize::try_from(u64::from_be_bytes(size.try_into()?))?;
                body.clear();
                body_size == 0
            }
            FRAME_BODY => {
                body.extend_from_slice(&frames.payload);
                body.len() >= body_size
            }
            FRAME_HEARTBEAT => false,
            other => return Err(format!("unexpected frame type {other}").into()),
        };
        if !complete {
            continue;
        }
        last = Instant::now();
        first.get_or_insert(last);
        seen += 1;
        if !body.windows(9).any(|w| w == b"\"SUCCESS\"") {
            failures += 1;
        }
    }
    Ok((failures, first.map_or(0.0, |f| (last - f).as_secs_f64())))
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, queue, count] = args.as_slice() else {
        return Err("usage: bench_reply_reader <broker-url> <queue> <count>".into());
    };
    let count: u64 = count.parse()?;
    let uri: AMQPUri = url.parse().map_err(|e: String| e)?;
    let (mut frames, mut writer) = connect(&uri, queue)?;
    println!("ready");
    std::io::stdout().flush()?;
    let (failures, seconds) = read_replies(&mut frames, count)?;
    println!("{{\"replies\": {count}, \"failures\": {failures}, \"seconds\": {seconds}}}");
    let mut args = 200u16.to_be_bytes().to_vec();
    short_string(&mut args, "done")?;
    args.extend_from_slice(&[0, 0, 0, 0]);
    writer.write_all(&method_frame(0, CONNECTION_CLOSE, &args)?)?;
    writer.flush()?;
    frames.expect(CONNECTION_CLOSE_OK)
}
