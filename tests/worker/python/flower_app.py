"""The Celery app Flower runs with in the worker-events test (cli/tests/worker_events.rs):
`celery -A flower_app flower ...`. The broker is read from CELERIAC_TEST_BROKER.

One setting differs from Celery's defaults: the monitor's event queue keeps its messages
(no `x-message-ttl`, Celery's `event_queue_ttl` is 5 s). Tests run in parallel on one broker and
every monitor receives every test's events; under load a monitor that falls 5 s behind would
otherwise lose the events it is there to check.
"""

import os

from celery import Celery

app = Celery("flower_app", broker=os.environ["CELERIAC_TEST_BROKER"], backend="rpc://")
app.conf.broker_connection_retry_on_startup = True
app.conf.event_queue_ttl = None
