//! The device-identity service through the real secure process: policy, bad input,
//! and agreement with OpenSSL and with the independent model of scheme v1.

mod common;

use common::{device_sim, pem_blocks, scratch, secure_process};
use device_sim::client::SocketClient;
use psa::{Client, Status};
use secure_api::identity as api;
use std::process::{Command, Stdio};

fn sign_request(c: &mut SocketClient, key: u32, digest: &[u8]) -> Result<[u8; 64], Status> {
    let mut sig = [0u8; 64];
    c.call(api::SERVICE.handle(), api::TLS_SIGN, &[&key.to_le_bytes(), digest], &mut [&mut sig]).map(|_| sig)
}

#[test]
fn only_the_client_tls_key_signs_for_the_non_secure_world() {
    let state = scratch("identity-policy");
    let (mut child, socket) = secure_process(&state);
    let mut c = SocketClient::connect(&socket).unwrap();
    let digest = [0x42u8; 32];
    let sig = sign_request(&mut c, 0x5001, &digest).expect("TLS handshake signature");
    let mut public = [0u8; 65];
    c.call(api::SERVICE.handle(), api::PUBLIC_KEY, &[&0x5001u32.to_le_bytes()], &mut [&mut public]).unwrap();
    assert!(device_identity::verify_prehash(&public, &digest, &sig));
    assert_eq!(sign_request(&mut c, 0x5002, &digest), Err(Status::ERROR_NOT_PERMITTED));
    assert_eq!(sign_request(&mut c, 0x5003, &digest), Err(Status::ERROR_NOT_PERMITTED));
    assert_eq!(sign_request(&mut c, 0x5004, &digest), Err(Status::ERROR_INVALID_ARGUMENT));
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn malformed_identity_requests_get_an_error_status() {
    let state = scratch("identity-bad");
    let (mut child, socket) = secure_process(&state);
    let mut c = SocketClient::connect(&socket).unwrap();
    let h = api::SERVICE.handle();
    let key = 0x5001u32.to_le_bytes();
    let mut big = [0u8; 600];
    let cases: [(i32, &[&[u8]], usize, Status); 10] = [
        (api::PUBLIC_KEY, &[&key[..3]], 65, Status::ERROR_INVALID_ARGUMENT), // short key id
        (api::PUBLIC_KEY, &[&[1, 2, 3, 4, 5]], 65, Status::ERROR_INVALID_ARGUMENT), // long key id
        (api::PUBLIC_KEY, &[&key], 64, Status::ERROR_INVALID_ARGUMENT),      // output too small
        (api::PUBLIC_KEY, &[&key, b"x"], 65, Status::ERROR_INVALID_ARGUMENT), // extra input
        (api::PUBLIC_KEY, &[], 65, Status::ERROR_INVALID_ARGUMENT),          // no key id
        (api::UUID, &[], 15, Status::ERROR_INVALID_ARGUMENT),
        (api::CSR, &[&key], 100, Status::ERROR_BUFFER_TOO_SMALL),
        (api::TLS_SIGN, &[&key, &[0; 31]], 64, Status::ERROR_INVALID_ARGUMENT), // short digest
        (api::KEY_STATUS, &[], 23, Status::ERROR_INVALID_ARGUMENT),
        (99, &[], 0, Status::ERROR_NOT_SUPPORTED),
    ];
    for (msg_type, inputs, cap, want) in cases {
        let got = c.call(h, msg_type, inputs, &mut [&mut big[..cap]]);
        assert_eq!(got, Err(want), "type {msg_type} inputs {inputs:?} cap {cap}");
    }
    // Still serving.
    let mut uuid = [0u8; 16];
    assert_eq!(c.call(h, api::UUID, &[], &mut [&mut uuid]).unwrap().out_len[0], 16);
    assert_eq!(uuid[6] >> 4, 4, "version 4");
    child.kill().unwrap();
    let _ = child.wait();
}

fn shell(state: &std::path::Path, extra: &str, commands: &str) -> String {
    let out = device_sim()
        .arg("--state")
        .arg(state)
        .args(["--label-extra", extra, "-c", commands])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stdout).unwrap()
}

fn openssl(args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl on PATH");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn openssl_accepts_every_csr_and_sees_the_keys_the_device_exports() {
    let state = scratch("identity-openssl");
    let uuid = shell(&state, "", "info uuid").lines().last().unwrap().to_owned();
    for (key, label) in
        [("5001", "Device Client TLS"), ("5002", "Device COSE SIGN"), ("5003", "Device COSE ENCRYPT")]
    {
        let text = shell(&state, "", &format!("keys public {key}; keys csr PEM {key}"));
        let public = pem_blocks(&text, "PUBLIC KEY")[0];
        let csr = pem_blocks(&text, "CERTIFICATE REQUEST")[0];
        let verified = openssl(&["req", "-verify", "-noout"], csr);
        assert!(verified.contains("verify OK"), "{verified}");
        let shown = openssl(&["req", "-text", "-noout"], csr);
        assert!(shown.contains(&format!("Subject: O = Linaro, CN = {uuid}, OU = {label}")), "{shown}");
        assert!(shown.contains("ASN1 OID: prime256v1") && shown.contains("ecdsa-with-SHA256"), "{shown}");
        assert_eq!(openssl(&["req", "-pubkey", "-noout"], csr), public, "CSR key = keys public {key}");
        // The exported key is a well-formed P-256 SubjectPublicKeyInfo to OpenSSL too.
        assert!(openssl(&["pkey", "-pubin", "-noout", "-text"], public).contains("NIST CURVE: P-256"));
    }
    // The JSON form carries the same request.
    let text = shell(&state, "", "keys csr JSON 5001");
    let json = text.lines().find(|l| l.starts_with("{\"CSR\":\"")).expect("JSON line");
    let pem = json.trim_start_matches("{\"CSR\":\"").trim_end_matches("\"}").replace("\\n", "\n");
    assert!(openssl(&["req", "-verify", "-noout"], &pem).contains("verify OK"));
}

#[test]
fn emulated_device_equals_the_independent_model_of_scheme_v1() {
    let python = std::env::var("SI_PYTHON").unwrap_or_else(|_| {
        panic!("SI_PYTHON is not set: run the tests with `cargo xtask test`, which prepares the pinned venv")
    });
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/identity_kat.py");
    for extra in ["", "qemu-2", "fifteen-chars-x"] {
        let out = Command::new(&python).args([model, "--extra", extra]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let expected = String::from_utf8(out.stdout).unwrap();
        let text = shell(&scratch("identity-model"), extra, "info uuid; keys public");
        let uuid =
            text.lines().nth(text.lines().position(|l| l.ends_with("info uuid")).unwrap() + 1).unwrap();
        assert!(expected.contains(&format!("\"uuid\": \"{uuid}\"")), "extra {extra:?}: {uuid} vs {expected}");
        for (i, key) in ["5001", "5002", "5003"].iter().enumerate() {
            let point = openssl(&["pkey", "-pubin", "-noout", "-text"], pem_blocks(&text, "PUBLIC KEY")[i]);
            let hex: String = point
                .split("pub:")
                .nth(1)
                .unwrap()
                .split("ASN1")
                .next()
                .unwrap()
                .chars()
                .filter(|c| c.is_ascii_hexdigit())
                .collect();
            assert!(expected.contains(&format!("\"{key}\": \"{hex}\"")), "extra {extra:?} key {key}");
        }
    }
}
