#!/usr/bin/env python3
"""An independent client of bootstrap-ca: Python's ssl (OpenSSL), cbor2, cryptography.

usage: interop.py CA_DIR PORT WORK_DIR

Sends the original C device's requests byte for byte as the liteboot anchor's device.py
builds them (POST /api/v1/cr with Host, Content-Type, Content-Length, Connection: close;
the body CBOR [bstr CSR] with a CSR made by openssl), the original's GET /api/v1/ccs,
and liteboot's JSON variant. Prints one "ok ..." line per check; exits 1 on the first
failure. Loopback only, one connection per check.
"""
import base64, json, os, socket, ssl, subprocess, sys, uuid

import cbor2
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DIR, PORT, WORK = sys.argv[1], int(sys.argv[2]), sys.argv[3]
SNI = "localhost"


def context():
    ctx = ssl.create_default_context(cafile=os.path.join(CA_DIR, "ca.crt.pem"))
    ctx.load_cert_chain(os.path.join(CA_DIR, "bootstrap.crt.pem"), os.path.join(CA_DIR, "bootstrap.key.pem"))
    return ctx


def exchange(request, until_close=True):
    """Sends request bytes; returns (status line, headers dict, body)."""
    with socket.create_connection(("127.0.0.1", PORT), timeout=10) as raw:
        with context().wrap_socket(raw, server_hostname=SNI) as s:
            s.sendall(request)
            resp = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                resp += chunk
                head, sep, body = resp.partition(b"\r\n\r\n")
                if sep and not until_close:
                    length = [int(l.split(b":", 1)[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                    if length and len(body) >= length[0]:
                        break
    head, _, body = resp.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    return lines[0], headers, body


def check(cond, what):
    if not cond:
        print(f"FAILED {what}")
        sys.exit(1)


def openssl_csr(subject):
    key, der = os.path.join(WORK, "dev.key"), os.path.join(WORK, "dev.csr.der")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], check=True)
    subprocess.run(["openssl", "req", "-new", "-sha256", "-key", key, "-outform", "DER", "-out", der, "-subj", subject],
                   check=True)
    return open(der, "rb").read()


def verify(der, ou, devid):
    path = os.path.join(WORK, "dev.crt.pem")
    subprocess.run(["openssl", "x509", "-inform", "DER", "-out", path], input=der, check=True)
    v = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(CA_DIR, "ca.crt.pem"), path],
                       capture_output=True, text=True)
    check(v.returncode == 0, f"openssl verify: {v.stdout}{v.stderr}")
    cert = x509.load_der_x509_certificate(der)
    check(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == devid, "CN")
    check(cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == ou, "OU")
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    check(list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH], "EKU clientAuth")
    check(cert.extensions.get_extension_for_class(x509.BasicConstraints).critical, "basicConstraints critical")


def original_device_cr():
    devid = str(uuid.uuid4())
    csr = openssl_csr(f"/O=Linaro/CN={devid}/OU=Device Client TLS")
    body = cbor2.dumps([csr])
    head = (f"POST /api/v1/cr HTTP/1.1\r\nHost: {SNI}:{PORT}\r\nContent-Type: application/cbor\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    status, headers, rbody = exchange(head + body)
    check(status == "HTTP/1.1 200 OK", f"status {status}")
    check(headers.get("content-type") == "application/cbor", f"content type {headers}")
    reply = cbor2.loads(rbody)
    # The original decodes key 1 (status) first, then key 2 (certificate), nothing else.
    check(list(reply.keys()) == [1, 2] and reply[1] == 0, f"reply {reply}")
    verify(reply[2], "Device Client TLS", devid)
    print(f"ok original device request ({len(head) + len(body)} bytes) -> certificate ({len(reply[2])} bytes)")


def original_device_ccs():
    # Zephyr's http_client: request line, Host, the app's Content-Type header, no body.
    request = f"GET /api/v1/ccs HTTP/1.1\r\nHost: {SNI}\r\nContent-Type: application/cbor\r\n\r\n".encode()
    status, headers, body = exchange(request, until_close=False)
    check(status == "HTTP/1.1 200 OK", f"status {status}")
    reply = cbor2.loads(body)
    check(list(reply.keys()) == [1, 2] and isinstance(reply[1], str) and isinstance(reply[2], int), f"ccs {reply}")
    print(f"ok original device ccs -> hub {reply[1]}:{reply[2]}")


def liteboot_json():
    devid = str(uuid.uuid4())
    csr = openssl_csr(f"/O=Linaro/CN={devid}/OU=Device Client TLS")
    body = json.dumps({"CSR": base64.b64encode(csr).decode()}).encode()
    head = (f"POST /api/v1/cr HTTP/1.1\r\nHost: {SNI}:{PORT}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    status, headers, rbody = exchange(head + body)
    check(status == "HTTP/1.1 200 OK", f"status {status}")
    reply = json.loads(rbody)
    check(reply["Status"] == 0, f"reply {reply}")
    verify(base64.b64decode(reply["Cert"]), "Device Client TLS", devid)
    print("ok liteboot JSON request -> certificate")


def refusal_in_cbor():
    body = cbor2.dumps([b"\x30\x00"])
    head = (f"POST /api/v1/cr HTTP/1.1\r\nHost: {SNI}:{PORT}\r\nContent-Type: application/cbor\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    status, headers, rbody = exchange(head + body)
    reply = cbor2.loads(rbody)
    check(status.startswith("HTTP/1.1 400") and reply[1] == 2 and isinstance(reply[5], str), f"{status} {reply}")
    print(f"ok refusal -> 400 {{1: {reply[1]}, 5: {reply[5]!r}}}")


original_device_cr()
original_device_ccs()
liteboot_json()
refusal_in_cbor()
