//! The `cloud` binary: arguments, exit codes, and counter state kept across processes.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use common::*;
use p256::pkcs8::{EncodePublicKey, LineEnding};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::EncodePem;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;

fn cloud(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloud"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn sign1_and_state_across_processes() {
    let key = device_key();
    let (dev, dir) = (sec1_hex(&key), tempfile::tempdir().unwrap());
    let state = dir.path().to_str().unwrap();
    let result = hex::encode(sign1(&key, 42, Some(NONCE)));
    let nonce = hex::encode(NONCE);
    let args = ["verify", "--device-key", &dev, "--state", state, "--nonce", &nonce, &result];
    let v = json(&cloud(&args, None));
    assert_eq!(v["format"], "SIGN1");
    assert_eq!(v["device"], UUID_TEXT);
    assert_eq!(v["counter"], 42);
    assert_eq!(v["values"], serde_json::json!([0.5, -0.25]));
    assert_eq!(v["nonce"], nonce);
    let again = cloud(&args, None);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(text(&again.stderr), "cloud: replayed or stale result: counter 42, last accepted 42\n");
    // The same result as standard base64 on stdin, without the state: accepted.
    let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(&result).unwrap());
    json(&cloud(&["verify", "--device-key", &dev, "-"], Some(&format!("{b64}\n"))));
}

#[test]
fn unsigned_results_never_move_the_state() {
    let key = device_key();
    let (dev, dir) = (sec1_hex(&key), tempfile::tempdir().unwrap());
    let state = dir.path().to_str().unwrap();
    // Anyone can write an unsigned result with the device's UUID and a huge counter.
    let forged = hex::encode(claims_bytes(u64::MAX - 1, None));
    let args = ["verify", "--device-key", &dev, "--state", state, "--allow-unsigned", &forged];
    assert_eq!(json(&cloud(&args, None))["counter"], u64::MAX - 1);
    // The device's genuine, signed results are still accepted, and then recorded.
    let genuine = hex::encode(sign1(&key, 7, None));
    json(&cloud(&["verify", "--device-key", &dev, "--state", state, &genuine], None));
    let again = cloud(&["verify", "--device-key", &dev, "--state", state, &genuine], None);
    assert_eq!(again.status.code(), Some(1), "a signed result's counter is recorded");
}

#[test]
fn encrypt0_from_a_raw_file_with_a_certificate() {
    let key = device_key();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("result.cbor");
    std::fs::write(&file, encrypt0(&key, &demo_recipient().public_key(), 3)).unwrap();
    let spki = SubjectPublicKeyInfoOwned::from_key(public(&key)).unwrap();
    let validity = Validity::from_now(Duration::from_secs(3600)).unwrap();
    let name = Name::from_str("CN=device").unwrap();
    let builder =
        CertificateBuilder::new(Profile::Root, SerialNumber::from(1u32), validity, name, spki, &key);
    let cert = builder.unwrap().build::<p256::ecdsa::DerSignature>().unwrap();
    let cert_path = dir.path().join("device.pem");
    std::fs::write(&cert_path, cert.to_pem(LineEnding::LF).unwrap()).unwrap();
    let recipient = workspace().join("keys/demo-recipient.pem");
    let (cert_path, recipient, file) =
        (cert_path.to_str().unwrap(), recipient.to_str().unwrap(), file.to_str().unwrap());
    let v = json(&cloud(&["verify", "--device-cert", cert_path, "--recipient-key", recipient, file], None));
    assert_eq!((v["format"].as_str(), v["counter"].as_u64()), (Some("ENCRYPT0"), Some(3)));
    // The device key as an SPKI PEM file works the same.
    let pem_path = dir.path().join("device.pub.pem");
    std::fs::write(&pem_path, public(&key).to_public_key_pem(LineEnding::LF).unwrap()).unwrap();
    json(&cloud(
        &["verify", "--device-key", pem_path.to_str().unwrap(), "--recipient-key", recipient, file],
        None,
    ));
    // Without the recipient key: refused, with the reason.
    let out = cloud(&["verify", "--device-cert", cert_path, file], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--recipient-key"), "{}", text(&out.stderr));
}

#[test]
fn refusals_exit_1_and_usage_errors_exit_2() {
    let key = device_key();
    let dev = sec1_hex(&key);
    let good = hex::encode(sign1(&key, 1, None));
    let mut bent = hex::decode(&good).unwrap();
    bent[20] ^= 0x80;
    let bent = hex::encode(bent);
    let unsigned = hex::encode(claims_bytes(1, None));
    let other = sec1_hex(&device_key());
    for (args, code, says) in [
        (vec!["verify", "--device-key", &dev, &bent], 1, ""),
        (vec!["verify", "--device-key", &other, &good], 1, "not by this device key"),
        (vec!["verify", "--device-key", &dev, &unsigned], 1, "unsigned"),
        (vec!["verify", "--device-key", &dev, "--nonce", "00112233445566778899", &good], 1, "nonce"),
        (vec!["verify", "--device-key", &dev, "--allow-unsigned", &unsigned], 0, ""),
        (vec!["verify", &good], 2, "exactly one of"),
        (vec!["verify", "--device-key", &dev, "--device-cert", "x.pem", &good], 2, "exactly one of"),
        (vec!["verify", "--device-key", &dev], 2, "no RESULT"),
        (vec!["verify", "--device-key", &dev, &good, &good], 2, "RESULT given twice"),
        (vec!["verify", "--device-key", &dev, "--frobnicate", &good], 2, "unknown option"),
        (vec!["verify", "--device-key", "04abcd", &good], 2, "unusable key"),
        (vec!["verify", "--device-key", &dev, "not a result!"], 2, "unreadable result"),
        (vec!["verify", "--device-key", &dev, "--nonce", "xyz", &good], 2, "--nonce"),
        (vec!["sign", &good], 2, "only command"),
        (vec![], 2, "usage"),
    ] {
        let out = cloud(&args, None);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let help = cloud(&["verify", "--help"], None);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).starts_with("usage: cloud verify"));
    let not_utf8: &std::ffi::OsStr = std::os::unix::ffi::OsStrExt::from_bytes(b"\xff");
    let out = Command::new(env!("CARGO_BIN_EXE_cloud")).arg("verify").arg(not_utf8).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
