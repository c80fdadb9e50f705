//! pycose (tools/cose_interop.py) verifies and decrypts what cose-results encodes: an
//! independent implementation of RFC 9052/9053 agrees on every byte the formats sign,
//! authenticate and derive keys from.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::*;

/// The Python that has pycose: `SI_PYTHON` (set by `cargo xtask test`), else the venv
/// that `cargo xtask` installs tools/requirements.txt into.
fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("SI_PYTHON") {
        return python.into();
    }
    let venv = workspace().join("target/venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with pycose: set SI_PYTHON, or install tools/requirements.txt into {} (cargo xtask test does)",
        venv.display()
    );
    venv
}

fn interop(device: &str, results: &[Vec<u8>]) -> Output {
    let recipient = workspace().join("keys/demo-recipient.pem");
    Command::new(python())
        .arg(workspace().join("tools/cose_interop.py"))
        .args(["--device-key", device, "--recipient-key"])
        .arg(recipient)
        .args(results.iter().map(hex::encode))
        .output()
        .unwrap()
}

#[test]
fn pycose_verifies_and_decrypts_genuine_results() {
    let key = device_key();
    let recipient = demo_recipient().public_key();
    let results = [sign1(&key, 1, None), sign1(&key, 2, Some(NONCE)), encrypt0(&key, &recipient, 3)];
    let out = interop(&sec1_hex(&key), &results);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<_> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "SIGN1 ok counter=1 input=0.25 value=0.5,-0.25",
            "SIGN1 ok counter=2 input=0.5 value=0.5,-0.25",
            "ENCRYPT0 ok counter=3 input=0.75 value=0.5,-0.25",
            "3 results: 3 ok, 0 failed",
        ]
    );
}

#[test]
fn pycose_refuses_a_tampered_result() {
    let key = device_key();
    let mut tampered = encrypt0(&key, &demo_recipient().public_key(), 4);
    let at = tampered.len() / 3; // inside the ciphertext
    tampered[at] ^= 0x01;
    let mut forged = sign1(&key, 6, None);
    *forged.last_mut().unwrap() ^= 0x80; // the signature's last byte
    let out = interop(&sec1_hex(&key), &[sign1(&key, 5, None), tampered, forged]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("result 1 FAILED"), "{stdout}");
    assert!(stdout.contains("result 2 FAILED: AssertionError: bad signature"), "{stdout}");
    assert!(stdout.ends_with("3 results: 1 ok, 2 failed\n"), "{stdout}");
}
