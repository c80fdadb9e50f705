# The app on the board (twister's pytest harness: `twister -T <app>`): the shell
# commands answer, and the identity is the one the host emulation derives for TF-M's
# dummy HUK with an empty HUK_DERIV_LABEL_EXTRA (README.rst shows the same values).
#
# SPDX-License-Identifier: Apache-2.0

from twister_harness import Shell

UUID = "3084b338-c39e-4c23-9050-fcb9630afcd0"
COSE_SIGN_KEY_PEM_LINE_1 = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAElzfHBIgXnLtmAzZMJjxM4tAs/d/s"


def test_uuid_is_the_emulations(shell: Shell):
    assert UUID in shell.exec_command("info uuid")


def test_keys_are_generated(shell: Shell):
    lines = shell.exec_command("keys status")
    for key in ["0x5001", "0x5002", "0x5003"]:
        assert any(key in line and "Key generated" in line for line in lines), lines


def test_cose_sign_key_is_the_emulations(shell: Shell):
    assert COSE_SIGN_KEY_PEM_LINE_1 in shell.exec_command("keys public 5002")


def test_csr_names_the_device(shell: Shell):
    lines = shell.exec_command("keys csr PEM 5001", timeout=60)
    assert f"Subject: O=Linaro,CN={UUID},OU=Device Client TLS" in lines, lines
    assert "-----END CERTIFICATE REQUEST-----" in lines, lines


def test_signed_inference(shell: Shell):
    lines = shell.exec_command("infer get sine SIGN1 90", timeout=60)
    assert any(line.startswith("Result (hex): d28443a10126") for line in lines), lines
    assert "Model: Sine of 90.00 deg is: 0.979169" in lines, lines


def test_encrypted_inference(shell: Shell):
    lines = shell.exec_command("infer get sine ENCRYPT0 270", timeout=120)
    assert any(line.startswith("Result (hex): d8608443a10103") for line in lines), lines
