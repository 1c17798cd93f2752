#!/usr/bin/env python3
"""Prints bench/backup-pipeline's result (the harness JSON) as a table with the targets."""

import json
import sys

MIB = 1024 * 1024


def main():
    r = json.load(open(sys.argv[1]))
    t1, t2, tb, m = r["tree1"], r["tree2"], r["tree_bytes2"], r["median"]
    print(f"\nbackup pipeline, {r['cpus']} CPUs, median of {r['runs']} runs per line"
          + (f"; celeriac runs with {r['celeriac_env']}" if r.get("celeriac_env") else ""))
    print(f"tree: {t1['config_files']} config files, {t1['config_bytes'] / 1e6:.1f} MB "
          f"(+ {t1['noise_files']} noise files, {t1['noise_bytes'] / 1e6:.1f} MB left out); "
          f"2x tree: {t2['config_files']} files, {t2['config_bytes'] / 1e6:.1f} MB; "
          f"2x bytes tree: {tb['config_files']} files, {tb['config_bytes'] / 1e6:.1f} MB")
    rep, ref = r["report"], r["python_reference"]
    main = next(a for a in rep["artifacts"] if a["bundle"] == "main")
    sizes = main["sizes"]
    secrets = sum(a["sizes"]["stored_bytes"] for a in rep["artifacts"] if a["bundle"] != "main")
    print(f"ours: {rep['collection']['files_collected']} files collected; main archive tar "
          f"{sizes['tar_bytes'] / 1e6:.1f} MB -> gz {sizes['gz_bytes'] / 1e6:.1f} MB "
          f"(ratio {main['compression_ratio']}) -> stored {sizes['stored_bytes'] / 1e6:.1f} MB; "
          f"secrets bundle {secrets / 1e3:.0f} kB")
    secs = ref["seconds"]
    print(f"python: {ref['files']} files, gz {ref['gz_bytes'] / 1e6:.1f} MB; last run's stages (s): "
          + ", ".join(f"{k} {v}" for k, v in secs.items()))
    t = rep["timings"]
    print("ours, stage times (ms): " + ", ".join(f"{k} {v}" for k, v in t.items()))
    best = {k: min(v) for k, v in r["walls"].items()}
    print(f"\n{'line':<44} {'median s':>8} {'best s':>7} {'peak RSS MiB':>13}")
    rows = [
        ("(a) celeriac backup, 3 local copies, verified", "ours"),
        ("(b) tar | pigz -9 -p 2 > /dev/null", "pigz"),
        ("(c) python tarfile gz-9 + AES-GCM (3 copies)", "python"),
    ]
    for label, k in rows:
        print(f"{label:<44} {m[k]:>8.2f} {best[k]:>7.2f} {r['rss_mib'][k]:>13.1f}")
    o2, ob = r["ours_tree2"], r["ours_tree_bytes2"]
    for label, o in (("(a) on the 2x tree (2x files, 2x bytes)", o2), ("(a) on the 2x bytes tree (same files)", ob)):
        print(f"{label:<44} {o['median']:>8.2f} {min(o['walls']):>7.2f} {o['rss_mib']:>13.1f}")
    ratio_pigz = m["ours"] / m["pigz"]
    speedup_py = m["python"] / m["ours"]
    rss_ok = max(r["rss_mib"]["ours"], o2["rss_mib"], ob["rss_mib"]) < 64
    growth = o2["rss_mib"] - r["rss_mib"]["ours"]
    growth_bytes = ob["rss_mib"] - r["rss_mib"]["ours"]
    per_file = growth * 1024 / max(1, t2["config_files"] - t1["config_files"])
    best_pigz = best["ours"] / best["pigz"]
    best_py = best["python"] / best["ours"]
    print(f"\nours / pigz:   {ratio_pigz:.2f}x median, {best_pigz:.2f}x best   (target <= 1.00)  "
          f"{'ok' if ratio_pigz <= 1.0 else 'MISSED'}")
    print(f"python / ours: {speedup_py:.2f}x median, {best_py:.2f}x best   (target >= 2.00)  "
          f"{'ok' if speedup_py >= 2.0 else 'MISSED'}")
    no_copy = secs["total"] - secs["copy"]
    print(f"  (python without its copy-to-temp stage, last run: {no_copy:.2f} s = "
          f"{no_copy / m['ours']:.2f}x ours)")
    print(f"peak RSS ours: {r['rss_mib']['ours']:.1f} MiB; 2x bytes {ob['rss_mib']:.1f} MiB "
          f"({growth_bytes:+.1f}); 2x files and bytes {o2['rss_mib']:.1f} MiB ({growth:+.1f}, "
          f"{per_file:.2f} KiB per added file)   (target < 64)  {'ok' if rss_ok else 'MISSED'}")
    fixed = r["rss_mib"]["ours"] - per_file * t1["config_files"] / 1024
    print(f"peak RSS model (through the 1x and 2x trees): {fixed:.1f} MiB + {per_file:.2f} KiB "
          f"per config file")
    print("all runs (s): " + "; ".join(f"{k} " + " ".join(f"{w:.2f}" for w in v) for k, v in r["walls"].items()))


if __name__ == "__main__":
    main()
