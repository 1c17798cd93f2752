"""Celery's own answer to "when does this crontab run next?", the oracle for celeriac's maths.

Reads a JSON list of cases {"spec": "m h dom mon dow", "tz": "Europe/Paris", "after": ISO UTC}
on argv[1] and prints a JSON list of ISO UTC instants: for each case, Celery's next run after
`after`, computed as beat computes it (`crontab.remaining_estimate(last_run_at)` with
`last_run_at = now = after`, in an app whose `timezone` is the case's zone).
"""

import json
import sys
from datetime import datetime, timezone

from celery import Celery
from celery.schedules import crontab


def next_run(spec, tz, after):
    app = Celery("oracle", set_as_current=False)
    app.conf.timezone = tz
    app.conf.enable_utc = True
    minute, hour, day_of_month, month_of_year, day_of_week = spec.split()
    start = datetime.fromisoformat(after.replace("Z", "+00:00")).astimezone(app.timezone)
    cron = crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        app=app,
        nowfun=lambda: start,
    )
    remaining = cron.remaining_estimate(start)
    return (start + remaining).astimezone(timezone.utc).isoformat()


cases = json.loads(sys.argv[1])
print(json.dumps([next_run(c["spec"], c["tz"], c["after"]) for c in cases]))
