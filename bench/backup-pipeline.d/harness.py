#!/usr/bin/env python3
"""Measures the three backup lines of bench/backup-pipeline in one run and prints the table.

    harness.py --celeriac BIN --work DIR --tree1 GEN1 --tree2 GEN2 --tree-bytes2 GENB --key K
               [--runs 3]

GEN1/GEN2/GENB are gentree.py output directories (tree/ + config-files.txt): GEN2 has about
twice GEN1's files and bytes, GENB GEN1's files with about twice the bytes.
Each line runs --runs times, interleaved (ours, pigz, python, ours, ...), after the tree has been
read once so every line starts from a warm page cache; the median wall time is reported, and
the peak RSS is the largest seen (from wait4's rusage, so it is the process's own high-water
mark, not a sample).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_rss(argv, **kw):
    """Runs argv to completion; returns (wall seconds, peak RSS in MiB, stdout text). The RSS
    comes from os.wait4: on Linux it is the largest high-water mark of the process and of the
    descendants it waited for (for a shell pipeline: the largest stage). Fails loudly on a
    non-zero exit."""
    with tempfile.TemporaryFile() as errfile:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errfile, **kw)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        errfile.seek(0)
        err = errfile.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
        raise SystemExit(f"bench: {' '.join(argv[:2])} exited {proc.returncode}")
    return wall, usage.ru_maxrss / 1024.0, out.decode()


def warm(gen):
    subprocess.run(f"tar -cf - -C {gen}/tree -T {gen}/config-files.txt > /dev/null",
                   shell=True, check=True)


def ours(args, gen, key, n):
    out = os.path.join(args.work, f"ours-{n}")
    shutil.rmtree(out, ignore_errors=True)
    argv = [args.celeriac, "backup", "--source", os.path.join(gen, "tree"), "--key-file", key,
            "--json"]
    for copy in ("a", "b", "c"):
        argv += ["--store", f"local:{out}/{copy}"]
    env = dict(os.environ)
    env.update(v.split("=", 1) for v in args.celeriac_env.split())
    wall, rss, text = run_rss(argv, env=env)
    report = json.loads(text)
    shutil.rmtree(out, ignore_errors=True)
    return wall, rss, report


def pigz(gen):
    cmd = f"tar -cf - -C {gen}/tree -T {gen}/config-files.txt | pigz -9 -p 2 > /dev/null"
    wall, rss, _ = run_rss(["bash", "-o", "pipefail", "-c", cmd])
    return wall, rss


def python(args, gen, key, n):
    out = os.path.join(args.work, f"python-{n}")
    shutil.rmtree(out, ignore_errors=True)
    wall, rss, text = run_rss([args.python, os.path.join(HERE, "reference.py"),
                               "--root", os.path.join(gen, "tree"),
                               "--list", os.path.join(gen, "config-files.txt"),
                               "--key-file", key, "--out", out])
    shutil.rmtree(out, ignore_errors=True)
    return wall, rss, json.loads(text)


def check_report(report, gen):
    status = report.get("status")
    if status not in ("VERIFIED", "verified"):
        raise SystemExit(f"bench: our backup reported {status!r}, not VERIFIED")
    stats = json.load(open(os.path.join(gen, "stats.json")))
    return stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--celeriac", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--work", required=True)
    ap.add_argument("--tree1", required=True)
    ap.add_argument("--tree2", required=True)
    ap.add_argument("--tree-bytes2", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--celeriac-env", default="", help="VAR=value ... for the celeriac runs only")
    args = ap.parse_args()

    warm(args.tree1)
    walls = {"ours": [], "pigz": [], "python": []}
    rss = {"ours": 0.0, "pigz": 0.0, "python": 0.0}
    report = ref = None
    for n in range(args.runs):
        w, r, report = ours(args, args.tree1, args.key, n)
        walls["ours"].append(w)
        rss["ours"] = max(rss["ours"], r)
        w, r = pigz(args.tree1)
        walls["pigz"].append(w)
        rss["pigz"] = max(rss["pigz"], r)
        w, r, ref = python(args, args.tree1, args.key, n)
        walls["python"].append(w)
        rss["python"] = max(rss["python"], r)
    stats1 = check_report(report, args.tree1)

    larger = {}
    for name, gen in (("tree2", args.tree2), ("tree_bytes2", args.tree_bytes2)):
        warm(gen)
        walls2, rss2 = [], 0.0
        for n in range(args.runs):
            w, r, report2 = ours(args, gen, args.key, 100 + n)
            walls2.append(w)
            rss2 = max(rss2, r)
        larger[name] = {"stats": check_report(report2, gen), "median": statistics.median(walls2),
                        "walls": walls2, "rss_mib": rss2, "report": report2}

    print(json.dumps({
        "cpus": os.cpu_count(),
        "celeriac_env": args.celeriac_env,
        "runs": args.runs,
        "tree1": stats1, "tree2": larger["tree2"]["stats"],
        "tree_bytes2": larger["tree_bytes2"]["stats"],
        "walls": walls, "rss_mib": rss,
        "median": {k: statistics.median(v) for k, v in walls.items()},
        "ours_tree2": larger["tree2"], "ours_tree_bytes2": larger["tree_bytes2"],
        "report": report, "python_reference": ref,
    }))


if __name__ == "__main__":
    main()
