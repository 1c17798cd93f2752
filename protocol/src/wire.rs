//! [`WireMessage`] and [`Properties`]: an AMQP message as plain data (properties, header table,
//! body bytes), which is what the worker converts lapin deliveries to and from.

use crate::value::HeaderTable;

/// The AMQP basic properties Celery uses, as they are on the wire (strings and small integers).
///
/// `headers` is kept apart, in [`WireMessage::headers`]. Properties Celery never sets
/// (`message_id`, `timestamp`, `type`, `user_id`, `app_id`) are not modelled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    /// MIME type of the body, e.g. `application/json`.
    pub content_type: Option<String>,
    /// Text encoding of the body, e.g. `utf-8` (kombu's `binary` for binary serializers).
    pub content_encoding: Option<String>,
    /// The task id on task messages; the task id again on rpc replies.
    pub correlation_id: Option<String>,
    /// The rpc reply queue (the client's `app.thread_oid`); Python sends `""` for "none".
    pub reply_to: Option<String>,
    /// 1 = transient, 2 = persistent.
    pub delivery_mode: Option<u8>,
    /// 0–255 (kombu documents 0–9); Python always sends one (default 0).
    pub priority: Option<u8>,
    /// Per-message TTL in milliseconds, as a decimal string (`str(int(seconds * 1000))`).
    pub expiration: Option<String>,
}

/// An AMQP message as plain data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WireMessage {
    /// Basic properties other than headers.
    pub properties: Properties,
    /// The application header table.
    pub headers: HeaderTable,
    /// The body bytes, exactly as published.
    pub body: Vec<u8>,
}
