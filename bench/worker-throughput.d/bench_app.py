"""The Python Celery app the benchmark's prefork worker runs: defaults only (celery.accumulate is
built in), rpc:// results, broker and queue from the harness."""

import os

from celery import Celery

app = Celery("bench_app", broker=os.environ["BENCH_BROKER"], backend="rpc://")
app.conf.task_default_queue = os.environ["BENCH_QUEUE"]
app.conf.broker_connection_retry_on_startup = True
