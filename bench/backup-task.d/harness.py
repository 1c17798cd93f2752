#!/usr/bin/env python3
"""Measures bench/backup-task's two lines in one run and prints them with their ratio.

    harness.py --celeriac BIN --tree DIR --key K --work DIR [--runs 3]

Needs the environment of `scripts/test --services` (CELERIAC_TEST_AMQP_URL, DATABASE_URL and
the CELERIAC_TEST_S3_{R2,B2}_* variables). Runs alternate (command, task, command, ...) after
one untimed run of each, so both start from a warm page cache and a connected worker.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid

TASK = "apps.backups.tasks.configuration_backup"


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"bench: {name} is not set; run through bench/backup-task")
    return value


def make_bucket(store):
    """s3s-fs keeps a bucket as a directory of its data dir."""
    name = f"bench-{uuid.uuid4().hex[:12]}"
    os.makedirs(os.path.join(env(f"CELERIAC_TEST_S3_{store}_DATA_DIR"), name))
    return name


def write_config(args, path):
    local = os.path.join(args.work, "local")
    lines = [
        "[backup]",
        f'stores = ["local:{local}", "s3:r2", "s3:b2"]',
        "",
        "[keys]",
        f'main = {{ file = "{os.path.abspath(args.key)}" }}',
        "",
        "[[collect.roots]]",
        f'path = "{os.path.abspath(args.tree)}"',
    ]
    for store in ("R2", "B2"):
        lines += [
            "",
            f"[stores.{store.lower()}]",
            f'endpoint = "{env(f"CELERIAC_TEST_S3_{store}_ENDPOINT")}"',
            f'region = "{env(f"CELERIAC_TEST_S3_{store}_REGION")}"',
            f'bucket = "{make_bucket(store)}"',
            "allow-http = true",
            f'access-key-id = {{ env = "CELERIAC_TEST_S3_{store}_ACCESS_KEY" }}',
            f'secret-access-key = {{ env = "CELERIAC_TEST_S3_{store}_SECRET_KEY" }}',
        ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def fresh_database():
    server = env("DATABASE_URL")
    name = f"celeriac_bench_{uuid.uuid4().hex[:12]}"
    subprocess.run(["psql", server, "-q", "-c", f"CREATE DATABASE {name}"], check=True)
    return server.rsplit("/", 1)[0] + "/" + name


def command_run(args, config):
    start = time.monotonic()
    out = subprocess.run([args.celeriac, "backup", "--config", config, "--json", "--quiet"],
                         capture_output=True, check=True)
    wall = time.monotonic() - start
    status = json.loads(out.stdout)["status"]
    if status != "VERIFIED":
        raise SystemExit(f"bench: celeriac backup ended {status}")
    return wall


def task_run(app, queue, db):
    start = time.monotonic()
    backup_id = app.send_task(TASK, queue=queue).get(timeout=600)
    wall = time.monotonic() - start
    out = subprocess.run(["psql", db, "-tA", "-c",
                          f"SELECT status FROM backups_backup WHERE id = '{backup_id}'"],
                         capture_output=True, check=True, text=True)
    if out.stdout.strip() != "VERIFIED":
        raise SystemExit(f"bench: the task's backup ended {out.stdout.strip()!r}")
    return wall


def vm_hwm_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise SystemExit("bench: no VmHWM for the worker")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--celeriac", required=True)
    ap.add_argument("--tree", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    from celery import Celery

    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    config = os.path.join(args.work, "celeriac.toml")
    write_config(args, config)
    db = fresh_database()
    subprocess.run([args.celeriac, "migrate", "--database-url", db], check=True,
                   capture_output=True)
    queue = f"bench-backup-{uuid.uuid4().hex[:8]}"
    worker_env = dict(os.environ, CELERIAC_DATABASE_URL=db,
                      CELERIAC_BROKER_URL=env("CELERIAC_TEST_AMQP_URL"))
    worker = subprocess.Popen([args.celeriac, "worker", "--config", config, "-Q", queue],
                              env=worker_env, stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(args.work, "worker.log"), "w"))
    app = Celery("bench", broker=env("CELERIAC_TEST_AMQP_URL"), backend="rpc://")
    try:
        command_run(args, config)
        task_run(app, queue, db)
        walls = {"command": [], "task": []}
        for _ in range(args.runs):
            walls["command"].append(command_run(args, config))
            walls["task"].append(task_run(app, queue, db))
        rss = vm_hwm_mib(worker.pid)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    median = {k: statistics.median(v) for k, v in walls.items()}
    ratio = median["task"] / median["command"]
    print(f"\nconfiguration backup, {os.cpu_count()} CPUs, median of {args.runs} runs per line; "
          f"stores: local + r2 + b2 (s3s-fs), catalog: PostgreSQL")
    print(f"{'line':<44}{'median s':>10}{'runs (s)':>28}")
    for name, label in (("command", "celeriac backup --config C"),
                        ("task", "configuration_backup via celeriac worker")):
        runs = ", ".join(f"{w:.2f}" for w in walls[name])
        print(f"{label:<44}{median[name]:>10.2f}{runs:>28}")
    print(f"task / command: {ratio:.3f}  (target <= 1.10)")
    print(f"worker peak RSS (VmHWM): {rss:.1f} MiB  (target < 64)")
    json.dump({"walls": walls, "median": median, "ratio": ratio, "worker_rss_mib": rss},
              open(os.path.join(args.work, "result.json"), "w"))


if __name__ == "__main__":
    sys.exit(main())
