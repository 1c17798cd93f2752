"""A real Python Celery worker (the pinned celery) that runs the task a celeriac beat message
names and prints what it saw as one JSON line, then exits.

usage: beat_consumer.py BROKER_URL QUEUE
"""

import json
import os
import sys

from celery import Celery

broker, queue = sys.argv[1], sys.argv[2]
app = Celery("beat_consumer", broker=broker, set_as_current=True)
app.conf.update(
    task_default_queue=queue,
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name="apps.backups.tasks.configuration_backup", bind=True)
def configuration_backup(self, *args, **kwargs):
    request = self.request
    seen = {
        "task": self.name,
        "id": request.id,
        "args": list(args),
        "kwargs": kwargs,
        "priority": (request.delivery_info or {}).get("priority"),
        "routing_key": (request.delivery_info or {}).get("routing_key"),
        "expires": str(request.expires) if request.expires is not None else None,
        "origin": request.origin,
        "reply_to": request.reply_to,
        "correlation_id": request.correlation_id,
    }
    print("SEEN " + json.dumps(seen), flush=True)
    os._exit(0)


if __name__ == "__main__":
    app.worker_main([
        "worker", "--pool", "solo", "--concurrency", "1", "--queues", queue,
        "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
    ])
