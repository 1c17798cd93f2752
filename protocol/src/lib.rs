//! The Celery message protocol as pure data: decode task messages a Python client sends, encode
//! messages a Python worker accepts, and write/read rpc:// result replies. No I/O, no async, no
//! AMQP client: the worker converts lapin's types to [`WireMessage`] and back in one function.
//!
//! # Brief overview
//!
//! * [`WireMessage`] = [`Properties`] + header table ([`HeaderTable`] of [`HeaderValue`]) + body
//!   bytes: an AMQP message as plain data.
//! * [`TaskMessage`]: [`TaskHeaders`], [`TaskBody`] (args, kwargs, [`Embed`] of [`Signature`]s)
//!   and [`TaskProperties`]. [`TaskMessage::decode`] reads protocol v2, v1 and the v1/v2 hybrid;
//!   [`TaskMessage::to_wire`] writes protocol v2 byte-for-byte like Celery 5.6.3's `send_task`.
//! * [`TaskMessage::builder`] ([`TaskBuilder`]) makes new messages (the scheduler);
//!   [`TaskMessage::retry`] makes the retry republish (the worker).
//! * [`Reply`] and [`ExceptionInfo`]/[`PyException`]: rpc:// replies for STARTED, SUCCESS,
//!   FAILURE, RETRY and REVOKED, which Python's `AsyncResult.get()` understands.
//! * [`TaskState`], [`TaskId`], [`GroupId`], [`TaskName`]; [`parse_iso8601`]/[`format_iso8601`];
//!   [`args_repr`]/[`kwargs_repr`] (Python `saferepr`); [`unwrap_kombu`].
//! * [`DecodeError`]: every way a message can be refused. Decoding never panics.
//!
//! ```text
//!  lapin Delivery ──(worker: 1 fn)──► WireMessage ──TaskMessage::decode──► TaskMessage
//!                                                                           │  run task
//!  lapin publish ◄──(worker: 1 fn)─── WireMessage ◄──Reply::to_wire─────── Reply
//!                                     WireMessage ◄──TaskMessage::to_wire── TaskMessage::retry / builder
//! ```
//!
//! Not modelled: msgpack/pickle/yaml bodies and compressed bodies (typed errors), events and
//! remote control messages, native delayed delivery. See `docs/celery-compat.md`.
//!
//! # Example
//!
//! ```
//! use celeriac_protocol::{TaskMessage, TaskName, Reply, TaskState};
//! use serde_json::json;
//!
//! let msg = TaskMessage::builder(TaskName::new("tasks.add")?)
//!     .args(vec![json!(2), json!(2)])
//!     .origin("celeriac@host")
//!     .reply_to("reply-queue")
//!     .build();
//! let wire = msg.to_wire();
//! assert_eq!(wire.properties.content_type.as_deref(), Some("application/json"));
//!
//! let decoded = TaskMessage::from_wire(&wire)?;
//! assert_eq!(decoded, msg);
//! assert_eq!(decoded.headers.argsrepr.as_deref(), Some("(2, 2)"));
//!
//! let reply = Reply::success(decoded.headers.id.clone(), json!(4));
//! let out = reply.to_wire(decoded.properties.correlation_id.as_deref());
//! assert_eq!(Reply::decode(&out.properties, &out.headers, &out.body)?.status, TaskState::Success);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod body;
mod builder;
mod content;
mod error;
mod headers;
mod ids;
mod message;
mod pyjson;
mod reply;
mod repr;
mod state;
mod time;
mod value;
mod wire;

pub use body::{Embed, Signature, TaskBody, unwrap_kombu};
pub use builder::TaskBuilder;
pub use content::ContentType;
pub use error::{DecodeError, IdError, TimeError};
pub use headers::{KNOWN_HEADERS, TaskHeaders, TimeLimit, X_DEATH_HEADERS};
pub use ids::{GroupId, TaskId, TaskName};
pub use message::{ProtocolVersion, TaskMessage, TaskProperties};
pub use reply::{ExceptionInfo, PyException, Reply};
pub use repr::{ArgsReprStyle, REPR_MAXSIZE, args_repr, kwargs_repr, py_float_repr, value_repr};
pub use state::TaskState;
pub use time::{format_iso8601, parse_iso8601, truncate_to_micros};
pub use value::{HeaderTable, HeaderValue};
pub use wire::{Properties, WireMessage};
