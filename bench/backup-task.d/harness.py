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


def command_run(args, config, db):
    """Returns (wall seconds, peak RSS MiB) of one `celeriac backup`, recording into the same
    catalog as the task."""
    start = time.monotonic()
    proc = subprocess.Popen([args.celeriac, "backup", "--config", config, "--json", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, CELERIAC_DATABASE_URL=db))
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: celeriac backup exited {os.waitstatus_to_exitcode(status)}")
    result = json.loads(out)["status"]
    if result != "VERIFIED":
        raise SystemExit(f"bench: celeriac backup ended {result}")
    return wall, usage.ru_maxrss / 1024.0


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
    worker_env = dict(os.environ, CELERIAC_DATABASE_URL=db,
                      CELERIAC_BROKER_URL=env("CELERIAC_TEST_AMQP_URL"))
    # The worker as a user starts it, and (a tuned line, reported beside) with --threads 2.
    lines = {"task": [], "task_threads2": ["--threads", "2"]}
    worker_env.update(v.split("=", 1) for v in os.environ.get("BENCH_WORKER_ENV", "").split())
    workers = {}
    for name, extra in lines.items():
        queue = f"bench-backup-{uuid.uuid4().hex[:8]}"
        proc = subprocess.Popen([args.celeriac, "worker", "--config", config, "-Q", queue] + extra,
                                env=worker_env, stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(args.work, f"{name}.log"), "w"))
        workers[name] = (proc, queue)
    app = Celery("bench", broker=env("CELERIAC_TEST_AMQP_URL"), backend="rpc://")
    walls = {"command": [], "task": [], "task_threads2": []}
    command_rss = 0.0
    try:
        command_run(args, config, db)
        for proc, queue in workers.values():
            task_run(app, queue, db)
        first_rss = {name: vm_hwm_mib(proc.pid) for name, (proc, _) in workers.items()}
        for _ in range(args.runs):
            wall, rss = command_run(args, config, db)
            walls["command"].append(wall)
            command_rss = max(command_rss, rss)
            for name, (proc, queue) in workers.items():
                walls[name].append(task_run(app, queue, db))
        worker_rss = {name: vm_hwm_mib(proc.pid) for name, (proc, _) in workers.items()}
    finally:
        for proc, _ in workers.values():
            proc.terminate()
            proc.wait(timeout=30)
    median = {k: statistics.median(v) for k, v in walls.items()}
    print(f"\nconfiguration backup, {os.cpu_count()} CPUs, median of {args.runs} runs per line; "
          f"stores: local + r2 + b2 (s3s-fs), catalog: PostgreSQL")
    print(f"{'line':<52}{'median s':>9}{'ratio':>7}{'peak RSS MiB':>14}   runs (s)")
    for name, label, rss in (
            ("command", "celeriac backup --config C", command_rss),
            ("task", "task via celeriac worker (default flags)", worker_rss["task"]),
            ("task_threads2", "task via celeriac worker --threads 2", worker_rss["task_threads2"])):
        runs = ", ".join(f"{w:.2f}" for w in walls[name])
        ratio = median[name] / median["command"]
        print(f"{label:<52}{median[name]:>9.2f}{ratio:>7.3f}{rss:>14.1f}   {runs}")
    print("worker peak RSS after its first run: "
          + ", ".join(f"{name} {rss:.1f} MiB" for name, rss in first_rss.items()))
    print("targets: task / command <= 1.10 with default flags; worker peak RSS < 64 MiB")
    json.dump({"walls": walls, "median": median, "command_rss_mib": command_rss,
               "worker_rss_mib": worker_rss},
              open(os.path.join(args.work, "result.json"), "w"))


if __name__ == "__main__":
    sys.exit(main())
