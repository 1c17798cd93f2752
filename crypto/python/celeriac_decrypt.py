#!/usr/bin/env python3
"""Decrypt a celeriac artifact (format version 1, docs/artifact-format.md).

An independent implementation written from the format spec, for disaster recovery without the
Rust tools. Needs Python 3.8+ and the `cryptography` package, nothing else.

    python3 celeriac_decrypt.py --key-file backup.key ARTIFACT > backup.tar.gz
    python3 celeriac_decrypt.py --key-file backup.key ARTIFACT -o backup.tar.gz

Exits 1, naming the problem, on any authentication failure, truncation or trailing data. With -o
the output appears only after the whole artifact verified; on stdout, plaintext is streamed chunk
by chunk and is only trustworthy if the exit status is 0.
"""
import argparse
import base64
import binascii
import hashlib
import hmac
import os
import struct
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

MAGIC = bytes.fromhex("8943424b0d0a1a0a")
TAG = 16


class Reject(Exception):
    """The artifact (or key) is not acceptable."""


def prf(key, label):
    return hmac.new(key, label, hashlib.sha256).digest()


def read_exact(f, n):
    data = b""
    while len(data) < n:
        part = f.read(n - len(data))
        if not part:
            break
        data += part
    return data


def load_key(path):
    with open(path, "rb") as f:
        text = f.read(4096).strip(b" \t\r\n\x0b\x0c")
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Reject("key file does not hold base64") from None
    if len(key) != 32:
        raise Reject("key file does not hold a 32-byte key")
    return key


def open_header(f, kek):
    """Parse and authenticate the header (spec 5.1 steps 1-6)."""
    pre = read_exact(f, 14)
    if len(pre) < 14:
        raise Reject("header truncated")
    if pre[:8] != MAGIC:
        raise Reject("not a celeriac artifact (bad magic)")
    version, suite, log2, flags = pre[8:12]
    (hlen,) = struct.unpack(">H", pre[12:14])
    for bad, what in ((version != 1, "version"), (suite != 1, "suite"),
                      (not 12 <= log2 <= 20, "chunk size"), (flags & 0xFE, "flags"),
                      (not 182 <= hlen <= 4096, "header length")):
        if bad:
            raise Reject(f"unsupported or invalid {what}")
    header = pre + read_exact(f, hlen - 14)
    if len(header) < hlen:
        raise Reject("header truncated")
    archive_id, salt, count = header[14:30], header[38:70], header[70]
    if not 1 <= count <= 8:
        raise Reject("invalid stanza count")
    key_id = prf(kek, b"celeriac/v1 key-id")[:16]
    pos, end, seen, chosen = 71, hlen - 32, set(), None
    for _ in range(count):
        if pos + 19 > end:
            raise Reject("malformed stanza")
        kind, kid = header[pos], header[pos + 1:pos + 17]
        (blen,) = struct.unpack(">H", header[pos + 17:pos + 19])
        body = header[pos + 19:pos + 19 + blen]
        pos += 19 + blen
        if pos > end or (kind == 1 and blen != 60):
            raise Reject("malformed stanza")
        if (kind, kid) in seen:
            raise Reject("duplicate key id")
        seen.add((kind, kid))
        if kind == 1 and kid == key_id and chosen is None:
            chosen = body  # unknown stanza types are skipped
    if pos != end:
        raise Reject("malformed stanza")
    if chosen is None:
        raise Reject(f"artifact is not wrapped to key {key_id.hex()}")
    try:
        data_key = AESGCM(prf(kek, b"celeriac/v1 wrap-key")).decrypt(
            chosen[:12], chosen[12:], b"celeriac/v1 wrap" + archive_id + key_id)
    except InvalidTag:
        raise Reject("data key does not unwrap") from None
    prk = hmac.new(salt, data_key, hashlib.sha256).digest()  # HKDF-Extract
    mac_key = HKDFExpand(hashes.SHA256(), 32, b"celeriac/v1 header-mac").derive(prk)
    if not hmac.compare_digest(hmac.new(mac_key, header[:-32], hashlib.sha256).digest(),
                               header[-32:]):
        raise Reject("header authentication failed")
    okm = HKDFExpand(hashes.SHA256(), 39, b"celeriac/v1 payload" + header[8:12] + archive_id
                     ).derive(prk)
    return 1 << log2, AESGCM(okm[:32]), okm[32:]


def decrypt_payload(f, out, size, gcm, prefix):
    """Chunks with a one-byte look-ahead (spec 5.2)."""
    want = size + TAG + 1
    buf, i = read_exact(f, want), 0
    while True:
        last = len(buf) < want
        chunk = buf if last else buf[:-1]
        if last and len(chunk) < TAG:
            raise Reject("artifact truncated")
        if last and len(chunk) == TAG and i > 0:
            raise Reject("empty final chunk")
        if not last and i + 1 >= 1 << 32:
            raise Reject("too many chunks")
        try:
            out.write(gcm.decrypt(prefix + struct.pack(">IB", i, last), chunk, b""))
        except InvalidTag:
            raise Reject(f"chunk {i} failed authentication (damaged, truncated or "
                         "trailing data)") from None
        if last:
            return
        buf, i = buf[-1:] + read_exact(f, want - 1), i + 1


def main():
    parser = argparse.ArgumentParser(description="Decrypt a celeriac artifact.")
    parser.add_argument("--key-file", required=True, help="base64 key file")
    parser.add_argument("input", help="artifact path, or - for stdin")
    parser.add_argument("-o", "--output", help="write here (only after full verification)")
    args = parser.parse_args()
    partial = None
    try:
        kek = load_key(args.key_file)
        src = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")
        with src:
            params = open_header(src, kek)
            if args.output is None:
                decrypt_payload(src, sys.stdout.buffer, *params)
                sys.stdout.buffer.flush()
                return 0
            partial = args.output + ".partial"
            with open(partial, "xb") as out:
                decrypt_payload(src, out, *params)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, args.output)
            partial = None
        return 0
    except (Reject, OSError) as err:
        print(f"celeriac_decrypt: error: {err}", file=sys.stderr)
        return 1
    finally:
        if partial is not None and os.path.exists(partial):
            os.unlink(partial)


if __name__ == "__main__":
    sys.exit(main())
