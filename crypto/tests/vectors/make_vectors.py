#!/usr/bin/env python3
"""Generate the test vectors of docs/artifact-format.md section 10.

A second, independent writer of the artifact format, written from the spec. Wherever a real writer
draws random bytes, this one uses fixed values, so the output is reproducible. Run it from this
directory: it (re)writes the *.cbk, *.plain and kek-*.b64 files and prints the intermediate values
quoted in the spec. Needs only the `cryptography` package.
"""
import base64
import hashlib
import hmac
import struct
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

MAGIC = bytes.fromhex("8943424b0d0a1a0a")
KEK_A = bytes(range(0x00, 0x20))
KEK_B = bytes(range(0x20, 0x40))
DATA_KEY = bytes(range(0x40, 0x60))
SALT = bytes(range(0x80, 0xA0))
WRAP_NONCES = [bytes(range(0xC0, 0xCC)), bytes(range(0xD0, 0xDC))]
ARCHIVE_ID = uuid.UUID("0191e0a2-7c3a-7cde-8f00-0123456789ab").bytes
CREATED = 1767225600  # 2026-01-01T00:00:00Z


def prf(key, label):
    return hmac.new(key, label, hashlib.sha256).digest()


def hkdf_expand(prk, info, length):
    return HKDFExpand(hashes.SHA256(), length, info).derive(prk)


def build(keks, plaintext, chunk_log2=12, flags=0x01, show=False):
    stanzas = b""
    for kek, wrap_nonce in zip(keks, WRAP_NONCES):
        key_id = prf(kek, b"celeriac/v1 key-id")[:16]
        wrap_key = prf(kek, b"celeriac/v1 wrap-key")
        aad = b"celeriac/v1 wrap" + ARCHIVE_ID + key_id
        body = wrap_nonce + AESGCM(wrap_key).encrypt(wrap_nonce, DATA_KEY, aad)
        stanzas += bytes([1]) + key_id + struct.pack(">H", len(body)) + body
    header_len = 71 + len(stanzas) + 32
    preamble = MAGIC + bytes([1, 1, chunk_log2, flags]) + struct.pack(">H", header_len)
    unauth = (preamble + ARCHIVE_ID + struct.pack(">Q", CREATED) + SALT + bytes([len(keks)])
              + stanzas)
    prk = hmac.new(SALT, DATA_KEY, hashlib.sha256).digest()  # HKDF-Extract
    mac_key = hkdf_expand(prk, b"celeriac/v1 header-mac", 32)
    okm = hkdf_expand(prk, b"celeriac/v1 payload" + preamble[8:12] + ARCHIVE_ID, 39)
    payload_key, prefix = okm[:32], okm[32:]
    header = unauth + hmac.new(mac_key, unauth, hashlib.sha256).digest()
    size = 1 << chunk_log2
    pieces = [plaintext[i:i + size] for i in range(0, len(plaintext), size)] or [b""]
    gcm = AESGCM(payload_key)
    payload = b""
    for i, piece in enumerate(pieces):
        nonce = prefix + struct.pack(">I", i) + bytes([i == len(pieces) - 1])
        payload += gcm.encrypt(nonce, piece, b"")
    if show:
        print("data_key     ", DATA_KEY.hex())
        print("payload_salt ", SALT.hex())
        print("mac_key      ", mac_key.hex())
        print("payload_key  ", payload_key.hex())
        print("nonce_prefix ", prefix.hex())
    return header + payload


def main():
    for name, kek in (("a", KEK_A), ("b", KEK_B)):
        with open(f"kek-{name}.b64", "w") as f:
            f.write(base64.b64encode(kek).decode() + "\n")
    cases = {
        "small": ([KEK_A], b"hello, celeriac\n"),
        "multi": ([KEK_A, KEK_B], bytes(i % 251 for i in range(2 * 4096 + 1))),
        "empty": ([KEK_A], b""),
    }
    for name, (keks, plaintext) in cases.items():
        artifact = build(keks, plaintext, show=(name == "small"))
        with open(f"{name}.cbk", "wb") as f:
            f.write(artifact)
        with open(f"{name}.plain", "wb") as f:
            f.write(plaintext)
        print(f"{name}.cbk  {len(artifact)} bytes  sha256 {hashlib.sha256(artifact).hexdigest()}")
        if name == "small":
            print(artifact.hex())


if __name__ == "__main__":
    main()
