"""Listens to the `celeryev` exchange with Celery's own event receiver and feeds every event to
Celery's own state machine (`celery.events.state.State`, what Flower and `celery events` use),
for the worker-events tests (cli/tests/worker_events.rs, tests/worker/it/events.rs).

Usage: events_probe.py --broker URL --node NODE [--until TYPE] [--timeout SECONDS]

Prints `ready` once its queue is bound, then listens until NODE sends an event of type TYPE
(default `worker-offline`), or the timeout passes, and prints one JSON object:
  {"events": [every event NODE sent, as received],
   "expires_after_heartbeat": [seconds from each heartbeat's timestamp to the end of the
                               window in which State holds NODE alive (freq x 2, with the
                               event's `utcoffset` applied; a monitor that lags does not count)],
   "worker": {"alive", "sw_ident", "sw_ver", "sw_sys", "freq", "processed", "active", "loadavg"},
   "tasks": {uuid: {"state", "name", "args", "kwargs", "result", "exception", "traceback",
                    "runtime", "retries", "worker", "rejected", "revoked"}}}
A field State cannot take makes it raise, and this script exit non-zero.
"""

import argparse
import json
import socket
import sys
import time

from celery import Celery


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--until", default="worker-offline")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()

    app = Celery("events_probe", broker=args.broker)
    # Tests run in parallel on one broker and this queue receives every test's events: keep
    # them (Celery's default `event_queue_ttl` of 5 s would drop what a busy probe has not read).
    app.conf.event_queue_ttl = None
    state = app.events.State()
    seen = []
    expires_after_heartbeat = []

    def on_event(event):
        state.event(event)
        if event.get("hostname") != args.node:
            return
        seen.append(event)
        if event["type"] == "worker-heartbeat":
            worker = state.workers[args.node]
            expires_after_heartbeat.append(worker.heartbeat_expires - event["timestamp"])
        if event["type"] == args.until:
            receiver.should_stop = True

    deadline = time.monotonic() + args.timeout
    with app.connection_for_read() as conn:
        receiver = app.events.Receiver(conn, handlers={"*": on_event})
        receiver.queue(conn.default_channel).declare()
        print("ready", flush=True)
        while not receiver.should_stop and time.monotonic() < deadline:
            try:
                receiver.capture(limit=None, timeout=1.0, wakeup=False)
            except socket.timeout:
                pass

    worker = state.workers.get(args.node)
    out = {
        "events": seen,
        "expires_after_heartbeat": expires_after_heartbeat,
        "worker": None if worker is None else {
            "alive": worker.alive,
            "sw_ident": worker.sw_ident,
            "sw_ver": worker.sw_ver,
            "sw_sys": worker.sw_sys,
            "freq": worker.freq,
            "processed": worker.processed,
            "active": worker.active,
            "loadavg": worker.loadavg,
        },
        "tasks": {
            uuid: {
                "state": task.state,
                "name": task.name,
                "args": task.args,
                "kwargs": task.kwargs,
                "result": task.result,
                "exception": task.exception,
                "traceback": task.traceback,
                "runtime": task.runtime,
                "retries": task.retries,
                "worker": task.worker.hostname if task.worker else None,
                "rejected": task.rejected,
                "revoked": task.revoked,
            }
            for uuid, task in state.tasks.items()
        },
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
