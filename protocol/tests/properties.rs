//! Property tests: encode → decode is the identity for arbitrary messages and replies; decoding
//! arbitrary bytes and headers returns Ok or Err and never panics; ISO 8601 emit → parse round
//! trips.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use celeriac_protocol::{
    ArgsReprStyle, Embed, ExceptionInfo, GroupId, HeaderTable, HeaderValue, KNOWN_HEADERS,
    Properties, ProtocolVersion, Reply, Signature, TaskBody, TaskHeaders, TaskId, TaskMessage,
    TaskName, TaskProperties, TaskState, TimeLimit, args_repr, format_iso8601, kwargs_repr,
    parse_iso8601,
};
use chrono::{DateTime, Utc};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use serde_json::{Map, Value};

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".*".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((".*", inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn json_map() -> impl Strategy<Value = Map<String, Value>> {
    vec((".*", json_value()), 0..5).prop_map(|kv| kv.into_iter().collect())
}

fn non_empty() -> impl Strategy<Value = String> {
    ".+"
}

fn task_id() -> impl Strategy<Value = TaskId> {
    non_empty().prop_map(|s| TaskId::new(s).unwrap())
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    // Years 1970–2200, whole microseconds (the wire precision).
    (0i64..7_258_118_400, 0u32..1_000_000)
        .prop_map(|(s, us)| DateTime::from_timestamp(s, us * 1000).unwrap())
}

fn header_value() -> impl Strategy<Value = HeaderValue> {
    let leaf = prop_oneof![
        Just(HeaderValue::Null),
        any::<bool>().prop_map(HeaderValue::Bool),
        any::<i64>().prop_map(HeaderValue::Int),
        any::<f64>()
            .prop_filter("not NaN", |f| !f.is_nan())
            .prop_map(HeaderValue::Float),
        ".*".prop_map(HeaderValue::Str),
        any::<u64>().prop_map(HeaderValue::Timestamp),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(HeaderValue::List),
            btree_map(".*", inner, 0..4).prop_map(HeaderValue::Table),
        ]
    })
}

fn signature() -> impl Strategy<Value = Signature> {
    (
        non_empty(),
        vec(json_value(), 0..3),
        json_map(),
        json_map(),
        option::of("[a-z]+"),
        any::<bool>(),
        json_map(),
    )
        .prop_map(
            |(task, args, kwargs, options, subtask_type, immutable, extra)| {
                let known = [
                    "task",
                    "args",
                    "kwargs",
                    "options",
                    "subtask_type",
                    "immutable",
                ];
                Signature {
                    task: TaskName::new(task).unwrap(),
                    args,
                    kwargs,
                    options,
                    subtask_type,
                    immutable,
                    extra: extra
                        .into_iter()
                        .filter(|(k, _)| !known.contains(&k.as_str()))
                        .collect(),
                }
            },
        )
}

fn embed() -> impl Strategy<Value = Embed> {
    (
        option::of(vec(signature(), 0..3)),
        option::of(vec(signature(), 0..3)),
        option::of(vec(signature(), 0..3)),
        option::of(signature()),
    )
        .prop_map(|(callbacks, errbacks, chain, chord)| Embed {
            callbacks,
            errbacks,
            chain,
            chord,
        })
}

fn limit() -> impl Strategy<Value = Option<f64>> {
    option::of(prop_oneof![
        (0u32..100_000).prop_map(f64::from),
        (0.0f64..1e6)
    ])
}

fn headers() -> impl Strategy<Value = TaskHeaders> {
    let ids = (
        non_empty(),
        task_id(),
        option::of(".*"),
        option::of(time()),
        option::of(time()),
        option::of(non_empty()),
        option::of(any::<u32>()),
        any::<u32>(),
    );
    let more = (
        limit(),
        limit(),
        option::of(task_id()),
        option::of(task_id()),
        option::of(".*"),
        option::of(".*"),
        option::of(".*"),
        any::<bool>(),
    );
    let rest = (
        any::<u32>(),
        option::of(vec(".*", 0..3)),
        btree_map(".*", header_value(), 0..3),
        btree_map(".+", header_value(), 0..3),
        option::of(".*"),
    );
    (ids, more, rest).prop_map(|(ids, more, rest)| {
        let (task, id, shadow, eta, expires, group, group_index, retries) = ids;
        let (hard, soft, root_id, parent_id, argsrepr, kwargsrepr, origin, ignore_result) = more;
        let (replaced_task_nesting, stamped_headers, stamps, extra, lang) = rest;
        TaskHeaders {
            lang,
            task: TaskName::new(task).unwrap(),
            id,
            shadow,
            eta,
            expires,
            group: group.map(|g| GroupId::new(g).unwrap()),
            group_index,
            retries,
            timelimit: TimeLimit { hard, soft },
            root_id,
            parent_id,
            argsrepr,
            kwargsrepr,
            origin,
            ignore_result,
            replaced_task_nesting,
            stamped_headers,
            stamps,
            extra: extra
                .into_iter()
                .filter(|(k, _)| !KNOWN_HEADERS.contains(&k.as_str()) && k != "compression")
                .collect(),
        }
    })
}

fn message() -> impl Strategy<Value = TaskMessage> {
    let props = (
        option::of(".*"),
        option::of(".+"),
        option::of(any::<u8>()),
        option::of(any::<u8>()),
        option::of("[0-9]{1,10}"),
    );
    (
        headers(),
        vec(json_value(), 0..4),
        json_map(),
        embed(),
        props,
    )
        .prop_map(|(headers, args, kwargs, embed, p)| TaskMessage {
            protocol: ProtocolVersion::V2,
            headers,
            body: TaskBody {
                args,
                kwargs,
                embed,
            },
            properties: TaskProperties {
                correlation_id: p.0,
                reply_to: p.1,
                delivery_mode: p.2,
                priority: p.3,
                expiration: p.4,
            },
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_decode_is_identity(m in message()) {
        let wire = m.to_wire();
        let back = TaskMessage::from_wire(&wire).unwrap();
        prop_assert_eq!(back, m);
    }

    #[test]
    fn reply_encode_then_decode_is_identity(
        id in task_id(),
        state in prop::sample::select(TaskState::ALL.to_vec()),
        result in json_value(),
        traceback in option::of(".*"),
        children in vec(json_value(), 0..3),
        date_done in option::of(time()),
    ) {
        let mut reply = Reply::success(id, result);
        reply.status = state;
        reply.traceback = traceback;
        reply.children = children;
        reply.date_done = date_done;
        let wire = reply.to_wire(None);
        prop_assert_eq!(Reply::decode(&wire.properties, &wire.headers, &wire.body).unwrap(), reply);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        body in vec(any::<u8>(), 0..256),
        content_type in option::of(prop::sample::select(vec!["application/json", "application/x-yaml", "text/plain", ""])),
        encoding in option::of(prop::sample::select(vec!["utf-8", "binary", "latin-1"])),
        headers in btree_map(prop::sample::select(vec!["task", "id", "eta", "expires", "retries", "timelimit", "group", "stamps", "compression", "x"]).prop_map(str::to_owned), header_value(), 0..6),
    ) {
        let props = Properties {
            content_type: content_type.map(str::to_owned),
            content_encoding: encoding.map(str::to_owned),
            ..Properties::default()
        };
        let _ = TaskMessage::decode(&props, &headers, &body);
        let _ = Reply::decode(&props, &headers, &body);
    }

    #[test]
    fn decoding_arbitrary_json_and_headers_never_panics(
        body in json_value(),
        headers in btree_map(prop::sample::select(KNOWN_HEADERS.to_vec()).prop_map(str::to_owned), header_value(), 0..8),
    ) {
        let props = Properties { content_type: Some("application/json".into()), ..Properties::default() };
        let bytes = serde_json::to_vec(&body).unwrap();
        let _ = TaskMessage::decode(&props, &headers, &bytes);
        let _ = Reply::decode(&props, &HeaderTable::new(), &bytes);
        let _ = ExceptionInfo::from_json(&body);
        let _ = args_repr(std::slice::from_ref(&body), ArgsReprStyle::Tuple);
        if let Value::Object(map) = &body {
            let _ = kwargs_repr(map);
        }
    }

    #[test]
    fn iso8601_emit_then_parse_round_trips(t in time()) {
        prop_assert_eq!(parse_iso8601(&format_iso8601(&t)).unwrap(), t);
    }

    #[test]
    fn iso8601_parse_never_panics(s in ".{0,40}", digits in "[0-9T:.,+Z W-]{0,32}") {
        let _ = parse_iso8601(&s);
        let _ = parse_iso8601(&digits);
    }
}
