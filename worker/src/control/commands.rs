//! Owns the remote-control commands: what this worker answers to each `method`, shaped as
//! Celery's `celery/worker/control.py` answers it (`ping`, `hello`, `stats`, `active`,
//! `reserved`, `scheduled`, `revoked`, `registered`, `active_queues`, `conf`, `query_task`,
//! `clock`, `report`, `revoke`, `terminate`, `shutdown`, `enable_events`, `disable_events`,
//! `heartbeat`, `rate_limit`, `time_limit`, and the `dump_*` aliases; `add_consumer` and
//! `cancel_consumer` are in `consumers.rs`). An unknown
//! method answers `{"error": "KeyError('<method>')"}` and a missing argument a `TypeError`, as
//! Python's `Node.dispatch` does.

use std::sync::Arc;

use celeriac_broker::{BrokerInfo, QueueSpec, QueueType};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::consumers::Queues;
use super::state::Phase;
use crate::config::positive_seconds;
use crate::consumer::Shared;
use crate::rate_limit::{RateLimit, RateLimitError};

/// What a command leads to.
#[derive(Debug, PartialEq)]
pub(crate) enum Answer {
    /// Reply with this value (if the request asked for a reply).
    Reply(Value),
    /// Never reply (Python's `shutdown` raises `SystemExit` before replying).
    Silent,
}

/// The node as remote control sees it: the shared worker parts and the facts `stats`,
/// `active_queues` and `conf` report, fixed at startup (`stats` reads the prefetch count in
/// force from the window's metrics: Python reports its current QoS value).
pub(crate) struct Node {
    pub(crate) shared: Arc<Shared>,
    pub(crate) concurrency: u32,
    /// The queues consumed (changed by `add_consumer` / `cancel_consumer`).
    pub(crate) queues: Queues,
    pub(crate) broker: BrokerInfo,
    /// The `conf` answer.
    pub(crate) conf: Value,
    /// Fired by `shutdown`: the worker's own shutdown token (a warm shutdown).
    pub(crate) shutdown: CancellationToken,
}

fn ok(text: impl Into<String>) -> Value {
    json!({ "ok": text.into() })
}

/// Python's `repr(exc)` of an exception with one string argument.
fn py_repr(class: &str, message: &str) -> String {
    let quoted = if message.contains('\'') && !message.contains('"') {
        format!("\"{message}\"")
    } else {
        format!("'{}'", message.replace('\'', "\\'"))
    };
    format!("{class}({quoted})")
}

/// `{"error": repr(exc)}`, as kombu's `Node.dispatch` answers a command that raised.
fn py_error(class: &str, message: &str) -> Value {
    json!({ "error": py_repr(class, message) })
}

/// Python's `TypeError` for a call without a required argument.
pub(super) fn missing(method: &str, argument: &str) -> Value {
    py_error(
        "TypeError",
        &format!("{method}() missing 1 required positional argument: '{argument}'"),
    )
}

fn nok(text: impl Into<String>) -> Value {
    json!({ "error": text.into() })
}

/// A string or a list of strings (Celery's `maybe_list`), else `None`.
fn string_list(value: Option<&Value>) -> Option<Vec<String>> {
    match value? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

/// Python's truthiness of a JSON argument (`strtobool` for strings the CLI sends).
fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => matches!(
            s.to_ascii_lowercase().as_str(),
            "1" | "y" | "yes" | "t" | "true" | "on"
        ),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

impl Node {
    fn hostname(&self) -> &str {
        &self.shared.hostname
    }

    /// Runs `method` with `args`.
    pub(crate) fn dispatch(&self, method: &str, args: &Map<String, Value>) -> Answer {
        let state = &self.shared.state;
        let reply = match method {
            "ping" => ok("pong"),
            "hello" => self.hello(args),
            "stats" => self.stats(),
            "active" | "dump_active" => requests(state.infos(
                |p| matches!(p, Phase::Active { .. }),
                truthy(args.get("safe")),
            )),
            "reserved" | "dump_reserved" => requests(state.infos(|p| p == Phase::Reserved, false)),
            "scheduled" | "dump_schedule" => Value::Array(
                state
                    .infos(|p| p == Phase::Scheduled, false)
                    .into_iter()
                    .map(|(info, eta)| json!({"eta": eta, "priority": 6, "request": info}))
                    .collect(),
            ),
            "revoked" | "dump_revoked" => Value::Array(
                state
                    .revoked()
                    .into_iter()
                    .map(|(id, _)| id.into())
                    .collect(),
            ),
            "registered" | "dump_tasks" => self.registered(args),
            "active_queues" => {
                Value::Array(self.queues.current().iter().map(queue_as_dict).collect())
            }
            "rate_limit" => self.rate_limit(args),
            "time_limit" => self.time_limit(args),
            "conf" | "dump_conf" => self.conf.clone(),
            "query_task" => match string_list(args.get("ids")) {
                Some(ids) => Value::Object(state.query(&ids)),
                None => missing("query_task", "ids"),
            },
            "clock" => json!({ "clock": state.clock() }),
            "report" => ok(report()),
            "enable_events" => self.task_events(true),
            "disable_events" => self.task_events(false),
            "heartbeat" => {
                tracing::debug!("remote control: heartbeat requested");
                crate::events::heartbeat_now(&self.shared);
                Value::Null
            }
            "revoke" => self.revoke(args, "revoke", truthy(args.get("terminate"))),
            "terminate" => self.revoke(args, "terminate", true),
            "shutdown" => {
                let msg = args
                    .get("msg")
                    .and_then(Value::as_str)
                    .unwrap_or("Got shutdown from remote");
                tracing::warn!(%msg, "remote control: shutdown requested");
                self.shutdown.cancel();
                return Answer::Silent;
            }
            other => py_error("KeyError", other),
        };
        Answer::Reply(reply)
    }

    /// `enable_events` / `disable_events`: task events on or off.
    fn task_events(&self, on: bool) -> Value {
        let was = self.shared.events.set_task_events(on);
        let word = if on { "enabled" } else { "disabled" };
        if was == on {
            ok(format!("task events already {word}"))
        } else {
            tracing::info!("remote control: task events {word}");
            ok(format!("task events {word}"))
        }
    }

    fn hello(&self, args: &Map<String, Value>) -> Value {
        let Some(from) = args.get("from_node").and_then(Value::as_str) else {
            return missing("hello", "from_node");
        };
        if from == self.hostname() {
            return Value::Null;
        }
        tracing::info!(node = %from, "remote control: sync with node");
        if let Some(Value::Object(revoked)) = args.get("revoked") {
            let entries: Vec<(String, f64)> = revoked
                .iter()
                .filter_map(|(id, at)| {
                    let at = match at {
                        Value::Array(a) => a.first()?.as_f64()?,
                        v => v.as_f64()?,
                    };
                    Some((id.clone(), at))
                })
                .collect();
            self.shared.state.merge_revoked(&entries);
        }
        let revoked: Map<String, Value> = self
            .shared
            .state
            .revoked()
            .into_iter()
            .map(|(id, at)| (id, json!(at)))
            .collect();
        json!({ "revoked": revoked, "clock": self.shared.state.clock_forward() })
    }

    fn stats(&self) -> Value {
        let state = &self.shared.state;
        let pid = std::process::id();
        let b = &self.broker;
        json!({
            "total": state.totals(),
            "pid": pid,
            "clock": state.clock().to_string(),
            "uptime": state.uptime_secs(),
            "pool": {
                "implementation": "celeriac:tokio",
                "max-concurrency": self.concurrency,
                "processes": [pid],
                "max-tasks-per-child": "N/A",
                "put-guarded-by-semaphore": false,
                "timeouts": [0, 0],
            },
            "broker": {
                "hostname": b.hostname,
                "userid": b.userid,
                "virtual_host": b.virtual_host,
                "port": b.port,
                "insist": false,
                "ssl": b.ssl,
                "transport": "amqp",
                "connect_timeout": Value::Null,
                "transport_options": {},
                "login_method": "PLAIN",
                "uri_prefix": Value::Null,
                "heartbeat": Value::Null,
                "failover_strategy": "round-robin",
                "alternates": [],
            },
            "prefetch_count": self.shared.metrics.window.in_force(),
            "rusage": "N/A",
        })
    }

    fn registered(&self, args: &Map<String, Value>) -> Value {
        let builtins = truthy(args.get("builtins"));
        let items = string_list(args.get("taskinfoitems"))
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| {
                ["exchange", "routing_key", "rate_limit"]
                    .map(str::to_owned)
                    .to_vec()
            });
        let registry = &self.shared.registry;
        let names = registry
            .names()
            .into_iter()
            .filter(|n| builtins || !n.starts_with("celery."));
        Value::Array(
            names
                .map(|name| {
                    let fields: Vec<String> = items
                        .iter()
                        .filter_map(|item| {
                            let options = &registry.get(name)?.options;
                            self.task_attribute(name, options, item)
                                .map(|v| format!("{item}={v}"))
                        })
                        .collect();
                    if fields.is_empty() {
                        name.to_owned().into()
                    } else {
                        format!("{name} [{}]", fields.join(" ")).into()
                    }
                })
                .collect(),
        )
    }

    /// `str(getattr(task, item))` for the task attributes we have; `None` for those we do not
    /// (or that are `None`, which Celery leaves out too).
    fn task_attribute(
        &self,
        name: &str,
        o: &crate::task::TaskOptions,
        item: &str,
    ) -> Option<String> {
        let py_bool = |b: bool| if b { "True" } else { "False" }.to_owned();
        let secs = |d: std::time::Duration| format!("{:?}", d.as_secs_f64());
        let limits = &self.shared.limits;
        match item {
            "name" => Some(name.to_owned()),
            "acks_late" => Some(py_bool(o.acks_late)),
            "ignore_result" => Some(py_bool(o.ignore_result)),
            "track_started" => Some(py_bool(o.track_started)),
            "max_retries" => o.max_retries.map(|n| n.to_string()),
            "time_limit" => limits.time_limits(name, o).hard.map(secs),
            "soft_time_limit" => limits.time_limits(name, o).soft.map(secs),
            "rate_limit" => limits.rate_text(name),
            "default_retry_delay" => Some(secs(o.default_retry_delay)),
            _ => None,
        }
    }

    /// `rate_limit`: a new rate limit for a task (`"10/s"`, `"100/m"`, `"5/h"`; `0`, `""` or
    /// `null` removes it), with Celery's answers.
    fn rate_limit(&self, args: &Map<String, Value>) -> Value {
        let (task, rate) = match (args.get("task_name"), args.get("rate_limit")) {
            (Some(task), Some(rate)) => (task, rate),
            (None, None) => {
                return py_error(
                    "TypeError",
                    "rate_limit() missing 2 required positional arguments: 'task_name' and 'rate_limit'",
                );
            }
            (None, Some(_)) => return missing("rate_limit", "task_name"),
            (Some(_), None) => return missing("rate_limit", "rate_limit"),
        };
        let (parsed, text) = match rate_of(rate) {
            Ok(parsed) => parsed,
            Err(answer) => return answer,
        };
        let Some(task) = task
            .as_str()
            .filter(|t| self.shared.registry.get(t).is_some())
        else {
            tracing::error!(task = %task, "remote control: rate limit attempt for unknown task");
            return nok("unknown task");
        };
        self.shared.limits.set_rate(task, parsed.as_ref(), text);
        if python_falsy(rate) {
            tracing::info!(task, "remote control: rate limits disabled for task");
            return ok("rate limit disabled successfully");
        }
        if let Some(r) = &parsed {
            tracing::info!(task, rate = %r, "remote control: new rate limit");
        } else {
            tracing::info!(task, "remote control: rate limit of zero (no limit)");
        }
        ok("new rate limit set successfully")
    }

    /// `time_limit`: new soft and hard time limits for a task (a missing or null one: none).
    fn time_limit(&self, args: &Map<String, Value>) -> Value {
        let task = args.get("task_name").and_then(Value::as_str);
        let Some(task) = task.filter(|t| self.shared.registry.get(t).is_some()) else {
            tracing::error!(task = ?args.get("task_name"), "remote control: time limit change for unknown task");
            return nok("unknown task");
        };
        let (soft, hard) = match (seconds_of(args.get("soft")), seconds_of(args.get("hard"))) {
            (Ok(soft), Ok(hard)) => (soft, hard),
            (Err(bad), _) | (_, Err(bad)) => {
                return py_error(
                    "ValueError",
                    &format!("time limit must be a number of seconds ≥ 0, got {bad}"),
                );
            }
        };
        self.shared.limits.set_time_limits(task, soft, hard);
        tracing::info!(task, ?soft, ?hard, "remote control: new time limits");
        ok("time limits set successfully")
    }

    fn revoke(&self, args: &Map<String, Value>, method: &str, terminate: bool) -> Value {
        let Some(ids) = string_list(args.get("task_id")) else {
            return missing(method, "task_id");
        };
        let terminated = self.shared.state.revoke(&ids, terminate);
        if terminate {
            tracing::info!(tasks = ?ids, terminated = ?terminated, "remote control: revoke and terminate");
            return if terminated.is_empty() {
                ok("terminate: tasks unknown")
            } else {
                ok(format!("terminate: {}", terminated.join(", ")))
            };
        }
        tracing::info!(tasks = ?ids, "remote control: tasks flagged as revoked");
        let set: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
        ok(format!("tasks {{{}}} flagged as revoked", set.join(", ")))
    }
}

fn requests(infos: Vec<(Value, Option<String>)>) -> Value {
    Value::Array(infos.into_iter().map(|(info, _)| info).collect())
}

/// A `rate_limit` argument: the limit (`None`: no limit) and the text `registered` shows, or
/// Celery's error answer.
fn rate_of(rate: &Value) -> Result<(Option<RateLimit>, Option<String>), Value> {
    let text = match rate {
        Value::Null | Value::Bool(false) => return Ok((None, None)),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    match RateLimit::parse(&text) {
        Ok(parsed) => Ok((parsed, Some(text))),
        Err(RateLimitError::Unit { unit }) => Err(py_error("KeyError", &unit)),
        Err(err) => Err(nok(format!(
            "Invalid rate limit string: {}",
            py_repr("ValueError", &err.to_string())
        ))),
    }
}

/// Python's `not value` for a JSON value.
fn python_falsy(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64().is_none_or(|f| f == 0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// A `soft`/`hard` argument in seconds: `None` for none (missing, null or zero, as Celery
/// treats a zero limit), or the offending value.
fn seconds_of(value: Option<&Value>) -> Result<Option<std::time::Duration>, String> {
    let secs = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    };
    let bad = || value.map(ToString::to_string).unwrap_or_default();
    let duration = secs.and_then(positive_seconds).ok_or_else(bad)?;
    Ok((!duration.is_zero()).then_some(duration))
}

/// kombu's `Queue.as_dict(recurse=True)` for a queue declared as the worker declares it.
fn queue_as_dict(q: &QueueSpec) -> Value {
    let mut arguments = Map::new();
    if let Some(p) = q.max_priority {
        arguments.insert("x-max-priority".into(), json!(p));
    }
    if q.queue_type == QueueType::Quorum {
        arguments.insert("x-queue-type".into(), json!("quorum"));
    }
    let queue_arguments = if arguments.is_empty() {
        Value::Null
    } else {
        Value::Object(arguments)
    };
    json!({
        "name": q.name,
        "exchange": {
            "name": q.name,
            "type": "direct",
            "arguments": Value::Null,
            "durable": true,
            "passive": false,
            "auto_delete": false,
            "delivery_mode": Value::Null,
            "no_declare": false,
        },
        "routing_key": q.name,
        "queue_arguments": queue_arguments,
        "binding_arguments": Value::Null,
        "consumer_arguments": Value::Null,
        "durable": true,
        "exclusive": false,
        "auto_delete": false,
        "no_ack": false,
        "alias": Value::Null,
        "bindings": [],
        "no_declare": Value::Null,
        "expires": Value::Null,
        "message_ttl": Value::Null,
        "max_length": Value::Null,
        "max_length_bytes": Value::Null,
        "max_priority": Value::Null,
    })
}

/// The `report` text (Celery's `app.bugreport()`, for this worker).
fn report() -> String {
    format!(
        "software -> celeriac:{} (rust)\nplatform -> system:{} arch:{}\nsettings -> transport:amqp results:rpc://\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::control::state::WorkerState;
    use crate::metrics::Metrics;
    use crate::registry::Registry;
    use crate::task::{TaskOptions, task_fn};
    use std::sync::atomic::Ordering;
    use tokio::sync::Semaphore;

    fn node() -> Node {
        let mut registry = Registry::with_builtins();
        let options = TaskOptions {
            max_retries: Some(3),
            ..TaskOptions::default()
        };
        registry
            .register(task_fn("t.add", options, |_, _| async { Ok(Value::Null) }))
            .unwrap();
        let hostname: Arc<str> = "n@h".into();
        let metrics = Arc::new(Metrics::new(registry.names()));
        let (events, _) = crate::events::Events::new(
            &crate::events::EventSettings::default(),
            metrics.events.clone(),
        );
        let shared = Arc::new(Shared {
            metrics,
            limits: crate::task_limits::TaskLimits::new(&registry),
            registry,
            state: WorkerState::new(hostname.clone()),
            hostname,
            permits: Arc::new(Semaphore::new(1)),
            stop: CancellationToken::new(),
            abandon: CancellationToken::new(),
            events,
        });
        Node {
            shared,
            concurrency: 4,
            queues: Queues::new(
                vec![QueueSpec {
                    name: "q".into(),
                    max_priority: Some(10),
                    queue_type: QueueType::Classic,
                }],
                |name| QueueSpec {
                    name: name.into(),
                    max_priority: None,
                    queue_type: QueueType::Classic,
                },
            ),
            broker: celeriac_broker::BrokerUrl::parse("amqp://u:p@b:5672/%2f")
                .unwrap()
                .info(),
            conf: json!({"worker_concurrency": 4}),
            shutdown: CancellationToken::new(),
        }
    }

    fn call(n: &Node, method: &str, args: &Value) -> Value {
        match n.dispatch(method, args.as_object().unwrap()) {
            Answer::Reply(v) => v,
            Answer::Silent => panic!("{method}: no reply"),
        }
    }

    #[test]
    fn answers_like_celery() {
        let n = node();
        assert_eq!(call(&n, "ping", &json!({})), json!({"ok": "pong"}));
        assert_eq!(call(&n, "registered", &json!({})), json!(["t.add"]));
        let all = call(&n, "registered", &json!({"builtins": true}));
        assert!(
            all.as_array()
                .unwrap()
                .contains(&json!("celery.accumulate"))
        );
        assert_eq!(
            call(
                &n,
                "registered",
                &json!({"taskinfoitems": ["max_retries", "rate_limit"]})
            ),
            json!(["t.add [max_retries=3]"])
        );
        // the prefetch count in force (the window may be wider than the base)
        n.shared
            .metrics
            .window
            .in_force
            .store(16, Ordering::Relaxed);
        let stats = call(&n, "stats", &json!({}));
        assert_eq!(stats["pool"]["max-concurrency"], 4);
        assert_eq!(stats["broker"]["hostname"], "b");
        assert_eq!(stats["prefetch_count"], 16);
        assert!(stats["clock"].is_string());
        let queues = call(&n, "active_queues", &json!({}));
        assert_eq!(queues[0]["name"], "q");
        assert_eq!(queues[0]["exchange"]["type"], "direct");
        assert_eq!(queues[0]["queue_arguments"]["x-max-priority"], 10);
        assert_eq!(call(&n, "active", &json!({})), json!([]));
        assert_eq!(call(&n, "conf", &json!({}))["worker_concurrency"], 4);
        assert!(
            call(&n, "report", &json!({}))["ok"]
                .as_str()
                .unwrap()
                .contains("celeriac:")
        );
        assert_eq!(
            call(&n, "no_such", &json!({})),
            json!({"error": "KeyError('no_such')"})
        );
        assert_eq!(
            call(&n, "revoke", &json!({})),
            json!({"error": "TypeError(\"revoke() missing 1 required positional argument: 'task_id'\")"})
        );
    }

    #[test]
    fn revoke_hello_and_shutdown() {
        let n = node();
        assert_eq!(
            call(&n, "revoke", &json!({"task_id": "x1"})),
            json!({"ok": "tasks {'x1'} flagged as revoked"})
        );
        assert_eq!(
            call(&n, "revoke", &json!({"task_id": ["x2"], "terminate": true})),
            json!({"ok": "terminate: tasks unknown"})
        );
        assert_eq!(call(&n, "revoked", &json!({})), json!(["x1", "x2"]));
        assert_eq!(call(&n, "hello", &json!({"from_node": "n@h"})), Value::Null);
        let hello = call(
            &n,
            "hello",
            &json!({"from_node": "other@h", "revoked": {"y": 1.0e12}}),
        );
        let revoked = hello["revoked"].as_object().unwrap();
        assert!(revoked.contains_key("x1") && revoked.contains_key("y"));
        assert!(hello["clock"].as_u64().unwrap() >= 1);
        assert_eq!(n.dispatch("shutdown", &Map::new()), Answer::Silent);
        assert!(n.shutdown.is_cancelled());
    }

    #[test]
    fn events_on_and_off() {
        let n = node();
        let events = |on| {
            call(
                &n,
                if on {
                    "enable_events"
                } else {
                    "disable_events"
                },
                &json!({}),
            )
        };
        assert_eq!(events(true), json!({"ok": "task events enabled"}));
        assert!(n.shared.events.task_events());
        assert_eq!(events(true), json!({"ok": "task events already enabled"}));
        assert_eq!(events(false), json!({"ok": "task events disabled"}));
        assert_eq!(events(false), json!({"ok": "task events already disabled"}));
        assert!(!n.shared.events.task_events());
        assert_eq!(call(&n, "heartbeat", &json!({})), Value::Null);
    }

    #[test]
    fn rate_and_time_limits_like_celery() {
        let n = node();
        let rate = |task: Value, rate: Value| {
            call(
                &n,
                "rate_limit",
                &json!({"task_name": task, "rate_limit": rate}),
            )
        };
        assert_eq!(
            rate(json!("t.add"), json!("10/s")),
            json!({"ok": "new rate limit set successfully"})
        );
        assert_eq!(
            call(&n, "registered", &json!({}))[0],
            json!("t.add [rate_limit=10/s]")
        );
        assert_eq!(
            rate(json!("t.add"), json!("abc/m")),
            json!({"error": "Invalid rate limit string: ValueError(\"could not convert string to float: 'abc'\")"})
        );
        assert_eq!(
            rate(json!("t.add"), json!("5/d")),
            json!({"error": "KeyError('d')"})
        );
        assert_eq!(
            rate(json!("nope"), json!("5/m")),
            json!({"error": "unknown task"})
        );
        assert_eq!(
            rate(json!("nope"), json!("x")),
            json!({"error": "Invalid rate limit string: ValueError(\"could not convert string to float: 'x'\")"}),
            "the rate is checked before the task, as in Celery"
        );
        assert_eq!(
            rate(json!("t.add"), json!("0")),
            json!({"ok": "new rate limit set successfully"}),
            "Celery: the string \"0\" is truthy, yet means no limit"
        );
        assert_eq!(
            call(&n, "registered", &json!({}))[0],
            json!("t.add [rate_limit=0]")
        );
        assert_eq!(
            rate(json!("t.add"), Value::Null),
            json!({"ok": "rate limit disabled successfully"})
        );
        assert_eq!(call(&n, "registered", &json!({}))[0], json!("t.add"));
        assert_eq!(
            call(&n, "rate_limit", &json!({"task_name": "t.add"})),
            json!({"error": "TypeError(\"rate_limit() missing 1 required positional argument: 'rate_limit'\")"})
        );

        let limits = |args: Value| call(&n, "time_limit", &args);
        assert_eq!(
            limits(json!({"task_name": "t.add", "soft": 1.5, "hard": 3.0})),
            json!({"ok": "time limits set successfully"})
        );
        assert_eq!(
            call(
                &n,
                "registered",
                &json!({"taskinfoitems": ["soft_time_limit", "time_limit"]})
            ),
            json!(["t.add [soft_time_limit=1.5 time_limit=3.0]"])
        );
        assert_eq!(
            limits(json!({"task_name": "t.add", "soft": 2})),
            json!({"ok": "time limits set successfully"})
        );
        assert_eq!(
            call(
                &n,
                "registered",
                &json!({"taskinfoitems": ["soft_time_limit", "time_limit"]})
            ),
            json!(["t.add [soft_time_limit=2.0]"]),
            "a missing hard limit removes it, as in Celery"
        );
        assert_eq!(
            limits(json!({"task_name": "nope", "soft": 2})),
            json!({"error": "unknown task"})
        );
        assert_eq!(limits(json!({})), json!({"error": "unknown task"}));
        assert!(
            limits(json!({"task_name": "t.add", "hard": -1}))["error"]
                .as_str()
                .unwrap()
                .starts_with("ValueError(")
        );
    }
}
