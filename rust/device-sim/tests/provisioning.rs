//! `keys ca`, `keys cert` and `keys status` of the real `device-sim` against the real
//! `bootstrap-ca` on loopback: provisioning, the certificate checked by openssl, the
//! record read back after a restart, and the failures named (unreachable, TLS with
//! another CA, a revoked device refused with the CA's reason).
//!
//! `bootstrap-ca` is the workspace's binary beside `device-sim` (`cargo test
//! --workspace`, as `cargo xtask test` runs it, builds both); a `cargo test -p
//! device-sim` alone builds it first if it is missing.

mod common;

use common::mqtt::{bootstrap_ca, init_ca, serve_ca};
use common::{device_sim, pem_blocks, scratch};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs the device on `state` with the credentials in `creds` against `port`.
fn device(state: &Path, creds: &Path, port: u16, script: &str) -> (Output, String) {
    let out = device_sim()
        .arg("--state")
        .arg(state)
        .arg("--bootstrap-creds")
        .arg(creds)
        .args(["--bootstrap-server", &format!("localhost:{port}"), "-c", script])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, text)
}

fn openssl(args: &[&str], input: Option<&Path>) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args(args);
    if let Some(path) = input {
        cmd.arg(path);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn keys_ca_provisions_both_keys_and_the_record_survives_a_restart() {
    let dir = scratch("provision");
    let ca = dir.join("ca");
    init_ca(&ca, None);
    let (_server, port) = serve_ca(&ca);
    let state = dir.join("state");
    let (out, text) = device(&state, &ca, port, "keys ca 5001; keys ca 5002; keys cert 5001; keys status");
    assert_eq!(out.status.code(), Some(0), "{text}");
    for id in ["0x5001", "0x5002"] {
        assert!(
            text.contains(&format!("Stored in Protected Storage: uid 0x5ec1ce270000{}", &id[2..])),
            "{text}"
        );
    }
    assert!(text.contains("Hub: "), "{text}");
    assert!(text.contains("| Device Client TLS      | 0x5001   | X.509 certificate |"), "{text}");
    assert!(text.contains("| Device COSE SIGN       | 0x5002   | X.509 certificate |"), "{text}");
    assert!(text.contains("| Device COSE ENCRYPT    | 0x5003   | Key generated     |"), "{text}");
    let cert_5001 = pem_blocks(&text, "CERTIFICATE").remove(0);

    // openssl: the chain, the key of `keys public 5001`, the extensions.
    let (out, after) =
        device(&state, &ca, port, "keys status; keys cert 5001; keys cert 5002; keys public 5001");
    assert_eq!(out.status.code(), Some(0), "{after}");
    assert!(after.contains("| 0x5001   | X.509 certificate |"), "read back after a restart: {after}");
    assert!(after.contains("| 0x5002   | X.509 certificate |"), "{after}");
    let certs = pem_blocks(&after, "CERTIFICATE");
    assert_eq!(certs[0], cert_5001, "the same certificate after a restart");
    let public = pem_blocks(&after, "PUBLIC KEY").remove(0);
    for (i, cert) in certs.iter().enumerate() {
        let path = write(&dir, &format!("cert{i}.pem"), cert);
        let verified = openssl(&["verify", "-CAfile", ca.join("ca.crt.pem").to_str().unwrap()], Some(&path));
        assert_eq!(verified.trim(), format!("{}: OK", path.display()));
    }
    let path = dir.join("cert0.pem");
    assert_eq!(openssl(&["x509", "-noout", "-pubkey", "-in"], Some(&path)), public);
    let text_form = openssl(&["x509", "-noout", "-text", "-in"], Some(&path));
    assert!(text_form.contains("OU = Device Client TLS"), "{text_form}");
    assert!(text_form.contains("TLS Web Client Authentication"), "{text_form}");
}

#[test]
fn failures_are_named() {
    let dir = scratch("provision-fail");
    let (ca, other) = (dir.join("ca"), dir.join("other"));
    init_ca(&ca, None);
    init_ca(&other, None);
    let state = dir.join("state");

    // Nothing listens: unreachable, retried, then given up.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let (out, text) = device(&state, &ca, free, "keys ca 5001");
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(text.matches("; retrying in ").count(), 3, "{text}");
    assert!(text.contains("Error: GET /api/v1/ccs: bootstrap server unreachable: "), "{text}");
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());

    // The server's certificate is another CA's (of the same name: its signature
    // does not verify): TLS fails, named.
    let (server, port) = serve_ca(&other);
    let (_, text) = device(&state, &ca, port, "keys ca 5001");
    assert!(
        text.contains(
            "Error: GET /api/v1/ccs: TLS with the bootstrap server failed: invalid peer certificate: "
        ),
        "{text}"
    );
    drop(server);

    // The device's bootstrap credential is another CA's: the server refuses it.
    let (_server, port) = serve_ca(&ca);
    let mixed = dir.join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    std::fs::copy(ca.join("ca.crt.pem"), mixed.join("ca.crt.pem")).unwrap();
    for f in ["bootstrap.crt.pem", "bootstrap.key.pem"] {
        std::fs::copy(other.join(f), mixed.join(f)).unwrap();
    }
    let (_, text) = device(&state, &mixed, port, "keys ca 5001");
    assert!(text.contains("Error: GET /api/v1/ccs: TLS with the bootstrap server failed: "), "{text}");

    // A revoked device: the CA's refusal and its reason, not retried; the record
    // stored before stays.
    let (out, text) = device(&state, &ca, port, "keys ca 5001");
    assert_eq!(out.status.code(), Some(0), "{text}");
    let list = bootstrap_ca().arg("list").arg("--dir").arg(&ca).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    let serial = list.lines().nth(1).and_then(|l| l.split_whitespace().next()).unwrap().to_owned();
    let revoked = bootstrap_ca().arg("revoke").arg("--dir").arg(&ca).arg(&serial).output().unwrap();
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    let (out, text) = device(&state, &ca, port, "keys ca 5001");
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Error: POST /api/v1/cr: refused by the CA: HTTP 4"), "{text}");
    assert!(!text.contains("retrying"), "{text}");
    let (_, text) = device(&state, &ca, port, "keys status");
    assert!(text.contains("| 0x5001   | X.509 certificate |"), "{text}");
}

#[test]
fn without_credentials_keys_ca_says_there_is_no_network() {
    let state = scratch("provision-none");
    let out = device_sim()
        .arg("--state")
        .arg(&state)
        .args(["-c", "keys ca 5001; keys cert 5002"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Error: no network in this build: `keys ca` needs the bootstrap server"), "{text}");
    assert!(
        text.contains("Error: no certificate for key 0x5002 (`keys ca 5002` asks the CA for one)"),
        "{text}"
    );
    // Bad flags are usage errors.
    let out = device_sim()
        .arg("--state")
        .arg(&state)
        .arg("--bootstrap-creds")
        .arg(state.join("no-such-dir"))
        .args(["-c", "help"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ca.crt.pem"));
    let out = device_sim().args(["--bootstrap-server", "localhost"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("want HOST:PORT"));
}
