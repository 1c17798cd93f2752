//! Content types and encodings: which serializers exist, which one we accept (JSON only), and the
//! body-to-JSON step shared by task messages and result replies.

use std::fmt;

use serde_json::Value;

use crate::error::DecodeError;
use crate::value::{HeaderTable, HeaderValue};
use crate::wire::Properties;

/// The serializers kombu registers, by MIME type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentType {
    /// `application/json`: the only accepted one (Celery's default `accept_content`).
    Json,
    /// `application/x-msgpack`: refused (not implemented).
    Msgpack,
    /// `application/x-yaml`: refused (insecure serializer).
    Yaml,
    /// `application/x-python-serialize` (pickle): refused (insecure serializer).
    Pickle,
}

impl ContentType {
    /// The MIME type as it goes in the `content_type` property.
    pub fn as_mime(self) -> &'static str {
        match self {
            ContentType::Json => "application/json",
            ContentType::Msgpack => "application/x-msgpack",
            ContentType::Yaml => "application/x-yaml",
            ContentType::Pickle => "application/x-python-serialize",
        }
    }

    /// Recognises a MIME type (exact, as kombu compares it).
    pub fn from_mime(mime: &str) -> Option<Self> {
        [
            ContentType::Json,
            ContentType::Msgpack,
            ContentType::Yaml,
            ContentType::Pickle,
        ]
        .into_iter()
        .find(|ct| ct.as_mime() == mime)
    }

    /// Whether bodies of this type are decoded (only JSON).
    pub fn is_accepted(self) -> bool {
        self == ContentType::Json
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_mime())
    }
}

/// The `content_encoding` we emit for JSON.
pub(crate) const UTF8: &str = "utf-8";

/// Checks the properties and `compression` header, then parses the body as JSON.
///
/// Accepted: `content_type` exactly `application/json`; `content_encoding` absent, `utf-8`/`utf8`
/// (any case) or kombu's `binary`; no `compression` header.
pub(crate) fn json_body(
    properties: &Properties,
    headers: &HeaderTable,
    body: &[u8],
) -> Result<Value, DecodeError> {
    check_content_type(properties.content_type.as_deref())?;
    check_encoding(properties.content_encoding.as_deref())?;
    if let Some(compression) = headers.get("compression").filter(|v| !v.is_null()) {
        let compression = match compression {
            HeaderValue::Str(s) => s.clone(),
            other => format!("{other:?}"),
        };
        return Err(DecodeError::Compressed { compression });
    }
    let text = std::str::from_utf8(body).map_err(|source| DecodeError::NotUtf8 { source })?;
    serde_json::from_str(text).map_err(|source| DecodeError::InvalidJson { source })
}

fn check_content_type(content_type: Option<&str>) -> Result<(), DecodeError> {
    let raw = content_type.ok_or(DecodeError::MissingContentType)?;
    match ContentType::from_mime(raw) {
        Some(ct) if ct.is_accepted() => Ok(()),
        Some(ct) => Err(DecodeError::RefusedContentType { content_type: ct }),
        None => Err(DecodeError::UnknownContentType {
            content_type: raw.to_owned(),
        }),
    }
}

fn check_encoding(encoding: Option<&str>) -> Result<(), DecodeError> {
    match encoding {
        None | Some("binary") => Ok(()),
        Some(e) if e.eq_ignore_ascii_case("utf-8") || e.eq_ignore_ascii_case("utf8") => Ok(()),
        Some(other) => Err(DecodeError::UnsupportedEncoding {
            encoding: other.to_owned(),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn props(ct: &str, enc: &str) -> Properties {
        Properties {
            content_type: Some(ct.into()),
            content_encoding: Some(enc.into()),
            ..Properties::default()
        }
    }

    #[test]
    fn pickle_and_yaml_are_refused_by_name() {
        for (mime, ct) in [
            ("application/x-python-serialize", ContentType::Pickle),
            ("application/x-yaml", ContentType::Yaml),
            ("application/x-msgpack", ContentType::Msgpack),
        ] {
            let err = json_body(&props(mime, "binary"), &HeaderTable::new(), b"x").unwrap_err();
            assert!(
                matches!(err, DecodeError::RefusedContentType { content_type } if content_type == ct)
            );
            assert!(err.to_string().contains(mime), "{err}");
        }
    }

    #[test]
    fn unknown_type_bad_encoding_compression_and_bad_bytes_are_typed_errors() {
        let h = HeaderTable::new();
        assert!(matches!(
            json_body(&props("text/plain", "utf-8"), &h, b"1"),
            Err(DecodeError::UnknownContentType { .. })
        ));
        assert!(matches!(
            json_body(&Properties::default(), &h, b"1"),
            Err(DecodeError::MissingContentType)
        ));
        assert!(matches!(
            json_body(&props("application/json", "latin-1"), &h, b"1"),
            Err(DecodeError::UnsupportedEncoding { .. })
        ));
        assert!(matches!(
            json_body(&props("application/json", "utf-8"), &h, b"\xff"),
            Err(DecodeError::NotUtf8 { .. })
        ));
        assert!(matches!(
            json_body(&props("application/json", "utf-8"), &h, b"[1,"),
            Err(DecodeError::InvalidJson { .. })
        ));
        let mut ch = HeaderTable::new();
        ch.insert("compression".into(), HeaderValue::str("application/x-gzip"));
        assert!(matches!(
            json_body(&props("application/json", "utf-8"), &ch, b"1"),
            Err(DecodeError::Compressed { .. })
        ));
    }

    #[test]
    fn json_in_utf8_or_binary_is_accepted() {
        let h = HeaderTable::new();
        for enc in ["utf-8", "UTF-8", "utf8", "binary"] {
            assert_eq!(
                json_body(&props("application/json", enc), &h, b"[1]").unwrap(),
                serde_json::json!([1])
            );
        }
    }
}
