//! Fuzz target: decoding arbitrary task messages and rpc replies only ever returns an error, never
//! panics, and a decoded message is stable after one encode → decode round trip.
#![no_main]

use arbitrary::Arbitrary;
use celeriac_protocol::{HeaderTable, HeaderValue, Properties, Reply, TaskMessage};
use libfuzzer_sys::fuzz_target;

/// Header values as py-amqp (or anyone) could send them.
#[derive(Debug, Arbitrary)]
enum FuzzValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Timestamp(u64),
    List(Vec<FuzzValue>),
    Table(Vec<(String, FuzzValue)>),
}

impl FuzzValue {
    fn into_header(self, depth: u8) -> HeaderValue {
        if depth > 4 {
            return HeaderValue::Null;
        }
        match self {
            FuzzValue::Null => HeaderValue::Null,
            FuzzValue::Bool(b) => HeaderValue::Bool(b),
            FuzzValue::Int(i) => HeaderValue::Int(i),
            FuzzValue::Float(f) => HeaderValue::Float(f),
            FuzzValue::Str(s) => HeaderValue::Str(s),
            FuzzValue::Bytes(b) => HeaderValue::Bytes(b),
            FuzzValue::Timestamp(t) => HeaderValue::Timestamp(t),
            FuzzValue::List(items) => HeaderValue::List(
                items
                    .into_iter()
                    .map(|v| v.into_header(depth + 1))
                    .collect(),
            ),
            FuzzValue::Table(kv) => HeaderValue::Table(
                kv.into_iter()
                    .map(|(k, v)| (k, v.into_header(depth + 1)))
                    .collect(),
            ),
        }
    }
}

/// Header names the decoder looks at, plus anything else.
#[derive(Debug, Arbitrary)]
enum FuzzKey {
    Known(u8),
    Other(String),
}

const KEYS: [&str; 21] = [
    "lang",
    "task",
    "id",
    "shadow",
    "eta",
    "expires",
    "group",
    "group_index",
    "retries",
    "timelimit",
    "root_id",
    "parent_id",
    "argsrepr",
    "kwargsrepr",
    "origin",
    "ignore_result",
    "replaced_task_nesting",
    "stamped_headers",
    "stamps",
    "compression",
    "x-death",
];

#[derive(Debug, Arbitrary)]
struct Input {
    content_type: u8,
    encoding: u8,
    headers: Vec<(FuzzKey, FuzzValue)>,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let content_type = [
        "application/json",
        "application/x-python-serialize",
        "application/x-yaml",
        "text/plain",
    ];
    let encodings = ["utf-8", "binary", "UTF8", "latin-1"];
    let props = Properties {
        content_type: content_type
            .get(usize::from(input.content_type % 5))
            .map(|s| (*s).to_owned()),
        content_encoding: encodings
            .get(usize::from(input.encoding % 5))
            .map(|s| (*s).to_owned()),
        ..Properties::default()
    };
    let headers: HeaderTable = input
        .headers
        .into_iter()
        .map(|(k, v)| {
            let key = match k {
                FuzzKey::Known(i) => KEYS[usize::from(i) % KEYS.len()].to_owned(),
                FuzzKey::Other(s) => s,
            };
            (key, v.into_header(0))
        })
        .collect();

    if let Ok(msg) = TaskMessage::decode(&props, &headers, &input.body) {
        // Stable after one round trip: encode(decode(encode(m))) == encode(m).
        let wire = msg.to_wire();
        let again = TaskMessage::from_wire(&wire).expect("our own encoding must decode");
        assert_eq!(
            format!("{:?}", again.to_wire()),
            format!("{wire:?}"),
            "unstable round trip"
        );
    }
    if let Ok(reply) = Reply::decode(&props, &headers, &input.body) {
        let wire = reply.to_wire(None);
        let again = Reply::decode(&wire.properties, &wire.headers, &wire.body)
            .expect("our own reply must decode");
        assert_eq!(
            format!("{:?}", again.to_wire(None)),
            format!("{:?}", wire),
            "unstable reply round trip"
        );
    }
});
