#!/usr/bin/env python3
"""Prove that Python Celery accepts what our encoder produced (run by protocol/tests/python_accepts.rs).

Input: a JSON file (argv[1]) written by the Rust test with
  - "worker_queue", "reply_queue": unique queue names for this run;
  - "messages": task messages from TaskMessage::to_wire (properties, typed headers, body), each
    with "expect": what the task should see (its request fields as Python reads them);
  - "replies": rpc replies from Reply::to_wire, each with "expect": the value `AsyncResult.get()`
    returns, or the exception class/module/args it raises.

Task messages are published byte-for-byte with py-amqp to a queue consumed by a real Celery worker
(solo pool, fixture_tasks.echo returns the request it saw). Replies are published to the
client's own rpc queue, and a real `AsyncResult.get()` reads them. Exit 0 and print
"N passed, 0 failed" only if everything matched.
"""
import json
import os
import subprocess
import sys
import time

try:
    import amqp
    import celery
    import kombu
except ImportError as exc:  # the Rust test turns this into a failure with this message
    print(f"python celery is not installed ({exc}); run: pip install celery==5.6.3", file=sys.stderr)
    sys.exit(3)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
# scripts/test exports the broker URL; the default is the project's loopback RabbitMQ.
BROKER = os.environ.get("CELERIAC_TEST_AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672//"


def untyped(v):
    t = v["type"]
    if t == "null":
        return None
    if t == "list":
        return [untyped(x) for x in v["value"]]
    if t == "table":
        return {k: untyped(x) for k, x in v["value"].items()}
    return v["value"]


def publish(ch, wire, routing_key):
    p = {k: v for k, v in wire["properties"].items() if v is not None}
    msg = amqp.Message(wire["body"].encode("utf-8"), application_headers=untyped(
        {"type": "table", "value": wire["headers"]}), **p)
    ch.basic_publish(msg, exchange="", routing_key=routing_key)


def get_reply(ch, queue, task_id, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = ch.basic_get(queue, no_ack=True)
        if m is None:
            time.sleep(0.05)
            continue
        body = json.loads(m.body)
        if body["task_id"] == task_id and body["status"] in ("SUCCESS", "FAILURE", "REVOKED"):
            return body
    raise TimeoutError(f"no final reply for {task_id}")


def check_messages(spec, ch, failures):
    env = dict(os.environ, FIXTURE_BROKER=BROKER, FIXTURE_RETRY_QUEUE=spec["reply_queue"], PYTHONPATH=FIXTURES)
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "fixture_tasks", "worker", "-P", "solo",
                               "-Q", spec["worker_queue"], "--without-heartbeat", "--without-mingle",
                               "--without-gossip", "-l", "warning", "-n", f"accept-{os.getpid()}@localhost"],
                              cwd=FIXTURES, env=env)
    try:
        for case in spec["messages"]:
            publish(ch, case["wire"], spec["worker_queue"])
        for case in spec["messages"]:
            task_id = case["expect"]["id"]
            reply = get_reply(ch, spec["reply_queue"], task_id)
            if reply["status"] != "SUCCESS":
                failures.append((case["name"], f"worker answered {reply['status']}: {reply['result']}"))
                continue
            seen = reply["result"]
            for key, want in case["expect"].items():
                if seen.get(key) != want:
                    failures.append((case["name"], f"{key}: python saw {seen.get(key)!r}, expected {want!r}"))
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def check_replies(spec, failures):
    app = celery.Celery("accept_client", broker=BROKER, backend="rpc://")
    with app.producer_or_acquire() as producer:
        for case in spec["replies"]:
            task_id = case["expect"]["task_id"]
            app.backend.on_task_call(producer, task_id)  # declares the client's rpc queue
            wire = case["wire"]
            props = {k: v for k, v in wire["properties"].items() if v is not None}
            producer.channel.basic_publish(amqp.Message(wire["body"].encode("utf-8"), **props),
                                           exchange="", routing_key=app.thread_oid)
            expect = case["expect"]
            try:
                value = app.AsyncResult(task_id).get(timeout=20, propagate=True)
            except Exception as exc:  # noqa: BLE001 - the exception *is* the result here
                got = {"raises": type(exc).__name__, "module": type(exc).__module__, "args": list(exc.args)}
                want = {k: expect.get(k) for k in ("raises", "module", "args")}
                if got != want:
                    failures.append((case["name"], f"get() raised {got}, expected {want}"))
                continue
            if "value" not in expect or expect["value"] != value:
                failures.append((case["name"], f"get() returned {value!r}, expected {expect}"))


def main():
    spec = json.load(open(sys.argv[1], encoding="utf-8"))
    conn = kombu.Connection(BROKER)
    conn.connect()
    ch = conn.channel()  # the py-amqp channel: publishes our bytes and headers as given
    for q in (spec["worker_queue"], spec["reply_queue"]):
        ch.queue_declare(q, durable=True, auto_delete=False)
    failures = []
    try:
        check_messages(spec, ch, failures)
        check_replies(spec, failures)
    finally:
        for q in (spec["worker_queue"], spec["reply_queue"]):
            ch.queue_delete(q)
        conn.close()
    total = len(spec["messages"]) + len(spec["replies"])
    for name, what in failures:
        print(f"MISMATCH {name}: {what}")
    failed = len({name for name, _ in failures})
    print(f"python acceptance: {total - failed} passed, {failed} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
