"""Idle cost of beat: celeriac beat (alone, and as the leader over a PostgreSQL catalog) beside
Python's `celery beat`, all with the same ten crontab entries, none due during the window.
Samples each process's resident memory and CPU time from /proc over the window, in the same
run, and prints one JSON document on stdout."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# Ten entries, none due within the window: minute 0-9 of 03:00, 04:00, ... in UTC.
ENTRIES = [(f"idle-{i}", f"{i} {3 + i % 3} * * *") for i in range(10)]


def toml_config(queue):
    lines = ['[beat]', 'timezone = "UTC"', ""]
    for name, cron in ENTRIES:
        lines += [f"[beat.schedule.{name}]", 'task = "apps.idle"', f'schedule = "{cron}"',
                  f'options = {{ queue = "{queue}" }}', ""]
    return "\n".join(lines)


PY_APP = """
from celery import Celery
from celery.schedules import crontab
import os
app = Celery("beatidle", broker=os.environ["BENCH_BROKER"])
app.conf.timezone = "UTC"
app.conf.beat_schedule = {
%s
}
"""


def py_app(queue):
    entries = []
    for name, cron in ENTRIES:
        minute, hour = cron.split()[:2]
        entries.append(f'    "{name}": {{"task": "apps.idle", "schedule": crontab(minute="{minute}", '
                       f'hour="{hour}"), "options": {{"queue": "{queue}"}}}},')
    return PY_APP % "\n".join(entries)


def tree(pid):
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def anon(pid):
    """Anonymous resident bytes (RssAnon: heap, stacks) of the process tree; the rest of RSS
    is file-backed pages, mostly the binary's code."""
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def sample(pid):
    """(rss bytes, cpu seconds) over the process tree."""
    rss = cpu = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{p}/statm") as f:
                rss += int(f.read().split()[1]) * PAGE
        except OSError:
            continue
        cpu += (int(fields[11]) + int(fields[12])) / TICK
    return rss, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--celeriac", required=True)
    ap.add_argument("--broker", required=True)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=5)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="beat-idle-")
    config = os.path.join(work, "celeriac.toml")
    with open(config, "w") as f:
        f.write(toml_config("beat-idle-bench"))
    with open(os.path.join(work, "beatidle.py"), "w") as f:
        f.write(py_app("beat-idle-bench"))
    env = dict(os.environ, BENCH_BROKER=args.broker, RUST_LOG="warn")
    for k in ("CELERIAC_CONFIG", "CELERIAC_DATABASE_URL", "CELERIAC_METRICS_LISTEN"):
        env.pop(k, None)
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=work)
    subprocess.run([args.celeriac, "migrate", "--database-url", args.database_url],
                   check=True, **quiet)
    procs = {
        "celeriac beat (alone)": subprocess.Popen(
            [args.celeriac, "beat", "--config", config, "--broker", args.broker], **quiet),
        "celeriac beat (leader, PostgreSQL catalog)": subprocess.Popen(
            [args.celeriac, "beat", "--config", config, "--broker", args.broker,
             "--database-url", args.database_url], **quiet),
        "celery beat (Python)": subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "beatidle", "beat", "-l", "warning",
             "--schedule", os.path.join(work, "celerybeat-schedule")], **quiet),
    }
    try:
        time.sleep(args.warmup)
        for name, p in procs.items():
            if p.poll() is not None:
                sys.exit(f"bench: {name} exited with {p.returncode} during warm-up")
        start = {name: sample(p.pid) for name, p in procs.items()}
        t0 = time.monotonic()
        peak = {name: s[0] for name, s in start.items()}
        while time.monotonic() - t0 < args.seconds:
            time.sleep(1)
            for name, p in procs.items():
                peak[name] = max(peak[name], sample(p.pid)[0])
        elapsed = time.monotonic() - t0
        end = {name: sample(p.pid) for name, p in procs.items()}
        anon_end = {name: anon(p.pid) for name, p in procs.items()}
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    results = [
        {
            "name": name,
            "rss_mib": end[name][0] / 2**20,
            "peak_rss_mib": peak[name] / 2**20,
            "anon_mib": anon_end[name] / 2**20,
            "cpu_percent": 100 * (end[name][1] - start[name][1]) / elapsed,
        }
        for name in procs
    ]
    print(json.dumps({"seconds": elapsed, "entries": len(ENTRIES), "results": results}))


if __name__ == "__main__":
    main()
