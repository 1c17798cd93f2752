//! A lean rpc:// reply reader for `bench/worker-throughput`: consumes a reply queue without acks
//! and reports how many replies arrived, how many were not SUCCESS, and the time from the first
//! to the last. Kept in Rust so the harness is never the bottleneck.
//!
//! Usage: `bench_reply_reader <broker-url> <queue> <count>`; prints `ready` once consuming, then
//! one JSON line when `count` replies have arrived.

use std::time::Instant;

use futures::StreamExt;
use lapin::options::BasicConsumeOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, queue, count] = args.as_slice() else {
        return Err("usage: bench_reply_reader <broker-url> <queue> <count>".into());
    };
    let count: u64 = count.parse()?;
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..BasicConsumeOptions::default()
    };
    let mut consumer = ch
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            no_ack,
            FieldTable::default(),
        )
        .await?;
    println!("ready");
    let (mut seen, mut failures) = (0u64, 0u64);
    let (mut first, mut last) = (None, Instant::now());
    while seen < count {
        let Some(delivery) = consumer.next().await else {
            return Err("reply consumer closed".into());
        };
        let delivery = delivery?;
        last = Instant::now();
        first.get_or_insert(last);
        seen += 1;
        if !delivery.data.windows(9).any(|w| w == b"\"SUCCESS\"") {
            failures += 1;
        }
    }
    let seconds = first.map_or(0.0, |f| (last - f).as_secs_f64());
    println!("{{\"replies\": {seen}, \"failures\": {failures}, \"seconds\": {seconds}}}");
    conn.close(200, "done".into()).await?;
    Ok(())
}
