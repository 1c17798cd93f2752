//! [`HeaderValue`]: AMQP field-table values, independent of any AMQP client library.
//!
//! It covers every type py-amqp can put in a header table. The worker converts lapin's
//! `AMQPValue`/`FieldTable` to and from it in one small function; nothing here knows lapin.
//!
//! When *sending*, keep to the types both py-amqp and amq-protocol read the same way: `S`
//! (long string), `I`/`l` (integers), `t`, `V`, `A`, `F`, `d`. See `docs/celery-compat.md`.

use std::collections::BTreeMap;

use serde_json::Value;

/// A header table: AMQP field tables are unordered maps with short-string keys.
pub type HeaderTable = BTreeMap<String, HeaderValue>;

/// One AMQP field-table value.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderValue {
    /// `V`: Python `None`.
    Null,
    /// `t`.
    Bool(bool),
    /// Every integer width (`b B s u I i l L`): py-amqp sends `I` for |v| < 2³¹ and `L` above.
    Int(i64),
    /// `d` (and `f`, widened).
    Float(f64),
    /// `S`: a long string that is valid UTF-8 (py-amqp sends `str` this way).
    Str(String),
    /// `x`, or an `S` whose bytes are not UTF-8.
    Bytes(Vec<u8>),
    /// `D`: `value × 10^-scale`.
    Decimal {
        /// Number of decimal digits after the point.
        scale: u8,
        /// The unscaled value.
        value: i32,
    },
    /// `T`: seconds since the Unix epoch (py-amqp sends `datetime` this way).
    Timestamp(u64),
    /// `A`.
    List(Vec<HeaderValue>),
    /// `F`.
    Table(HeaderTable),
}

impl HeaderValue {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Self {
        HeaderValue::Str(s.into())
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            HeaderValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, HeaderValue::Null)
    }

    /// Converts a JSON value the way py-amqp would send the equivalent Python object:
    /// integers that fit `i64` stay integers, other numbers become floats, objects become tables.
    pub fn from_json(value: &Value) -> Self {
        match value {
            Value::Null => HeaderValue::Null,
            Value::Bool(b) => HeaderValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => HeaderValue::Int(i),
                None => HeaderValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => HeaderValue::Str(s.clone()),
            Value::Array(items) => HeaderValue::List(items.iter().map(Self::from_json).collect()),
            Value::Object(map) => HeaderValue::Table(
                map.iter()
                    .map(|(k, v)| (k.clone(), Self::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts to JSON the way Python code would see the value after py-amqp decoded it.
    ///
    /// Lossy where JSON has no equivalent: non-finite floats become `null`, bytes that are not
    /// UTF-8 become a lossy string, a decimal becomes a float, a timestamp becomes its seconds.
    pub fn to_json(&self) -> Value {
        match self {
            HeaderValue::Null => Value::Null,
            HeaderValue::Bool(b) => Value::Bool(*b),
            HeaderValue::Int(i) => Value::from(*i),
            HeaderValue::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
            }
            HeaderValue::Str(s) => Value::String(s.clone()),
            HeaderValue::Bytes(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
            HeaderValue::Decimal { scale, value } => {
                let scaled = f64::from(*value) / 10f64.powi(i32::from(*scale));
                serde_json::Number::from_f64(scaled).map_or(Value::Null, Value::Number)
            }
            HeaderValue::Timestamp(t) => Value::from(*t),
            HeaderValue::List(items) => Value::Array(items.iter().map(Self::to_json).collect()),
            HeaderValue::Table(table) => Value::Object(
                table
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl From<&str> for HeaderValue {
    fn from(s: &str) -> Self {
        HeaderValue::Str(s.to_owned())
    }
}

impl From<String> for HeaderValue {
    fn from(s: String) -> Self {
        HeaderValue::Str(s)
    }
}

impl From<bool> for HeaderValue {
    fn from(b: bool) -> Self {
        HeaderValue::Bool(b)
    }
}

impl From<i64> for HeaderValue {
    fn from(i: i64) -> Self {
        HeaderValue::Int(i)
    }
}

impl From<u32> for HeaderValue {
    fn from(i: u32) -> Self {
        HeaderValue::Int(i64::from(i))
    }
}

impl From<f64> for HeaderValue {
    fn from(f: f64) -> Self {
        HeaderValue::Float(f)
    }
}

impl<T: Into<HeaderValue>> From<Option<T>> for HeaderValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(HeaderValue::Null, Into::into)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_through_header_values() {
        let v = json!({"a": [1, -2, 2.5, "x", null, true], "b": {"c": 9_000_000_000_i64}});
        assert_eq!(HeaderValue::from_json(&v).to_json(), v);
    }

    #[test]
    fn lossy_conversions_are_defined() {
        assert_eq!(HeaderValue::Float(f64::NAN).to_json(), Value::Null);
        assert_eq!(
            HeaderValue::Decimal {
                scale: 2,
                value: 150
            }
            .to_json(),
            json!(1.5)
        );
        assert_eq!(HeaderValue::Bytes(vec![0xff]).to_json(), json!("\u{fffd}"));
    }
}
