//! Owns the conversion between lapin's message types and the protocol crate's, the one place
//! they meet: `BasicProperties` + `FieldTable` ⇄ [`Properties`] + [`HeaderTable`]. The worker
//! (deliveries, replies, retries) and beat (task messages) both go through it. When sending,
//! only the value types that py-amqp and amq-protocol read alike are emitted (`S`, `I`, `l`,
//! `t`, `V`, `A`, `F`, `d`, `T`).

use celeriac_protocol::{HeaderTable, HeaderValue, Properties, WireMessage};
use lapin::BasicProperties;
use lapin::types::{
    AMQPValue, ByteArray, DecimalValue, FieldArray, FieldTable, LongString, ShortString,
};

/// A lapin delivery's properties, headers and body as plain data.
pub fn wire_from_amqp(properties: &BasicProperties, body: Vec<u8>) -> WireMessage {
    let text = |s: &Option<ShortString>| s.as_ref().map(|s| s.as_str().to_owned());
    WireMessage {
        properties: Properties {
            content_type: text(properties.content_type()),
            content_encoding: text(properties.content_encoding()),
            correlation_id: text(properties.correlation_id()),
            reply_to: text(properties.reply_to()),
            delivery_mode: *properties.delivery_mode(),
            priority: *properties.priority(),
            expiration: text(properties.expiration()),
        },
        headers: properties
            .headers()
            .as_ref()
            .map(table_from_amqp)
            .unwrap_or_default(),
        body,
    }
}

/// Properties (with headers) for publishing a protocol message through lapin.
pub fn amqp_properties(properties: &Properties, headers: &HeaderTable) -> BasicProperties {
    let mut out = BasicProperties::default();
    if let Some(v) = &properties.content_type {
        out = out.with_content_type(v.as_str().into());
    }
    if let Some(v) = &properties.content_encoding {
        out = out.with_content_encoding(v.as_str().into());
    }
    if let Some(v) = &properties.correlation_id {
        out = out.with_correlation_id(v.as_str().into());
    }
    if let Some(v) = &properties.reply_to {
        out = out.with_reply_to(v.as_str().into());
    }
    if let Some(v) = properties.delivery_mode {
        out = out.with_delivery_mode(v);
    }
    if let Some(v) = properties.priority {
        out = out.with_priority(v);
    }
    if let Some(v) = &properties.expiration {
        out = out.with_expiration(v.as_str().into());
    }
    if !headers.is_empty() {
        out = out.with_headers(table_to_amqp(headers));
    }
    out
}

fn table_from_amqp(table: &FieldTable) -> HeaderTable {
    table
        .inner()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), value_from_amqp(v)))
        .collect()
}

fn value_from_amqp(value: &AMQPValue) -> HeaderValue {
    match value {
        AMQPValue::Boolean(b) => HeaderValue::Bool(*b),
        AMQPValue::ShortShortInt(i) => HeaderValue::Int(i64::from(*i)),
        AMQPValue::ShortShortUInt(i) => HeaderValue::Int(i64::from(*i)),
        AMQPValue::ShortInt(i) => HeaderValue::Int(i64::from(*i)),
        AMQPValue::ShortUInt(i) => HeaderValue::Int(i64::from(*i)),
        AMQPValue::LongInt(i) => HeaderValue::Int(i64::from(*i)),
        AMQPValue::LongUInt(i) => HeaderValue::Int(i64::from(*i)),
        AMQPValue::LongLongInt(i) => HeaderValue::Int(*i),
        AMQPValue::Float(f) => HeaderValue::Float(f64::from(*f)),
        AMQPValue::Double(f) => HeaderValue::Float(*f),
        AMQPValue::DecimalValue(d) => HeaderValue::Decimal {
            scale: d.scale,
            value: d.value.cast_signed(),
        },
        AMQPValue::ShortString(s) => HeaderValue::Str(s.as_str().to_owned()),
        AMQPValue::LongString(s) => match std::str::from_utf8(s.as_bytes()) {
            Ok(text) => HeaderValue::Str(text.to_owned()),
            Err(_) => HeaderValue::Bytes(s.as_bytes().to_vec()),
        },
        AMQPValue::FieldArray(items) => {
            HeaderValue::List(items.as_slice().iter().map(value_from_amqp).collect())
        }
        AMQPValue::Timestamp(t) => HeaderValue::Timestamp(*t),
        AMQPValue::FieldTable(t) => HeaderValue::Table(table_from_amqp(t)),
        AMQPValue::ByteArray(b) => HeaderValue::Bytes(b.as_slice().to_vec()),
        AMQPValue::Void => HeaderValue::Null,
    }
}

fn table_to_amqp(table: &HeaderTable) -> FieldTable {
    let mut out = FieldTable::default();
    for (k, v) in table {
        out.insert(ShortString::from(k.as_str()), value_to_amqp(v));
    }
    out
}

fn value_to_amqp(value: &HeaderValue) -> AMQPValue {
    match value {
        HeaderValue::Null => AMQPValue::Void,
        HeaderValue::Bool(b) => AMQPValue::Boolean(*b),
        HeaderValue::Int(i) => match i32::try_from(*i) {
            Ok(small) => AMQPValue::LongInt(small),
            Err(_) => AMQPValue::LongLongInt(*i),
        },
        HeaderValue::Float(f) => AMQPValue::Double(*f),
        HeaderValue::Str(s) => AMQPValue::LongString(LongString::from(s.as_str())),
        HeaderValue::Bytes(b) => AMQPValue::ByteArray(ByteArray::from(b.as_slice())),
        HeaderValue::Decimal { scale, value } => AMQPValue::DecimalValue(DecimalValue {
            scale: *scale,
            value: value.cast_unsigned(),
        }),
        HeaderValue::Timestamp(t) => AMQPValue::Timestamp(*t),
        HeaderValue::List(items) => AMQPValue::FieldArray(FieldArray::from(
            items.iter().map(value_to_amqp).collect::<Vec<_>>(),
        )),
        HeaderValue::Table(t) => AMQPValue::FieldTable(table_to_amqp(t)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn headers_and_properties_round_trip() {
        let mut headers = HeaderTable::new();
        headers.insert("task".into(), HeaderValue::str("celery.accumulate"));
        headers.insert("retries".into(), HeaderValue::Int(2));
        headers.insert("big".into(), HeaderValue::Int(1 << 40));
        headers.insert("eta".into(), HeaderValue::Null);
        headers.insert("flag".into(), HeaderValue::Bool(true));
        headers.insert("f".into(), HeaderValue::Float(1.5));
        headers.insert(
            "timelimit".into(),
            HeaderValue::List(vec![HeaderValue::Int(10), HeaderValue::Null]),
        );
        let mut stamps = HeaderTable::new();
        stamps.insert("k".into(), HeaderValue::str("v"));
        headers.insert("stamps".into(), HeaderValue::Table(stamps));
        let props = Properties {
            content_type: Some("application/json".into()),
            content_encoding: Some("utf-8".into()),
            correlation_id: Some("id-1".into()),
            reply_to: Some("oid".into()),
            delivery_mode: Some(2),
            priority: Some(0),
            expiration: Some("1000".into()),
        };
        let amqp = amqp_properties(&props, &headers);
        let back = wire_from_amqp(&amqp, b"[]".to_vec());
        assert_eq!(back.properties, props);
        assert_eq!(back.headers, headers);
        assert_eq!(back.body, b"[]");
        let table = amqp.headers().as_ref().unwrap();
        assert!(matches!(
            table.inner().get("retries"),
            Some(AMQPValue::LongInt(2))
        ));
        assert!(matches!(
            table.inner().get("big"),
            Some(AMQPValue::LongLongInt(_))
        ));
    }

    #[test]
    fn non_utf8_long_strings_become_bytes() {
        let mut t = FieldTable::default();
        t.insert(
            "b".into(),
            AMQPValue::LongString(LongString::from(vec![0xff, 0xfe])),
        );
        t.insert("s".into(), AMQPValue::ShortString("x".into()));
        let h = table_from_amqp(&t);
        assert_eq!(h["b"], HeaderValue::Bytes(vec![0xff, 0xfe]));
        assert_eq!(h["s"], HeaderValue::str("x"));
    }
}
