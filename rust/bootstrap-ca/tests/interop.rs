//! Python (OpenSSL's TLS, cbor2, cryptography) speaks to the CA as the original C device
//! and as a liteboot JSON client did: tests/interop.py.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

/// The venv's Python: `SI_PYTHON` (set by `cargo xtask test`), else the venv that
/// `cargo xtask` installs tools/requirements.txt into.
fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("SI_PYTHON") {
        return python.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/venv/bin/python");
    assert!(venv.exists(), "no Python with cbor2: set SI_PYTHON, or run the tests with `cargo xtask test`");
    venv
}

#[test]
fn python_sends_the_original_devices_requests_and_liteboots_json() {
    let dir = init();
    let mut server = Server::start(dir.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(python())
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop.py"))
        .arg(dir.path())
        .arg(server.addr.port().to_string())
        .arg(work.path())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[0].starts_with("ok original device request"), "{stdout}");
    assert_eq!(lines[1], "ok original device ccs -> hub hub.example:8883");
    assert_eq!(lines[2], "ok liteboot JSON request -> certificate");
    assert!(
        lines[3].starts_with("ok refusal -> 400 {1: 2, 5: 'the CSR is not a DER PKCS#10 request"),
        "{stdout}"
    );
    server.assert_serving();
}
