//! The error types of this crate: what can go wrong when decoding a message or a reply.
//!
//! Display strings are lowercase, carry the structured fields and never repeat the source's text;
//! the source is reachable through [`std::error::Error::source`].

use crate::content::ContentType;

/// Why a task message or a result reply could not be decoded.
///
/// Every variant is a permanent property of the message: redelivering it will not help, so a
/// worker rejects it without requeue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A known but refused serializer (pickle, yaml, msgpack): Celery's default `accept_content`
    /// is JSON only, and so is ours.
    #[error("content type {content_type} is refused: only application/json is accepted")]
    RefusedContentType {
        /// The refused content type.
        content_type: ContentType,
    },
    /// A content type that no Celery serializer uses.
    #[error("unknown content type {content_type:?}")]
    UnknownContentType {
        /// The content type as it arrived (a message property, not a secret).
        content_type: String,
    },
    /// The message has no `content_type` property.
    #[error("message has no content type")]
    MissingContentType,
    /// A content encoding other than utf-8 (or kombu's `binary`) for a JSON body.
    #[error("unsupported content encoding {encoding:?}")]
    UnsupportedEncoding {
        /// The content encoding as it arrived.
        encoding: String,
    },
    /// The body is compressed (`compression` header); no decompressor is built in.
    #[error("compressed bodies are not supported (compression {compression:?})")]
    Compressed {
        /// The compressor's content type from the `compression` header.
        compression: String,
    },
    /// The body bytes are not UTF-8.
    #[error("body is not valid utf-8")]
    NotUtf8 {
        /// Where the first invalid byte is.
        #[source]
        source: std::str::Utf8Error,
    },
    /// The body is not JSON.
    #[error("body is not valid json")]
    InvalidJson {
        /// The parser's error (line and column).
        #[source]
        source: serde_json::Error,
    },
    /// A required field (`id`, `task`, `args`, a reply's `status`...) is absent or null.
    #[error("message has no {field}")]
    MissingField {
        /// The field's name, e.g. `id` or `embed.chain[].task`.
        field: &'static str,
    },
    /// A field is present but has the wrong type or an out-of-range value.
    #[error("field {field} is invalid: expected {expected}")]
    WrongType {
        /// The field's name.
        field: &'static str,
        /// What was expected, e.g. `a list` or `a non-negative integer`.
        expected: &'static str,
    },
    /// The body is valid JSON but not the shape the protocol needs.
    #[error("body has the wrong shape: expected {expected}")]
    BodyShape {
        /// What was expected.
        expected: &'static str,
    },
    /// An `eta`/`expires`/`date_done` value that is not ISO 8601.
    #[error("field {field} is not a valid iso 8601 time")]
    BadTime {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        #[source]
        source: TimeError,
    },
    /// A result reply whose `status` is not one of Celery's states.
    #[error("unknown task state {state:?}")]
    UnknownState {
        /// The state as it arrived.
        state: String,
    },
}

/// Why a string is not an ISO 8601 time that `dateutil.parser.isoparse` would accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// The text does not follow the ISO 8601 grammar.
    #[error("malformed iso 8601 time: {reason}")]
    Malformed {
        /// Which part is wrong.
        reason: &'static str,
    },
    /// The fields parse but name no real instant (month 13, Feb 30, offset ≥ 24 h...).
    #[error("iso 8601 time is out of range")]
    OutOfRange,
}

/// Why a string cannot be an identifier ([`TaskId`](crate::TaskId), [`TaskName`](crate::TaskName)...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Identifiers must not be empty.
    #[error("{kind} must not be empty")]
    Empty {
        /// Which kind of identifier, e.g. `task id`.
        kind: &'static str,
    },
}
