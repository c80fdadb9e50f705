# The device online (twister scenario secure_inference.network, sample.yaml): this
# module starts the bootstrap CA (the build's test CA, CONFIG_SECURE_INFER_TEST_CA),
# mosquitto with the project's configuration and `cloud listen` on the host's
# loopback; the board reaches them through QEMU's user network. The device gets its
# certificates, publishes signed results over mutual TLS, and the cloud verifies and
# stores them. Then QEMU's gdb stub reads the non-secure RAM: the Client TLS private
# key must not be in it.
#
# SPDX-License-Identifier: Apache-2.0

import getpass
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from twister_harness import DeviceAdapter, Shell

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "target" / "debug"
sys.path.insert(0, str(REPO / "tools"))
import identity_kat  # noqa: E402  (the independent model of the key derivation)

UUID = "3084b338-c39e-4c23-9050-fcb9630afcd0"
# TF-M's AN521 dummy HUK, the identity partition's id, no HUK_DERIV_LABEL_EXTRA.
HUK = bytes(range(16)) * 2
PID = 444
RESULTS = 3


def kconfig(build: Path, name: str) -> str:
    text = (build / "zephyr" / ".config").read_text()
    match = re.search(rf"^CONFIG_{name}=(.*)$", text, re.M)
    assert match, f"CONFIG_{name} not in the build's .config"
    return match.group(1).strip('"')


def port_free(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return False
    except OSError:
        return True


def wait_listening(port: int, proc: subprocess.Popen, what: str):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{what} ended with {proc.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{what} did not listen on 127.0.0.1:{port}")


class Host:
    """The host services of one run, on loopback."""

    def __init__(self, build: Path, state: Path):
        self.ca = build / f"test-ca-{kconfig(build, 'SECURE_INFER_TEST_CA_HUB_PORT')}"
        self.state = state
        self.listen_log = state / "listen.log"
        self.procs = []

    def start(self, ca_port: int):
        ca = self.ca
        with sqlite3.connect(ca / "ca.db") as db:
            hub_port = int(db.execute("select value from settings where key = 'hub_port'").fetchone()[0])
        for port in (ca_port, hub_port):
            assert port_free(port), f"127.0.0.1:{port} is taken: stop what listens there first"
        if not (ca / "cloud-consumer.crt.pem").exists():
            subprocess.run([BIN / "bootstrap-ca", "credential", "--dir", ca, "--cn", "cloud-consumer",
                            "--out-dir", ca], check=True, capture_output=True)
        proc = self.spawn([BIN / "bootstrap-ca", "serve", "--dir", ca, "--listen", f"127.0.0.1:{ca_port}"], "ca.log")
        wait_listening(ca_port, proc, "bootstrap-ca")
        conf = (REPO / "broker" / "mosquitto.conf.in").read_text()
        for key, value in {"USER": getpass.getuser(), "STATE": self.state, "PORT": hub_port, "CAFILE": ca / "ca.crt.pem",
                           "CERTFILE": ca / "server.crt.pem", "KEYFILE": ca / "server.key.pem",
                           "ACLFILE": REPO / "broker" / "acl"}.items():
            conf = conf.replace(f"@{key}@", str(value))
        (self.state / "mosquitto.conf").write_text(conf)
        self.hub_port = hub_port
        self.start_broker()
        self.spawn([BIN / "cloud", "listen", *self.cloud_options()], "listen.log")

    def start_broker(self):
        self.broker = self.spawn(["mosquitto", "-c", self.state / "mosquitto.conf"], "mosquitto.out")
        wait_listening(self.hub_port, self.broker, "mosquitto")

    def restart_broker(self):
        """Stops mosquitto (its queued messages saved) and starts it again."""
        self.broker.terminate()
        self.broker.wait(timeout=10)
        self.procs.remove(self.broker)
        self.start_broker()

    def cloud_options(self) -> list:
        ca = self.ca
        return ["--broker", f"localhost:{self.hub_port}", "--ca", ca / "ca.crt.pem",
                "--cert", ca / "cloud-consumer.crt.pem", "--key", ca / "cloud-consumer.key.pem",
                "--db", self.state / "cloud.db", "--recipient-key", REPO / "keys" / "demo-recipient.pem"]

    def spawn(self, args, log: str) -> subprocess.Popen:
        out = open(self.state / log, "w")
        proc = subprocess.Popen([str(a) for a in args], stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop(self):
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def stored(self) -> list:
        """The results `cloud listen` verified and stored, as it printed them."""
        return [line for line in self.listen_log.read_text().splitlines()
                if line.startswith("{") and f'"device":"{UUID}"' in line]


@pytest.fixture(scope="module")
def host(dut: DeviceAdapter, tmp_path_factory):
    for tool, package in [("mosquitto", "mosquitto"), ("gdb-multiarch", "gdb-multiarch")]:
        assert shutil.which(tool), f"{tool} is not installed: this test needs the Debian package {package}"
    build = Path(dut.device_config.build_dir)
    # The device booted already; nothing it printed so far comes from these tests.
    LOG_START["offset"] = Path(dut.handler_log_path).stat().st_size
    services = Host(build, tmp_path_factory.mktemp("host"))
    try:
        services.start(int(kconfig(build, "BOOTSTRAP_SERVER_PORT")))
        yield services
    finally:
        services.stop()


def acknowledged(out: str) -> int:
    """The count `azure wait` reports on success; fails on its error line."""
    assert "Error:" not in out, out
    match = re.search(r"^(\d+) results acknowledged$", out, re.M)
    assert match, out
    return int(match.group(1))


def run(shell: Shell, command: str, timeout: float = 60) -> str:
    """The command's output without the secure console's lines, which may land inside
    the shell's (the tests read those from the whole log: `console`)."""
    out = "\n".join(shell.exec_command(command, timeout=timeout))
    return re.sub(r"\[si_identity\] [^\n]*\n", "", out)


# Where this run's part of handler.log starts (twister appends every run's to it).
LOG_START = {"offset": 0}


def console(dut: DeviceAdapter) -> str:
    """Everything the UART printed in this run: the secure image's log lines come
    between (or inside) the shell's, also while no command runs."""
    with open(dut.handler_log_path, "rb") as log:
        log.seek(LOG_START["offset"])
        return log.read().decode(errors="replace")


def tls_sign_line(n: int) -> str:
    return f"[si_identity] TLS_SIGN #{n}: a handshake signature with key 0x5001"


def test_keys_ca_gets_both_certificates(shell: Shell, host: Host):
    for key in ["5001", "5002"]:
        out = run(shell, f"keys ca {key}", timeout=120)
        assert "signed by the CA given, for this key and subject" in out, out
        assert f"Stored in Protected Storage: uid 0x5ec1ce270000{key}" in out, out
    out = run(shell, "keys status")
    assert out.count("X.509 certificate") >= 2, out


def test_results_published_verified_and_stored(shell: Shell, host: Host):
    run(shell, "azure period 1")
    out = run(shell, "azure start")
    assert f"connecting to localhost:{host.hub_port} as {UUID}" in out, out
    assert acknowledged(run(shell, f"azure wait {RESULTS} 60", timeout=90)) >= RESULTS
    deadline = time.monotonic() + 30
    while len(host.stored()) < RESULTS and time.monotonic() < deadline:
        time.sleep(0.5)
    stored = host.stored()
    assert len(stored) >= RESULTS, host.listen_log.read_text()
    assert all('"format":"SIGN1"' in line and '"model":"sine"' in line for line in stored), stored


def test_nonce_request_answered(shell: Shell, host: Host):
    # The cloud asks the running device for a result bound to its nonce (devicebound).
    nonce = "6672657368206f6e6c79"
    answer = subprocess.run([str(a) for a in [BIN / "cloud", "nonce", *host.cloud_options(), "--device", UUID,
                                               "--nonce", nonce, "--timeout", "30"]],
                            capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert nonce in answer.stdout, answer.stdout
    out = run(shell, "azure status")
    assert re.search(r"nonce requests [1-9]", out), out


def test_one_tls_signature_per_handshake(shell: Shell, host: Host, dut: DeviceAdapter):
    out = run(shell, "azure status")
    handshakes = re.search(r"handshakes (\d+), signatures \(TLS_SIGN\) (\d+)", out)
    assert handshakes, out
    assert int(handshakes.group(1)) >= 1 and handshakes.group(1) == handshakes.group(2), out
    # The identity partition's own record, on the secure console: one line each.
    signatures = int(handshakes.group(2))
    assert tls_sign_line(signatures) in console(dut)
    assert tls_sign_line(signatures + 1) not in console(dut)


def test_reconnects_after_the_broker_restarts(shell: Shell, host: Host, dut: DeviceAdapter):
    before = int(re.search(r"acked (\d+)", run(shell, "azure status")).group(1))
    stored = len(host.stored())
    host.restart_broker()
    assert acknowledged(run(shell, f"azure wait {before + 2} 60", timeout=90)) >= before + 2
    deadline = time.monotonic() + 30
    while len(host.stored()) < stored + 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(host.stored()) >= stored + 2, host.listen_log.read_text()
    out = run(shell, "azure status")
    counts = re.search(r"handshakes (\d+), signatures \(TLS_SIGN\) (\d+)", out)
    # A new connection, a new full handshake, one more signature by the secure world.
    assert counts and int(counts.group(1)) >= 2 and counts.group(1) == counts.group(2), out
    signatures = int(counts.group(2))
    assert tls_sign_line(signatures) in console(dut)
    assert tls_sign_line(signatures + 1) not in console(dut)


def ns_ram(build: Path) -> tuple:
    """The non-secure image's RAM (the devicetree's zephyr,sram) as (start, size)."""
    dts = (build / "zephyr" / "zephyr.dts").read_text()
    label = re.search(r"zephyr,sram = &(\w+);", dts).group(1)
    reg = re.search(rf"\b{label}: memory@\w+ \{{\s*reg = < (0x[0-9a-f]+) (0x[0-9a-f]+) >;", dts)
    return int(reg.group(1), 16), int(reg.group(2), 16)


def test_ns_ram_holds_no_tls_private_key(shell: Shell, host: Host, dut: DeviceAdapter, tmp_path):
    build = Path(dut.device_config.build_dir)
    start, size = ns_ram(build)
    # QEMU's gdb stub, as sample.yaml asks for it (CONFIG_QEMU_EXTRA_FLAGS).
    gdb_port = int(re.search(r"-gdb tcp:127\.0\.0\.1:(\d+)", kconfig(build, "QEMU_EXTRA_FLAGS")).group(1))
    dump = tmp_path / "ns-ram.bin"
    gdb = subprocess.run(
        ["gdb-multiarch", "-nx", "-batch", "-ex", "set architecture armv8-m.main",
         "-ex", f"target remote 127.0.0.1:{gdb_port}",
         "-ex", f"dump binary memory {dump} {start:#x} {start + size:#x}", "-ex", "detach"],
        capture_output=True, text=True, timeout=120)
    assert gdb.returncode == 0 and dump.exists(), gdb.stderr
    ram = dump.read_bytes()
    assert len(ram) == size
    # The dump is the app's memory: the Client TLS certificate, and so its public
    # key, is there (the publisher's copy).
    public = bytes.fromhex(identity_kat.derive(HUK, PID, "")["5001"])
    assert public[1:33] in ram, "the 0x5001 public key is not in the dump: wrong memory?"
    # The private scalar is not, in either byte order, nor any 8 bytes of it.
    scalar = identity_kat.private_scalar(HUK, PID, "", "5001").to_bytes(32, "big")
    for form in (scalar, scalar[::-1]):
        for at in range(0, 32 - 8 + 1):
            assert form[at:at + 8] not in ram, "part of the 0x5001 private key is in non-secure RAM"
    run(shell, "azure stop", timeout=60)
