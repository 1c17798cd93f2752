//! [`TaskBuilder`]: builds protocol v2 messages the way `Celery.send_task` does (for the
//! scheduler and any producer), and [`TaskMessage::retry`] builds a retry republish.
//!
//! The crate has no clock: everything relative (`countdown`, `expires_in`, the `expiration`
//! property) takes the caller's `now`.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use crate::body::{Signature, TaskBody};
use crate::headers::{TaskHeaders, X_DEATH_HEADERS};
use crate::ids::{GroupId, TaskId, TaskName};
use crate::message::{ProtocolVersion, TaskMessage, TaskProperties};
use crate::repr::{ArgsReprStyle, args_repr, kwargs_repr};
use crate::time::truncate_to_micros;
use crate::value::HeaderValue;

/// Builds a [`TaskMessage`] with Celery 5.6's defaults: a UUID4 id, `root_id = id`,
/// `correlation_id = id`, `lang = "py"`, `delivery_mode = 2`, `priority = 0`, `argsrepr`/
/// `kwargsrepr` computed with `saferepr`, `ignore_result = false`.
#[derive(Debug, Clone)]
#[must_use]
pub struct TaskBuilder {
    headers: TaskHeaders,
    body: TaskBody,
    properties: TaskProperties,
    args_style: ArgsReprStyle,
}

impl TaskMessage {
    /// Starts building a message for `task`.
    pub fn builder(task: TaskName) -> TaskBuilder {
        let mut headers = TaskHeaders::new(task, TaskId::new_v4());
        headers.lang = Some("py".into());
        TaskBuilder {
            headers,
            body: TaskBody::default(),
            properties: TaskProperties {
                correlation_id: None,
                reply_to: None,
                delivery_mode: Some(2),
                priority: Some(0),
                expiration: None,
            },
            args_style: ArgsReprStyle::Tuple,
        }
    }

    /// The message a worker republishes to retry this task, as `Task.retry` does: same id,
    /// `retries + 1`, the new `eta`, everything else carried over (links, chain, chord, group,
    /// root/parent ids, time limits, `reply_to`, origin, priority, stamps, custom headers minus
    /// RabbitMQ's `x-death` family). `expires` is kept, and the `expiration` property is
    /// recomputed against `now` (clamped at 0) as `send_task` does. `argsrepr`/`kwargsrepr` are
    /// recomputed (args as a tuple), and a missing `parent_id` becomes the task's own id, as a
    /// Python worker's retry does (checked against the `retry_republish` fixture).
    #[must_use]
    pub fn retry(&self, eta: DateTime<Utc>, now: DateTime<Utc>) -> TaskMessage {
        let mut next = self.clone();
        next.protocol = ProtocolVersion::V2;
        let h = &mut next.headers;
        h.retries = h.retries.saturating_add(1);
        h.eta = Some(truncate_to_micros(eta));
        h.argsrepr = Some(args_repr(&next.body.args, ArgsReprStyle::Tuple));
        h.kwargsrepr = Some(kwargs_repr(&next.body.kwargs));
        h.extra
            .retain(|k, _| !X_DEATH_HEADERS.contains(&k.as_str()));
        if h.root_id.is_none() {
            h.root_id = Some(h.id.clone());
        }
        // Python sends the retry from inside the task, so send_task fills a missing parent_id
        // with the current task's own id.
        if h.parent_id.is_none() {
            h.parent_id = Some(h.id.clone());
        }
        next.properties.expiration = h.expires.map(|at| expiration_ms(at, now));
        if next.properties.correlation_id.is_none() {
            next.properties.correlation_id = Some(h.id.to_string());
        }
        next
    }
}

/// kombu's `str(int(seconds * 1000))`, with a past expiry clamped to 0 as `send_task` does.
fn expiration_ms(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let micros = (at - now).num_microseconds().unwrap_or(i64::MAX).max(0);
    (micros / 1000).to_string()
}

fn seconds(secs: f64) -> Duration {
    // Saturate absurd values instead of panicking; Python would raise on them.
    #[allow(clippy::cast_possible_truncation)] // clamped to ±1e15 µs first
    let micros = (secs * 1e6).clamp(-1e15, 1e15) as i64;
    Duration::microseconds(micros)
}

impl TaskBuilder {
    /// Sets the task id (default: a fresh UUID4). Also the `correlation_id` and default `root_id`.
    pub fn id(mut self, id: TaskId) -> Self {
        self.headers.id = id;
        self
    }

    /// Positional arguments.
    pub fn args(mut self, args: Vec<Value>) -> Self {
        self.body.args = args;
        self
    }

    /// How `argsrepr` shows the args: a tuple (`delay`, the default) or a list (`send_task(args=[…])`).
    pub fn args_style(mut self, style: ArgsReprStyle) -> Self {
        self.args_style = style;
        self
    }

    /// Keyword arguments (order kept).
    pub fn kwargs(mut self, kwargs: Map<String, Value>) -> Self {
        self.body.kwargs = kwargs;
        self
    }

    /// Run no earlier than `eta` (truncated to microseconds).
    pub fn eta(mut self, eta: DateTime<Utc>) -> Self {
        self.headers.eta = Some(truncate_to_micros(eta));
        self
    }

    /// `countdown=secs`: eta = `now + secs` (0 means no eta, as in Python).
    pub fn countdown(self, secs: f64, now: DateTime<Utc>) -> Self {
        if secs == 0.0 {
            return self;
        }
        self.eta(now + seconds(secs))
    }

    /// `expires=<datetime>`: the `expires` header plus the `expiration` property (ms from `now`).
    pub fn expires_at(mut self, at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        let at = truncate_to_micros(at);
        self.headers.expires = Some(at);
        self.properties.expiration = Some(expiration_ms(at, now));
        self
    }

    /// `expires=<seconds>`: expires at `now + secs`.
    pub fn expires_in(self, secs: f64, now: DateTime<Utc>) -> Self {
        self.expires_at(now + seconds(secs), now)
    }

    /// Message priority (0–255; RabbitMQ needs `x-max-priority` on the queue).
    pub fn priority(mut self, priority: u8) -> Self {
        self.properties.priority = Some(priority);
        self
    }

    /// Delivery mode (2 persistent by default, 1 transient).
    pub fn delivery_mode(mut self, mode: u8) -> Self {
        self.properties.delivery_mode = Some(mode);
        self
    }

    /// The rpc reply queue; leave unset when nobody reads replies (sent as `""`).
    pub fn reply_to(mut self, queue: impl Into<String>) -> Self {
        self.properties.reply_to = Some(queue.into());
        self
    }

    /// `origin` header: the sender's node name (Python: `gen<pid>@<host>`).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.headers.origin = Some(origin.into());
        self
    }

    /// `lang` header (default `py`, which is what Python clients send).
    pub fn lang(mut self, lang: impl Into<String>) -> Self {
        self.headers.lang = Some(lang.into());
        self
    }

    /// `shadow`: display name in logs.
    pub fn shadow(mut self, name: impl Into<String>) -> Self {
        self.headers.shadow = Some(name.into());
        self
    }

    /// Adds a `link` (success callback).
    pub fn link(mut self, sig: Signature) -> Self {
        self.body
            .embed
            .callbacks
            .get_or_insert_with(Vec::new)
            .push(sig);
        self
    }

    /// Adds a `link_error` (failure callback).
    pub fn link_error(mut self, sig: Signature) -> Self {
        self.body
            .embed
            .errbacks
            .get_or_insert_with(Vec::new)
            .push(sig);
        self
    }

    /// Remaining chain steps in wire order (reversed: the last one runs next).
    pub fn chain(mut self, reversed_steps: Vec<Signature>) -> Self {
        self.body.embed.chain = Some(reversed_steps);
        self
    }

    /// Chord callback (this task is a chord header member).
    pub fn chord(mut self, callback: Signature) -> Self {
        self.body.embed.chord = Some(callback);
        self
    }

    /// Group membership.
    pub fn group(mut self, group: GroupId, index: Option<u32>) -> Self {
        self.headers.group = Some(group);
        self.headers.group_index = index;
        self
    }

    /// Hard time limit in seconds (`time_limit`).
    pub fn time_limit(mut self, secs: f64) -> Self {
        self.headers.timelimit.hard = Some(secs);
        self
    }

    /// Soft time limit in seconds (`soft_time_limit`).
    pub fn soft_time_limit(mut self, secs: f64) -> Self {
        self.headers.timelimit.soft = Some(secs);
        self
    }

    /// First task of the workflow (default: this task's id).
    pub fn root_id(mut self, id: TaskId) -> Self {
        self.headers.root_id = Some(id);
        self
    }

    /// The task that sends this one.
    pub fn parent_id(mut self, id: TaskId) -> Self {
        self.headers.parent_id = Some(id);
        self
    }

    /// Retry count (0 for a first send).
    pub fn retries(mut self, retries: u32) -> Self {
        self.headers.retries = retries;
        self
    }

    /// Ask workers not to store a result.
    pub fn ignore_result(mut self, ignore: bool) -> Self {
        self.headers.ignore_result = ignore;
        self
    }

    /// A custom header (Python's `headers={…}`); it overrides a standard one of the same name.
    pub fn header(mut self, name: impl Into<String>, value: HeaderValue) -> Self {
        self.headers.extra.insert(name.into(), value);
        self
    }

    /// Finishes the message.
    pub fn build(self) -> TaskMessage {
        let TaskBuilder {
            mut headers,
            body,
            mut properties,
            args_style,
            ..
        } = self;
        if headers.root_id.is_none() {
            headers.root_id = Some(headers.id.clone());
        }
        headers.argsrepr = Some(args_repr(&body.args, args_style));
        headers.kwargsrepr = Some(kwargs_repr(&body.kwargs));
        properties.correlation_id = Some(headers.id.to_string());
        TaskMessage {
            protocol: ProtocolVersion::V2,
            headers,
            body,
            properties,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-08-20T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn builds_python_defaults() {
        let m = TaskMessage::builder(TaskName::new("tasks.add").unwrap())
            .args(vec![json!(2), json!(2)])
            .build();
        let h = &m.headers;
        assert_eq!(h.root_id.as_ref(), Some(&h.id));
        assert_eq!(m.properties.correlation_id.as_deref(), Some(h.id.as_str()));
        assert_eq!(h.argsrepr.as_deref(), Some("(2, 2)"));
        assert_eq!(h.kwargsrepr.as_deref(), Some("{}"));
        let wire = m.to_wire();
        assert_eq!(wire.properties.reply_to.as_deref(), Some(""));
        assert_eq!(wire.properties.delivery_mode, Some(2));
        assert_eq!(
            String::from_utf8(wire.body).unwrap(),
            r#"[[2, 2], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#
        );
    }

    #[test]
    fn countdown_and_expires_use_the_given_now() {
        let m = TaskMessage::builder(TaskName::new("t").unwrap())
            .countdown(10.5, now())
            .expires_in(60.0, now())
            .build();
        let wire = m.to_wire();
        assert_eq!(
            wire.headers["eta"],
            HeaderValue::str("2026-08-20T10:00:10.500000+00:00")
        );
        assert_eq!(
            wire.headers["expires"],
            HeaderValue::str("2026-08-20T10:01:00+00:00")
        );
        assert_eq!(wire.properties.expiration.as_deref(), Some("60000"));
    }

    #[test]
    fn retry_keeps_identity_and_bumps_retries() {
        let original = TaskMessage::builder(TaskName::new("t").unwrap())
            .args(vec![json!(1)])
            .expires_at(now() + Duration::seconds(30), now())
            .reply_to("oid")
            .header("x-death", HeaderValue::List(vec![]))
            .header("x-tenant", HeaderValue::str("a"))
            .build();
        let later = now() + Duration::seconds(40);
        let retry = original.retry(later + Duration::seconds(5), later);
        assert_eq!(retry.headers.id, original.headers.id);
        assert_eq!(retry.headers.retries, 1);
        assert_eq!(retry.headers.eta, Some(later + Duration::seconds(5)));
        assert_eq!(retry.headers.argsrepr.as_deref(), Some("(1,)"));
        assert_eq!(retry.headers.parent_id.as_ref(), Some(&original.headers.id));
        assert_eq!(retry.properties.expiration.as_deref(), Some("0"));
        assert_eq!(retry.properties.reply_to.as_deref(), Some("oid"));
        assert!(!retry.headers.extra.contains_key("x-death"));
        assert!(retry.headers.extra.contains_key("x-tenant"));
    }
}
