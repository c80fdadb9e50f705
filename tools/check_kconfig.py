#!/usr/bin/env python3
"""The Zephyr app's Kconfig without Zephyr: it parses (kconfiglib, with a stand-in
for Zephyr's own Kconfig tree), every option has a prompt and help (menuconfig), the
defaults are the documented ones, and prj.conf and the overlay set only symbols that
exist (ours here; Zephyr's are checked by a real build).

usage: check_kconfig.py <app root>
"""
import os
import re
import sys
import tempfile

import kconfiglib

# What the app's options refer to from Zephyr (none today) plus the Zephyr symbols
# prj.conf and the overlay set, so that kconfiglib can load those files.
ZEPHYR_STANDIN = """
config ZEPHYR_STANDIN
	bool
"""

EXPECTED_DEFAULTS = {
    "SECURE_INFER_HUK_DERIV_LABEL_EXTRA": "",
    "SECURE_INFER_CSR_ORG": "Linaro",
    "SECURE_INFER_RESULT_RECIPIENT": "",
    "SECURE_INFER_DEFAULT_FORMAT_SIGN1": "y",
    "SECURE_INFER_DEFAULT_FORMAT_CBOR": "n",
    "SECURE_INFER_DEFAULT_FORMAT_ENCRYPT0": "n",
    "NONSECURE_COSE_VERIFY_SIGN": "n",
    "NONSECURE_INFER_GET_MAX_STEPS": "360",
    "SECURE_INFER_MODEL_SINE": "y",
    "SECURE_INFER_MODEL_SINE_F32": "y",
    # Off: the model is not in the repository (read from SECURE_INFER_MODEL_KWS_PATH).
    "SECURE_INFER_MODEL_KWS": "n",
    "SECURE_INFER_MODEL_KWS_PATH": "",
    # The original sample's names (issue #16); ns_app::shell::BOOTSTRAP_SERVER_* the same.
    "BOOTSTRAP_SERVER_HOST": "192.0.2.2",
    "BOOTSTRAP_SERVER_PORT": "1443",
    # The firmware's network (overlay-smsc911x.conf): off without NETWORKING.
    "SECURE_INFER_BOOTSTRAP_CREDS": "",
    "SECURE_INFER_LOCALHOST_IS_QEMU_HOST": "n",
    # docs/mqtt.md; ns_app::shell::AZURE_* the same.
    "NONSECURE_AZURE_FORMAT_SIGN1": "y",
    "NONSECURE_AZURE_FORMAT_ENCRYPT0": "n",
    "NONSECURE_AZURE_PERIOD": "10",
    "NONSECURE_AZURE_QUEUE": "32",
    "NONSECURE_AZURE_KEEP_ALIVE": "60",
    # The publisher's thread (src/broker_tls.c), 8,392 B measured; off without NETWORKING.
    "SECURE_INFER_AZURE_STACK_SIZE": "",
    # The twister network scenarios' CA (pytest/test_network.py); never on by default.
    "SECURE_INFER_TEST_CA": "n",
    "SECURE_INFER_TEST_CA_HUB_PORT": "",
}


def fail(msg):
    print(f"check_kconfig: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    root = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tree:
        with open(os.path.join(tree, "Kconfig.zephyr"), "w") as f:
            f.write(ZEPHYR_STANDIN)
        os.environ["srctree"] = tree
        kconf = kconfiglib.Kconfig(os.path.join(root, "Kconfig"), warn_to_stderr=False)
    ours = [s for s in kconf.unique_defined_syms if s.name != "ZEPHYR_STANDIN"]
    if sorted(s.name for s in ours) != sorted(EXPECTED_DEFAULTS):
        fail(f"options {sorted(s.name for s in ours)} != {sorted(EXPECTED_DEFAULTS)}")
    for sym in ours:
        for node in sym.nodes:
            if not node.prompt or not node.help:
                fail(f"{sym.name} needs a prompt and a help text (menuconfig)")
        if sym.str_value != EXPECTED_DEFAULTS[sym.name]:
            fail(f"{sym.name} defaults to {sym.str_value!r}, not {EXPECTED_DEFAULTS[sym.name]!r}")
    choice = kconf.named_choices["SECURE_INFER_DEFAULT_FORMAT"]
    if not choice.nodes[0].help:
        fail("the format choice needs a help text")
    # A user's choice takes, and a port outside 1..65535 is refused by the range.
    kconf.syms["SECURE_INFER_DEFAULT_FORMAT_ENCRYPT0"].set_value("y")
    if kconf.syms["SECURE_INFER_DEFAULT_FORMAT_SIGN1"].str_value != "n":
        fail("choosing ENCRYPT0 did not unselect SIGN1")
    port = kconf.syms["BOOTSTRAP_SERVER_PORT"]
    port.set_value("70000")
    if port.str_value == "70000":
        fail("BOOTSTRAP_SERVER_PORT accepted 70000")
    # prj.conf and the overlay: every CONFIG_ line parses; those naming our options
    # name existing ones.
    for conf in ["prj.conf", "overlay-smsc911x.conf", "boards/mps2_an521_cpu0_ns.conf"]:
        for n, line in enumerate(open(os.path.join(root, conf)), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not line.startswith("CONFIG_") or "=" not in line:
                fail(f"{conf}:{n}: not a CONFIG_ assignment: {line}")
            name = line[len("CONFIG_"):line.index("=")]
            if name in EXPECTED_DEFAULTS or name.startswith(("SECURE_INFER_", "BOOTSTRAP_SERVER_")):
                if name not in kconf.syms:
                    fail(f"{conf}:{n}: no option {name}")
    # The host emulation's defaults are the Rust constants: they must say the same.
    shell_rs = open(os.path.join(root, "rust/ns-app/src/shell.rs")).read()
    constants = {
        "BOOTSTRAP_SERVER_HOST": "BOOTSTRAP_SERVER_HOST",
        "BOOTSTRAP_SERVER_PORT": "BOOTSTRAP_SERVER_PORT",
        "AZURE_PERIOD": "NONSECURE_AZURE_PERIOD",
        "AZURE_QUEUE": "NONSECURE_AZURE_QUEUE",
        "AZURE_KEEP_ALIVE": "NONSECURE_AZURE_KEEP_ALIVE",
    }
    for name, option in constants.items():
        match = re.search(rf"pub const {name}: [^=]+= ([^;]+);", shell_rs)
        value = match.group(1).strip('"') if match else None
        if value != EXPECTED_DEFAULTS[option]:
            fail(f"ns_app::shell::{name} is {value!r}, the Kconfig default {EXPECTED_DEFAULTS[option]!r}")
    print(f"Kconfig: {len(ours)} options parse, with prompts, help and their defaults")


if __name__ == "__main__":
    main()
