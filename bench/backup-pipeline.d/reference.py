#!/usr/bin/env python3
"""The original Python approach to the configuration backup, as the benchmark's reference line.

    reference.py --root TREE --list FILES --key-file KEY --out DIR [--copies 3]

What the platform's Python task did, step by step: copy every file to a temporary directory,
build the whole archive there with `tarfile` (gzip level 9), read it into memory, encrypt it in
one AES-256-GCM call (`cryptography`), then write the result to each destination. To do the same
work as the celeriac line, it also writes three local copies and verifies each by reading it
back and comparing SHA-256. Prints one JSON object with the stage timings and sizes.

The key file is a celeriac key file (base64 of 32 bytes); only its bytes are used here.
"""

import argparse
import base64
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--list", required=True)
    ap.add_argument("--key-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--copies", type=int, default=3)
    args = ap.parse_args()

    with open(args.key_file, "rb") as f:
        key = base64.b64decode(f.read().strip())
    with open(args.list) as f:
        paths = [line.rstrip("\n") for line in f if line.strip()]

    times = {}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="reference-backup-") as tmp:
        staging = os.path.join(tmp, "staging")
        for rel in paths:  # 1. copy to a temp dir (symlinks stay symlinks)
            src, dst = os.path.join(args.root, rel), os.path.join(staging, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
            else:
                shutil.copy2(src, dst)
        times["copy"] = time.monotonic() - t0

        t1 = time.monotonic()  # 2. the whole archive, tar + gzip -9
        archive = os.path.join(tmp, "backup.tar.gz")
        with tarfile.open(archive, "w:gz", compresslevel=9) as tar:
            for rel in paths:
                tar.add(os.path.join(staging, rel), arcname=rel, recursive=False)
        times["tar_gzip"] = time.monotonic() - t1

        t2 = time.monotonic()  # 3. read it all and encrypt it in one call
        with open(archive, "rb") as f:
            plain = f.read()
        nonce = os.urandom(12)
        stored = nonce + AESGCM(key).encrypt(nonce, plain, None)
        digest = hashlib.sha256(stored).hexdigest()
        times["encrypt"] = time.monotonic() - t2

    t3 = time.monotonic()  # 4. write each copy, then read it back and compare
    for i in range(args.copies):
        dest = os.path.join(args.out, f"copy-{i}")
        os.makedirs(dest, exist_ok=True)
        path = os.path.join(dest, "backup.tar.gz.enc")
        with open(path, "wb") as f:
            f.write(stored)
            f.flush()
            os.fsync(f.fileno())
    times["store"] = time.monotonic() - t3
    t4 = time.monotonic()
    for i in range(args.copies):
        with open(os.path.join(args.out, f"copy-{i}", "backup.tar.gz.enc"), "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != digest:
                raise SystemExit(f"copy {i} does not verify")
    times["verify"] = time.monotonic() - t4
    times["total"] = time.monotonic() - t0

    print(json.dumps({
        "files": len(paths),
        "gz_bytes": len(plain),
        "stored_bytes": len(stored),
        "sha256": digest,
        "seconds": {k: round(v, 3) for k, v in times.items()},
    }))


if __name__ == "__main__":
    main()
