#!/usr/bin/env python3
"""Independent model of key derivation scheme v1 (docs/key-derivation.md).

Computes, from a HUK, a partition id and HUK_DERIV_LABEL_EXTRA, what the device
must derive: TF-M's HUK binding (HKDF-SHA256, no salt, info = LE32(partition id)),
then per label HKDF-SHA256 with info = label || 0x00 || extra, 48 bytes reduced to a
P-256 scalar as FIPS 186-5 A.2.1 does, the public key by the `cryptography` package
(OpenSSL), and the UUID with its version-4 bits. Prints JSON.
"""
import argparse
import hashlib
import hmac
import json

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
LABELS = {"5001": "si.v1.key.client-tls", "5002": "si.v1.key.cose-sign", "5003": "si.v1.key.cose-encrypt"}


def hkdf_sha256(ikm: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(b"\0" * 32, ikm, hashlib.sha256).digest()  # RFC 5869: no salt = zeros
    out, block = b"", b""
    for i in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
    return out[:length]


def private_scalar(huk: bytes, pid: int, extra: str, key_id: str) -> int:
    """The private scalar of key `key_id` ("5001"...): for memory scans that check
    the key is absent (pytest/test_network.py), never for the device itself."""
    secret = hkdf_sha256(huk, pid.to_bytes(4, "little", signed=True), 32)
    c = int.from_bytes(hkdf_sha256(secret, LABELS[key_id].encode() + b"\0" + extra.encode(), 48), "big")
    return c % (N - 1) + 1


def derive(huk: bytes, pid: int, extra: str) -> dict:
    secret = hkdf_sha256(huk, pid.to_bytes(4, "little", signed=True), 32)
    result = {}
    for key_id in LABELS:
        d = private_scalar(huk, pid, extra, key_id)
        public = ec.derive_private_key(d, ec.SECP256R1()).public_key()
        result[key_id] = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint).hex()
    u = bytearray(hkdf_sha256(secret, b"si.v1.uuid\0" + extra.encode(), 16))
    u[6] = (u[6] & 0x0F) | 0x40
    u[8] = (u[8] & 0x3F) | 0x80
    h = u.hex()
    result["uuid"] = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--huk", default=bytes(list(range(16)) * 2).hex(), help="64 hex digits (default: TF-M's AN521 dummy HUK)")
    ap.add_argument("--pid", type=int, default=444, help="the identity partition's id")
    ap.add_argument("--extra", default="", help="HUK_DERIV_LABEL_EXTRA")
    args = ap.parse_args()
    print(json.dumps(derive(bytes.fromhex(args.huk), args.pid, args.extra), indent=1))


if __name__ == "__main__":
    main()
