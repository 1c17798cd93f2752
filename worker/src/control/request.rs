//! Owns one remote-control request as kombu's `Mailbox._publish` sends it (`{"method",
//! "arguments", "destination", "pattern", "matcher", "ticket", "reply_to": {"exchange",
//! "routing_key"}}`, JSON, header `clock`), whether it is addressed to this node
//! (`Node.handle_message`), the reply message (`Mailbox._publish_reply`), and
//! [`ControlError`]: why a message was dropped.

use celeriac_protocol::{HeaderValue, Properties, WireMessage};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Why a control message was dropped unanswered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ControlError {
    /// Not JSON (the only serializer our mailbox accepts, as Celery's default `accept_content`).
    #[error("control message has content type {content_type:?}; only application/json is accepted")]
    ContentType {
        /// What the message said.
        content_type: String,
    },
    /// The body is not a control request.
    #[error("control message is not a valid request")]
    Body(#[source] serde_json::Error),
}

/// Where a reply goes.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub(crate) struct ReplyTo {
    pub(crate) exchange: String,
    pub(crate) routing_key: String,
}

/// A decoded control request.
#[derive(Debug, Deserialize)]
pub(crate) struct ControlRequest {
    pub(crate) method: String,
    #[serde(default)]
    pub(crate) arguments: Option<Map<String, Value>>,
    #[serde(default)]
    destination: Option<Value>,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    matcher: Option<String>,
    #[serde(default)]
    pub(crate) ticket: Option<String>,
    #[serde(default)]
    pub(crate) reply_to: Option<ReplyTo>,
}

impl ControlRequest {
    /// Decodes a request; the `clock` header is returned alongside (0 when absent).
    pub(crate) fn from_wire(wire: &WireMessage) -> Result<(Self, u64), ControlError> {
        let content_type = wire.properties.content_type.as_deref().unwrap_or("");
        if content_type != "application/json" {
            return Err(ControlError::ContentType {
                content_type: content_type.to_owned(),
            });
        }
        let request = serde_json::from_slice(&wire.body).map_err(ControlError::Body)?;
        let clock = match wire.headers.get("clock") {
            Some(HeaderValue::Int(c)) => u64::try_from(*c).unwrap_or(0),
            _ => 0,
        };
        Ok((request, clock))
    }

    /// The arguments (an absent or null table is empty).
    pub(crate) fn arguments(&self) -> Map<String, Value> {
        self.arguments.clone().unwrap_or_default()
    }

    /// Whether `node` should run this request: it is named in `destination`, or no destination
    /// is given and `pattern` matches (glob `matcher`), or neither is given (a broadcast).
    pub(crate) fn is_for(&self, node: &str) -> bool {
        match &self.destination {
            Some(Value::Array(names)) if !names.is_empty() => {
                names.iter().any(|n| n.as_str() == Some(node))
            }
            // Python's `hostname in destination` on a string is a substring test.
            Some(Value::String(s)) if !s.is_empty() => s.contains(node),
            _ => match (&self.pattern, self.matcher.as_deref()) {
                (Some(pattern), Some("glob")) if !pattern.is_empty() => glob(pattern, node),
                (Some(pattern), Some(matcher)) if !pattern.is_empty() && !matcher.is_empty() => {
                    tracing::debug!(
                        matcher,
                        "remote control: unsupported matcher; not for this node"
                    );
                    false
                }
                _ => true,
            },
        }
    }
}

/// `fnmatch`-style matching of `*` and `?` (kombu's default `glob` matcher).
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The reply kombu's `Node.reply` sends: `{node: reply}` as JSON, headers `ticket` and `clock`,
/// transient.
pub(crate) fn reply_message(
    node: &str,
    reply: Value,
    ticket: Option<&str>,
    clock: u64,
) -> WireMessage {
    let mut body = Map::new();
    body.insert(node.to_owned(), reply);
    let ticket = ticket.map_or(HeaderValue::Null, |t| HeaderValue::Str(t.to_owned()));
    WireMessage {
        properties: Properties {
            content_type: Some("application/json".to_owned()),
            content_encoding: Some("utf-8".to_owned()),
            delivery_mode: Some(1),
            priority: Some(0),
            ..Properties::default()
        },
        headers: [
            ("ticket".to_owned(), ticket),
            (
                "clock".to_owned(),
                HeaderValue::Int(i64::try_from(clock).unwrap_or(i64::MAX)),
            ),
        ]
        .into_iter()
        .collect(),
        body: Value::Object(body).to_string().into_bytes(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn wire(body: &str) -> WireMessage {
        WireMessage {
            properties: Properties {
                content_type: Some("application/json".into()),
                ..Properties::default()
            },
            headers: [("clock".to_owned(), HeaderValue::Int(7))]
                .into_iter()
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn decodes_kombu_requests_and_refuses_the_rest() {
        let (r, clock) = ControlRequest::from_wire(&wire(
            r#"{"method": "ping", "arguments": {}, "destination": null, "pattern": null,
                "matcher": null, "ticket": "t-1",
                "reply_to": {"exchange": "reply.celery.pidbox", "routing_key": "oid"}}"#,
        ))
        .unwrap();
        assert_eq!((r.method.as_str(), clock), ("ping", 7));
        assert_eq!(r.ticket.as_deref(), Some("t-1"));
        assert_eq!(r.reply_to.as_ref().unwrap().routing_key, "oid");
        assert!(r.is_for("a@h"));
        assert!(matches!(
            ControlRequest::from_wire(&wire("[1]")),
            Err(ControlError::Body(_))
        ));
        assert!(matches!(
            ControlRequest::from_wire(&wire(r#"{"arguments": {}}"#)),
            Err(ControlError::Body(_))
        ));
        let mut pickle = wire("{}");
        pickle.properties.content_type = Some("application/x-python-serialize".into());
        assert!(matches!(
            ControlRequest::from_wire(&pickle),
            Err(ControlError::ContentType { .. })
        ));
    }

    #[test]
    fn destination_and_pattern() {
        let req = |extra: &str| {
            ControlRequest::from_wire(&wire(&format!(r#"{{"method": "ping"{extra}}}"#)))
                .unwrap()
                .0
        };
        assert!(req(r#", "destination": ["a@h", "b@h"]"#).is_for("b@h"));
        assert!(!req(r#", "destination": ["a@h"]"#).is_for("b@h"));
        assert!(req(r#", "destination": []"#).is_for("b@h"));
        assert!(req(r#", "pattern": "celeriac@*", "matcher": "glob""#).is_for("celeriac@x1"));
        assert!(!req(r#", "pattern": "celery@?", "matcher": "glob""#).is_for("celeriac@x"));
        assert!(!req(r#", "pattern": "^c", "matcher": "pcre""#).is_for("celeriac@x"));
        assert!(glob("a*b?c*", "axxbyczz") && !glob("a*b", "ac"));
    }

    #[test]
    fn reply_is_keyed_by_node_with_ticket_and_clock() {
        let m = reply_message("n@h", serde_json::json!({"ok": "pong"}), Some("t-1"), 3);
        let body: Value = serde_json::from_slice(&m.body).unwrap();
        assert_eq!(body, serde_json::json!({"n@h": {"ok": "pong"}}));
        assert_eq!(m.headers["ticket"], HeaderValue::Str("t-1".into()));
        assert_eq!(m.headers["clock"], HeaderValue::Int(3));
        assert_eq!(m.properties.delivery_mode, Some(1));
    }
}
