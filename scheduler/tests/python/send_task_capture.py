"""What Python Celery's `send_task` (as beat calls it) puts on the wire, captured through kombu's
in-memory transport and printed as JSON: {"exchange", "routing_key", "headers", "properties",
"body"}.

usage: send_task_capture.py SPEC_JSON
SPEC_JSON: {"task", "id", "args", "kwargs", "queue", "priority"?, "expires"? (ISO 8601)}
"""

import json
import sys
from datetime import datetime

from celery import Celery
from kombu import Connection

spec = json.loads(sys.argv[1])
app = Celery("capture", broker="memory://", set_as_current=False)
options = {"queue": spec["queue"]}
if "priority" in spec:
    options["priority"] = spec["priority"]
if "expires" in spec:
    options["expires"] = datetime.fromisoformat(spec["expires"])

captured = {}
with app.connection_for_write() as conn:
    producer = app.producer_or_acquire(None)
    with producer as p:
        original = p.publish

        def publish(body, **kwargs):
            captured.update(
                exchange=kwargs.get("exchange"),
                routing_key=kwargs.get("routing_key"),
            )
            return original(body, **kwargs)

        p.publish = publish
        app.send_task(spec["task"], spec["args"], spec["kwargs"], task_id=spec["id"],
                      producer=p, **options)
    queue = conn.SimpleQueue(spec["queue"])
    message = queue.get(timeout=5)
    props = dict(message.properties)
    props.pop("delivery_info", None)
    props.pop("delivery_tag", None)
    props.pop("body_encoding", None)
    print(json.dumps({
        "exchange": captured.get("exchange"),
        "routing_key": captured.get("routing_key"),
        "headers": message.headers,
        "properties": props,
        "content_type": message.content_type,
        "content_encoding": message.content_encoding,
        "body": message.body.decode() if isinstance(message.body, bytes) else message.body,
    }, default=str))
