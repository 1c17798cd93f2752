"""Harness of bench/worker-throughput: celery.accumulate throughput with rpc replies, celeriac
(one run per set of flags) vs the Python Celery prefork worker and vs the raw AMQP echo ceiling
(bench_echo: deliver, confirmed reply, ack, nothing else), measured the same way in the same run.

For each worker: publish N `celery.accumulate` tasks with the real Celery client to a fresh
queue (no worker yet), start a lean reply reader (Rust, no_ack), start the worker, and time
from the first reply to the last. Peak RSS is the kernel's VmHWM of every process of the
worker (summed for prefork: parent and children), sampled twice a second, once more when the
last reply has arrived, and until the worker exits.
CPU time is reported per task, from just before the reader starts until the worker has exited:
the worker's own (wait4 rusage, which includes its reaped children), the reply reader's, the
broker's (utime + stime of the `beam.smp` processes, from /proc), this harness's (its RSS poller),
and everything else on the machine (non-idle time from /proc/stat minus those): on a quiet
machine "others" is near zero, so the table shows where the two cores went.
"""

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import uuid

import amqp
from celery import Celery


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def amqp_connection(url):
    from urllib.parse import unquote, urlparse

    u = urlparse(url)
    vhost = unquote(u.path[1:]) if u.path and u.path != "/" else "/"
    conn = amqp.Connection(
        f"{u.hostname}:{u.port or 5672}",
        userid=unquote(u.username or "guest"),
        password=unquote(u.password or "guest"),
        virtual_host=vhost,
    )
    conn.connect()
    return conn


def publish(broker, queue, reply_queue, count):
    app = Celery("bench_client", broker=broker, backend="rpc://")
    app.conf.task_default_queue = queue
    started = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for i in range(count):
            app.send_task("celery.accumulate", args=[i, "x"], reply_to=reply_queue, producer=producer)
    return time.perf_counter() - started


def ready_count(channel, queue):
    _, messages, _ = channel.queue_declare(queue, passive=True)
    return messages


def process_tree(root):
    """The pids of `root` and all its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def vm_hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class RssPoller(threading.Thread):
    """Keeps the largest VmHWM seen per pid of a process tree (VmHWM only grows)."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root = root
        self.peaks = {}
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.5):
            self.sample()

    def sample(self):
        """Reads the tree's VmHWM now. Scanning /proc costs CPU that the worker under test would
        otherwise get, so the thread samples only twice a second: VmHWM keeps the peak anyway,
        and the harness samples once more just before stopping the worker."""
        for pid in process_tree(self.root):
            hwm = vm_hwm_kib(pid)
            if hwm is not None:
                self.peaks[pid] = max(self.peaks.get(pid, 0), hwm)

    def root_mib(self):
        return self.peaks.get(self.root, 0) / 1024

    def total_mib(self):
        return sum(self.peaks.values()) / 1024


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def broker_cpu_seconds():
    """utime + stime of every RabbitMQ VM process (`beam.smp`) on this machine, or None."""
    total, found = 0, False
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        if name == "beam.smp":
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
            found = True
    return total / CLOCK_TICKS if found else None


def busy_cpu_seconds():
    """Non-idle CPU seconds of the whole machine so far (all cores, from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def self_cpu_seconds():
    """This harness process's own user + system CPU seconds (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wait_cpu_seconds(proc, timeout):
    """Waits for `proc` (killing it after `timeout` s) and returns its and its reaped children's
    user + system CPU seconds."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            proc.kill()
            deadline = float("inf")
        time.sleep(0.02)


def start_reader(reader, broker, reply_queue, count):
    proc = subprocess.Popen([reader, broker, reply_queue, str(count)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if line != "ready":
        raise SystemExit(f"reply reader did not start: {line!r}")
    return proc


def children_cpu_seconds():
    """User + system CPU seconds of this process's reaped children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def worker_command(kind, args, queue, flags):
    """The command line, its environment, and the flags to show for a run."""
    if kind == "echo":
        cmd = [args.echo, args.broker, queue, str(args.echo_prefetch)]
        return cmd, dict(os.environ), f"prefetch {args.echo_prefetch}"
    if kind == "celeriac":
        cmd = [args.celeriac, "worker", "--broker", args.broker, "-Q", queue]
        cmd += flags.split()
        return cmd, dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn")), flags or "(defaults)"
    here = os.path.dirname(os.path.abspath(__file__))
    cmd = [sys.executable, "-m", "celery", "-A", "bench_app", "worker",
           "-Q", queue, "-P", "prefork", "-c", "2", "--loglevel", "WARNING",
           "--without-gossip", "--without-mingle", "--without-heartbeat"]
    cmd += args.prefork_args.split() if args.prefork_args else []
    env = dict(os.environ, PYTHONPATH=here, BENCH_BROKER=args.broker, BENCH_QUEUE=queue)
    return cmd, env, " ".join(cmd[cmd.index("-Q") + 2:])


def run_one(kind, args, flags=""):
    tag = uuid.uuid4().hex[:12]
    queue, reply_queue = f"bench-{kind}-{tag}", f"bench-replies-{kind}-{tag}"
    conn = amqp_connection(args.broker)
    ch = conn.channel()
    ch.queue_declare(reply_queue, durable=False, auto_delete=False)
    try:
        seconds = publish(args.broker, queue, reply_queue, args.count)
        deadline = time.monotonic() + 30
        while (ready := ready_count(ch, queue)) < args.count and time.monotonic() < deadline:
            time.sleep(0.1)
        log(f"{kind}: published {args.count} tasks in {seconds:.1f}s; {ready} ready in {queue}")
        if ready != args.count:
            raise SystemExit(f"expected {args.count} ready messages, found {ready}")
        broker_before, busy_before, self_before = (
            broker_cpu_seconds(), busy_cpu_seconds(), self_cpu_seconds())
        reader = start_reader(args.reader, args.broker, reply_queue, args.count)
        cmd, env, shown = worker_command(kind, args, queue, flags)
        worker = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
        poller = RssPoller(worker.pid)
        poller.start()
        reaped_before = children_cpu_seconds()
        try:
            out, _ = reader.communicate(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            reader.kill()
            raise SystemExit(f"{kind}: replies did not all arrive within {args.timeout}s")
        finally:
            reader_cpu = children_cpu_seconds() - reaped_before
            poller.sample()
            worker.send_signal(signal.SIGTERM)
            worker_cpu = wait_cpu_seconds(worker, 60)
            poller.stop.set()
            poller.join()
        broker_after, busy, harness = (
            broker_cpu_seconds(), busy_cpu_seconds() - busy_before, self_cpu_seconds() - self_before)
        broker = broker_after - broker_before if broker_before is not None else 0.0
        others = busy - worker_cpu - reader_cpu - broker - harness
        result = json.loads(out.strip().splitlines()[-1])
        result.update(
            kind=kind,
            args=shown,
            tasks_per_s=(result["replies"] - 1) / result["seconds"] if result["seconds"] > 0 else 0.0,
            rss_root_mib=poller.root_mib(),
            rss_total_mib=poller.total_mib(),
            processes=len(poller.peaks),
            left_in_queue=ready_count(ch, queue),
            cpu_us_per_task={
                "worker": worker_cpu * 1e6 / args.count,
                "broker": broker * 1e6 / args.count if broker_before is not None else None,
                "reader": reader_cpu * 1e6 / args.count,
                "harness": harness * 1e6 / args.count,
                "others": others * 1e6 / args.count,
            },
        )
        return result
    finally:
        for q in (queue, reply_queue):
            try:
                ch.queue_delete(q)
            except Exception:
                ch = conn.channel()
        try:
            ch.exchange_delete(queue)
        except Exception:
            pass
        conn.close()


def reader_capacity(args):
    """The reply reader's own rate on a pre-filled queue: it must be well above both workers."""
    q = f"bench-reader-selftest-{uuid.uuid4().hex[:12]}"
    conn = amqp_connection(args.broker)
    ch = conn.channel()
    ch.queue_declare(q, durable=False, auto_delete=False)
    body = json.dumps({"task_id": str(uuid.uuid4()), "status": "SUCCESS", "result": [1, "x"],
                       "traceback": None, "children": []}).encode()
    try:
        for _ in range(args.count):
            ch.basic_publish(amqp.Message(body, content_type="application/json", delivery_mode=1),
                             exchange="", routing_key=q)
        while ready_count(ch, q) < args.count:
            time.sleep(0.05)
        reader = start_reader(args.reader, args.broker, q, args.count)
        out, _ = reader.communicate(timeout=args.timeout)
        r = json.loads(out.strip().splitlines()[-1])
        return (r["replies"] - 1) / r["seconds"]
    finally:
        ch.queue_delete(q)
        conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--broker", required=True)
    p.add_argument("--celeriac", required=True)
    p.add_argument("--reader", required=True)
    p.add_argument("--count", type=int, default=20000)
    p.add_argument("--timeout", type=int, default=900)
    p.add_argument("--echo", required=True)
    p.add_argument("--echo-prefetch", type=int, default=500)
    p.add_argument("--celeriac-args", action="append",
                   help="celeriac worker flags for one run (repeat for more runs; empty = defaults)")
    p.add_argument("--prefork-args", default="")
    p.add_argument("--only", choices=["celeriac", "prefork", "echo"])
    args = p.parse_args()
    capacity = reader_capacity(args)
    log(f"reply reader alone drains {capacity:,.0f} replies/s")
    runs = [("echo", "")]
    runs += [("celeriac", flags.strip()) for flags in (args.celeriac_args or [""])]
    runs += [("prefork", "")]
    results = [run_one(kind, args, flags) for kind, flags in runs if args.only in (None, kind)]
    print(json.dumps({"count": args.count, "reader_capacity_per_s": capacity, "results": results}))


if __name__ == "__main__":
    main()
