#!/usr/bin/env python3
"""Independent check of secure-inference results with pycose, cbor2 and cryptography.

Usage: cose_interop.py --device-key <SEC1 hex of key 0x5002> --recipient-key <PEM> RESULT_HEX...

Each result is a tagged COSE_Sign1 (18, SIGN1) or COSE_Encrypt (96, ENCRYPT0: one
ECDH-ES + HKDF-256 recipient, A256GCM, holding a SIGN1). pycose verifies the signature
and decrypts; cbor2 reads the claims (the value -80000 first, the input -80005); the kids
must be COSE Key Thumbprints (RFC 9679).
One line per result, then a summary; exit 1 if any result fails, 2 on bad arguments.
"""

import argparse
import hashlib
import struct
import sys

import cbor2
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pycose.algorithms import A256GCM
from pycose.headers import KID
from pycose.keys.curves import P256
from pycose.keys.ec2 import EC2Key
from pycose.messages import CoseMessage, EncMessage, Sign1Message

LABEL_VALUE, LABEL_COUNTER, LABEL_INPUT, LABEL_INPUT_SHA256 = -80000, -80004, -80005, -80006


def thumbprint_input(x: bytes, y: bytes) -> bytes:
    """RFC 9679: the required EC2 parameters in deterministic CBOR."""
    encoded = cbor2.dumps({1: 2, -1: 1, -2: x, -3: y}, canonical=True)
    # Byte for byte what cose-results' key::thumbprint_input writes: keys 1, -1, -2, -3.
    expected = bytes([0xA4, 0x01, 0x02, 0x20, 0x01, 0x21, 0x58, 0x20]) + x + bytes([0x22, 0x58, 0x20]) + y
    if encoded != expected:
        raise AssertionError("cbor2's canonical COSE_Key differs from the thumbprint input")
    return encoded


def thumbprint(x: bytes, y: bytes) -> bytes:
    return hashlib.sha256(thumbprint_input(x, y)).digest()


def kid_of(msg) -> bytes:
    kid = msg.phdr.get(KID, msg.uhdr.get(KID))
    if kid is None:
        raise AssertionError("no kid")
    return kid


def rfc9053_kdf_context(recipient_protected: bytes) -> bytes:
    """COSE_KDF_Context (RFC 9053 section 5.2) over the recipient's protected bytes as sent."""
    return cbor2.dumps([3, [None, None, None], [None, None, None], [256, recipient_protected]])


def verify_sign1(data: bytes, device: EC2Key) -> bytes:
    msg = Sign1Message.decode(data)
    if kid_of(msg) != thumbprint(device.x, device.y):
        raise AssertionError("the kid is not the device key's thumbprint")
    msg.key = device
    if not msg.verify_signature():
        raise AssertionError("bad signature")
    return msg.payload


def decrypt(data: bytes, recipient: EC2Key) -> bytes:
    msg = CoseMessage.decode(data)
    if not isinstance(msg, EncMessage) or len(msg.recipients) != 1:
        raise AssertionError("not a COSE_Encrypt with one recipient")
    rcpt = msg.recipients[0]
    if kid_of(rcpt) != thumbprint(recipient.x, recipient.y):
        raise AssertionError("the recipient kid is not the recipient key's thumbprint")
    # pycose re-encodes the recipient's protected map for the KDF context; RFC 9053 takes
    # the bytes as sent. Equal for canonical headers such as h'A1013818'; refuse otherwise.
    raw_protected = cbor2.loads(data).value[3][0][0]
    if rcpt.get_kdf_context(A256GCM).encode() != rfc9053_kdf_context(raw_protected):
        raise AssertionError("pycose's KDF context differs from RFC 9053's for this header")
    rcpt.key = recipient
    return msg.decrypt(rcpt)


def float32s(data) -> tuple:
    """1 to 16 float32 little-endian, as claims -80000 and -80005 hold them."""
    if not isinstance(data, bytes) or not data or len(data) % 4 or len(data) > 64:
        raise AssertionError("not 1 to 16 float32s")
    return struct.unpack(f"<{len(data) // 4}f", data)


def check_claims(payload: bytes) -> str:
    claims = cbor2.loads(payload)
    if not isinstance(claims, dict) or not claims:
        raise AssertionError("the payload is not a claims map")
    first, value = next(iter(claims.items()))
    if first != LABEL_VALUE:
        raise AssertionError("the first claim is not -80000")
    values = float32s(value)
    # The input: its values (-80005), or a tensor's SHA-256 (-80006); one of the two.
    if (LABEL_INPUT in claims) == (LABEL_INPUT_SHA256 in claims):
        raise AssertionError("not exactly one input claim (-80005 or -80006)")
    if LABEL_INPUT_SHA256 in claims:
        digest = claims[LABEL_INPUT_SHA256]
        if not isinstance(digest, bytes) or len(digest) != 32:
            raise AssertionError("-80006 is not a 32-byte SHA-256")
        return f"counter={claims.get(LABEL_COUNTER)} input_sha256={digest.hex()} value={listed(values)}"
    inputs = float32s(claims[LABEL_INPUT])
    return f"counter={claims.get(LABEL_COUNTER)} input={listed(inputs)} value={listed(values)}"


def listed(floats) -> str:
    return ",".join(f"{v:.6g}" for v in floats)


def check(data: bytes, device: EC2Key, recipient: EC2Key) -> str:
    tag = cbor2.loads(data).tag
    if tag == 18:
        return "SIGN1 ok " + check_claims(verify_sign1(data, device))
    if tag == 96:
        return "ENCRYPT0 ok " + check_claims(verify_sign1(decrypt(data, recipient), device))
    raise AssertionError(f"tag {tag}, not 18 or 96")


def be32(i: int) -> bytes:
    return i.to_bytes(32, "big")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device-key", required=True, help="SEC1 hex, 04 || x || y")
    parser.add_argument("--recipient-key", required=True, help="PEM private key (PKCS#8 or SEC1)")
    parser.add_argument("results", nargs="+", metavar="RESULT_HEX")
    args = parser.parse_args()
    point = bytes.fromhex(args.device_key)
    if len(point) != 65 or point[0] != 4:
        parser.error("--device-key must be 65 bytes of SEC1 hex")
    device = EC2Key(crv=P256, x=point[1:33], y=point[33:])
    with open(args.recipient_key, "rb") as f:
        numbers = load_pem_private_key(f.read(), password=None).private_numbers()
    pub = numbers.public_numbers
    recipient = EC2Key(crv=P256, d=be32(numbers.private_value), x=be32(pub.x), y=be32(pub.y))
    failed = 0
    for i, text in enumerate(args.results):
        try:
            print(check(bytes.fromhex(text), device, recipient))
        except Exception as e:  # any failure of this result, reported, then the next one
            failed += 1
            print(f"result {i} FAILED: {type(e).__name__}: {e}")
    print(f"{len(args.results)} results: {len(args.results) - failed} ok, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
