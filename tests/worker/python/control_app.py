"""A tiny Celery app for the remote-control tests: `celery -A control_app inspect ...` and
`celery -A control_app control ...` run against the worker under test (cli/tests/worker_control.rs).

The broker is read from CELERIAC_TEST_BROKER and the default queue from CELERIAC_TEST_QUEUE;
everything else is Celery 5.6.3's defaults (mailbox `celery.pidbox`, JSON, rpc:// results).
"""

import os

from celery import Celery

app = Celery("control_app", broker=os.environ["CELERIAC_TEST_BROKER"], backend="rpc://")
app.conf.task_default_queue = os.environ.get("CELERIAC_TEST_QUEUE", "celery")
app.conf.broker_connection_retry_on_startup = True
