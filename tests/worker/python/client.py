"""A tiny Celery client app for the worker's interop tests: the real Python Celery client
(send_task / delay, rpc:// results) talking to the worker under test.

Usage:
  client.py --broker URL --queue Q [--protocol 1|2] [--max-priority N] [--quorum] calls JSON
      JSON is a list of calls: {"name", "args", "kwargs", "via": "send_task"|"delay",
      "options": {...apply_async options...}, "timeout": seconds}. All calls are sent first,
      then each result is awaited with AsyncResult.get(); prints one JSON list of outcomes:
      {"id", "sent_at", "state", "value"} or {"id", "sent_at", "state", "error": {...}}.
  client.py --broker URL --queue Q publish JSON
      JSON: {"name", "args", "kwargs", "count", "reply_to"}: sends `count` tasks without
      waiting and prints their ids (results go to the given reply queue).
"""

import argparse
import json
import socket
import sys
import time

from celery import Celery
from celery.backends import rpc
from celery.exceptions import NotRegistered


def _drain_events_without_spurious_reconnects(self, timeout=None):
    """Celery 5.6.3's rpc ResultConsumer.drain_events counts its own drain timeout (1 s while
    result.get() waits; socket.timeout is an OSError, one of its "connection errors") as a lost
    connection and reconnects: it cancels its consumer, RabbitMQ deletes the auto-delete reply
    queue, and a reply published until the queue is declared again is lost, so get() times out
    with the task PENDING (it hit about one test run in two on a loaded machine, whatever the
    worker). Here a timeout is only a timeout, as before Celery 5.6; real connection errors still
    reconnect. The worker's side of it (republishing a reply whose queue is missing) is tested
    without this client (tests/worker/it/replies.rs)."""
    if not self._connection:
        if timeout:
            time.sleep(timeout)
        return None
    try:
        return self._connection.drain_events(timeout=timeout)
    except socket.timeout:
        raise
    except self._connection_errors:
        self._reconnect()
        return None


rpc.ResultConsumer.drain_events = _drain_events_without_spurious_reconnects


def make_app(args):
    app = Celery("celeriac_interop", broker=args.broker, backend="rpc://")
    app.conf.task_default_queue = args.queue
    app.conf.task_protocol = args.protocol
    app.conf.broker_connection_retry_on_startup = True
    if args.max_priority is not None:
        app.conf.task_queue_max_priority = args.max_priority
    if args.quorum:
        app.conf.task_default_queue_type = "quorum"
    return app


def _stub(*args, **kwargs):
    """Body of the client-side task stubs used for `delay`; never run here."""
    raise NotImplementedError


def describe_error(exc):
    cls = type(exc)
    return {
        "type": cls.__name__,
        "module": cls.__module__,
        "message": str(exc),
        "args": [repr(a) for a in exc.args],
        "mro": [c.__name__ for c in cls.__mro__],
        "is_not_registered": isinstance(exc, NotRegistered),
    }


def run_calls(app, calls):
    pending = []
    for call in calls:
        options = dict(call.get("options", {}))
        sent_at = time.time()
        if call.get("via", "send_task") == "delay":
            stub = app.task(name=call["name"], shared=False)(_stub)
            if options:
                result = stub.apply_async(call.get("args", []), call.get("kwargs", {}), **options)
            else:
                result = stub.delay(*call.get("args", []), **call.get("kwargs", {}))
        else:
            result = app.send_task(call["name"], args=call.get("args", []),
                                   kwargs=call.get("kwargs", {}), **options)
        pending.append((call, result, sent_at))
    outcomes = []
    for call, result, sent_at in pending:
        out = {"id": result.id, "sent_at": sent_at}
        try:
            out["value"] = result.get(timeout=call.get("timeout", 30))
        except Exception as exc:  # the test asserts on the type
            out["error"] = describe_error(exc)
        out["state"] = result.state
        outcomes.append(out)
    return outcomes


def publish(app, spec):
    ids = []
    with app.producer_or_acquire() as producer:
        for _ in range(spec["count"]):
            r = app.send_task(spec["name"], args=spec.get("args", []), kwargs=spec.get("kwargs", {}),
                              reply_to=spec["reply_to"], producer=producer)
            ids.append(r.id)
    return ids


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--protocol", type=int, default=2)
    parser.add_argument("--max-priority", type=int, default=None)
    parser.add_argument("--quorum", action="store_true")
    parser.add_argument("command", choices=["calls", "publish"])
    parser.add_argument("spec")
    args = parser.parse_args()
    app = make_app(args)
    spec = json.loads(args.spec)
    if args.command == "calls":
        out = run_calls(app, spec)
    else:
        out = publish(app, spec)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
