//! Owns the set of queues the worker consumes ([`Queues`]) and remote control's
//! `add_consumer` / `cancel_consumer`, answered as Celery's `celery/worker/control.py` answers
//! them (`{"ok": "add consumer <queue>"}`, `{"ok": "no longer consuming from <queue>"}`, also
//! when the queue was already consumed or not consumed).
//!
//! The set outlives connections: each new session consumes what it holds, so a queue added at
//! runtime is consumed again after a reconnect, and a cancelled one is not. On a live session
//! the change is made by the delivery loop itself ([`apply`]), between two deliveries: the new
//! consumer joins the loop's stream before any other delivery is registered, which keeps the ack
//! ledger's tag-order invariant (`acks.rs`). After a `basic.cancel`, the deliveries the broker
//! already sent are still taken from the consumer's stream and run as usual; none is dropped.

use std::sync::{Mutex, MutexGuard, PoisonError};

use celeriac_broker::{BrokerError, Deliveries, QueueSpec, Session};
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::consumer::error_chain;

/// A change the delivery loop makes to its session's consumers.
pub(crate) enum QueueChange {
    /// Declare and consume a queue; the answer is whether it worked.
    Add(QueueSpec, oneshot::Sender<Result<(), BrokerError>>),
    /// Stop consuming a queue.
    Cancel(String, oneshot::Sender<()>),
}

/// How many changes may wait for the delivery loop (remote control sends one at a time).
pub(crate) const CHANGES_BUFFER: usize = 4;

/// The queues to consume, and the way to the live session's delivery loop.
pub(crate) struct Queues {
    current: Mutex<Vec<QueueSpec>>,
    /// Declaration arguments for a queue added by name.
    spec_of: Box<dyn Fn(&str) -> QueueSpec + Send + Sync>,
    /// The delivery loop's inbox while a session is live.
    loop_inbox: Mutex<Option<mpsc::Sender<QueueChange>>>,
}

impl Queues {
    /// The configured queues; `spec_of` declares a queue added by name.
    pub(crate) fn new(
        initial: Vec<QueueSpec>,
        spec_of: impl Fn(&str) -> QueueSpec + Send + Sync + 'static,
    ) -> Self {
        Self {
            current: Mutex::new(initial),
            spec_of: Box::new(spec_of),
            loop_inbox: Mutex::new(None),
        }
    }

    /// The queues consumed now, in order.
    pub(crate) fn current(&self) -> Vec<QueueSpec> {
        lock(&self.current).clone()
    }

    /// True when no queue is to be consumed (all were cancelled).
    pub(crate) fn is_empty(&self) -> bool {
        lock(&self.current).is_empty()
    }

    /// Connects a live session's delivery loop; its changes come out of the returned receiver
    /// until [`Queues::detach`].
    pub(crate) fn attach(&self) -> mpsc::Receiver<QueueChange> {
        let (tx, rx) = mpsc::channel(CHANGES_BUFFER);
        *lock(&self.loop_inbox) = Some(tx);
        rx
    }

    /// The session's delivery loop is over.
    pub(crate) fn detach(&self) {
        lock(&self.loop_inbox).take();
    }

    fn inbox(&self) -> Option<mpsc::Sender<QueueChange>> {
        lock(&self.loop_inbox).clone()
    }

    /// `add_consumer`: consume `queue` (declared as configured, else as a plain Celery queue).
    pub(crate) async fn add(&self, args: &Map<String, Value>) -> Value {
        let Some(queue) = args.get("queue").and_then(Value::as_str) else {
            return super::commands::missing("add_consumer", "queue");
        };
        if let Some(refusal) = custom_binding(queue, args) {
            return refusal;
        }
        let answer = json!({ "ok": format!("add consumer {queue}") });
        if lock(&self.current).iter().any(|q| q.name == queue) {
            return answer;
        }
        if queue.is_empty() || queue.len() > 255 {
            return json!({ "error": format!("queue name {queue:?} is not a valid AMQP queue name") });
        }
        let spec = (self.spec_of)(queue);
        if let Some(inbox) = self.inbox() {
            let (done, result) = oneshot::channel();
            if inbox
                .send(QueueChange::Add(spec.clone(), done))
                .await
                .is_ok()
                && let Ok(Err(err)) = result.await
            {
                tracing::warn!(queue, cause = %error_chain(&err), "remote control: cannot consume the added queue");
                return json!({ "error": format!("cannot consume {queue}: {}", error_chain(&err)) });
            }
        }
        tracing::info!(queue, "remote control: started consuming from a queue");
        lock(&self.current).push(spec);
        answer
    }

    /// `cancel_consumer`: stop consuming `queue`.
    pub(crate) async fn cancel(&self, args: &Map<String, Value>) -> Value {
        let Some(queue) = args.get("queue").and_then(Value::as_str) else {
            return super::commands::missing("cancel_consumer", "queue");
        };
        let answer = json!({ "ok": format!("no longer consuming from {queue}") });
        let was_consumed = {
            let mut current = lock(&self.current);
            let before = current.len();
            current.retain(|q| q.name != queue);
            current.len() != before
        };
        if !was_consumed {
            return answer;
        }
        tracing::info!(queue, "remote control: canceling queue");
        if let Some(inbox) = self.inbox() {
            let (done, finished) = oneshot::channel();
            if inbox
                .send(QueueChange::Cancel(queue.to_owned(), done))
                .await
                .is_ok()
            {
                let _ = finished.await;
            }
        }
        answer
    }
}

/// Makes `change` on the live session (called by the delivery loop).
pub(crate) async fn apply(session: &Session, deliveries: &mut Deliveries, change: QueueChange) {
    match change {
        QueueChange::Add(spec, done) => {
            let result = session.consume_queue(&spec).await.map(|consumer| {
                deliveries.push(consumer);
            });
            let _ = done.send(result);
        }
        QueueChange::Cancel(queue, done) => {
            if !session.cancel_queue(&queue).await {
                tracing::debug!(%queue, "remote control: no consumer of this queue on this connection");
            }
            let _ = done.send(());
        }
    }
}

/// Celery lets `add_consumer` bind the queue to another exchange or routing key; this worker
/// declares added queues only as Celery does by default (exchange and routing key = the queue's
/// name, direct), and refuses anything else rather than consume something other than asked.
fn custom_binding(queue: &str, args: &Map<String, Value>) -> Option<Value> {
    let given = |key: &str| {
        args.get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let custom = given("exchange").is_some_and(|e| e != queue)
        || given("routing_key").is_some_and(|r| r != queue)
        || given("exchange_type").is_some_and(|t| t != "direct");
    custom.then(|| {
        json!({ "error": format!(
            "add consumer {queue}: only the default binding is supported (exchange and routing key {queue:?}, type direct)"
        ) })
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use celeriac_broker::QueueType;

    fn spec(name: &str) -> QueueSpec {
        QueueSpec {
            name: name.into(),
            max_priority: None,
            queue_type: QueueType::Classic,
        }
    }

    fn args(v: &Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[tokio::test]
    async fn answers_like_celery_without_a_session() {
        let q = Queues::new(vec![spec("a")], |n| QueueSpec {
            max_priority: Some(5),
            ..spec(n)
        });
        assert_eq!(
            q.add(&args(&json!({"queue": "b"}))).await,
            json!({"ok": "add consumer b"})
        );
        assert_eq!(
            q.add(&args(&json!({"queue": "a"}))).await,
            json!({"ok": "add consumer a"}),
            "already consumed: same answer, nothing changes"
        );
        let names: Vec<String> = q.current().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(
            q.current()[1].max_priority,
            Some(5),
            "declared as configured"
        );
        assert_eq!(
            q.cancel(&args(&json!({"queue": "a"}))).await,
            json!({"ok": "no longer consuming from a"})
        );
        assert_eq!(
            q.cancel(&args(&json!({"queue": "zz"}))).await,
            json!({"ok": "no longer consuming from zz"})
        );
        assert_eq!(q.current().len(), 1);
        assert_eq!(
            q.add(&Map::new()).await,
            json!({"error": "TypeError(\"add_consumer() missing 1 required positional argument: 'queue'\")"})
        );
        assert!(
            q.add(&args(&json!({"queue": "c", "exchange": "other"})))
                .await
                .get("error")
                .is_some()
        );
        assert!(
            q.add(&args(
                &json!({"queue": "c", "exchange": "c", "exchange_type": "direct"})
            ))
            .await
            .get("ok")
            .is_some()
        );
        q.cancel(&args(&json!({"queue": "b"}))).await;
        q.cancel(&args(&json!({"queue": "c"}))).await;
        assert!(q.is_empty());
    }
}
