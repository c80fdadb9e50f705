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
use x509_cert::der::oid::db::rfc5280::{ANY_EXTENDED_KEY_USAGE, ID_KP_CLIENT_AUTH, ID_KP_CODE_SIGNING};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::EncodePem;
use x509_cert::ext::pkix::ExtendedKeyUsage;
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
    let args =
        ["verify", "--device-key", &dev, "--key-id", "5002", "--state", state, "--nonce", &nonce, &result];
    let v = json(&cloud(&args, None));
    assert_eq!(v["format"], "SIGN1");
    assert_eq!(v["device"], UUID_TEXT);
    assert_eq!(v["counter"], 42);
    assert_eq!(v["inputs"], serde_json::json!([10.5]));
    assert_eq!(v["values"], serde_json::json!([0.5, -0.25]));
    assert_eq!(v["nonce"], nonce);
    let again = cloud(&args, None);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(text(&again.stderr), "cloud: replayed or stale result: counter 42, last accepted 42\n");
    // The same result as standard base64 on stdin, without the state: accepted.
    let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(&result).unwrap());
    json(&cloud(&["verify", "--device-key", &dev, "--key-id", "5002", "-"], Some(&format!("{b64}\n"))));
}

#[test]
fn unsigned_results_never_move_the_state() {
    let key = device_key();
    let (dev, dir) = (sec1_hex(&key), tempfile::tempdir().unwrap());
    let state = dir.path().to_str().unwrap();
    // Anyone can write an unsigned result with the device's UUID and a huge counter.
    let forged = hex::encode(claims_bytes(u64::MAX - 1, None));
    let args =
        ["verify", "--device-key", &dev, "--key-id", "5002", "--state", state, "--allow-unsigned", &forged];
    assert_eq!(json(&cloud(&args, None))["counter"], u64::MAX - 1);
    // The device's genuine, signed results are still accepted, and then recorded.
    let genuine = hex::encode(sign1(&key, 7, None));
    let args = ["verify", "--device-key", &dev, "--key-id", "5002", "--state", state, &genuine];
    json(&cloud(&args, None));
    let again = cloud(&args, None);
    assert_eq!(again.status.code(), Some(1), "a signed result's counter is recorded");
}

#[test]
fn encrypt0_from_a_raw_file_with_a_certificate() {
    let key = device_key();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("result.cbor");
    std::fs::write(&file, encrypt0(&key, &demo_recipient().public_key(), 3)).unwrap();
    let subject = format!("O=secure-inference,CN={UUID_TEXT},OU=Device COSE SIGN");
    let cert_path = dir.path().join("device.pem");
    std::fs::write(&cert_path, certificate(&key, &subject, &[])).unwrap();
    let recipient = workspace().join("keys/demo-recipient.pem");
    let (cert_path, recipient, file) =
        (cert_path.to_str().unwrap(), recipient.to_str().unwrap(), file.to_str().unwrap());
    let v = json(&cloud(&["verify", "--device-cert", cert_path, "--recipient-key", recipient, file], None));
    assert_eq!((v["format"].as_str(), v["counter"].as_u64()), (Some("ENCRYPT0"), Some(3)));
    // The device key as an SPKI PEM file works the same.
    let pem_path = dir.path().join("device.pub.pem");
    std::fs::write(&pem_path, public(&key).to_public_key_pem(LineEnding::LF).unwrap()).unwrap();
    let pem_path = pem_path.to_str().unwrap();
    json(&cloud(
        &["verify", "--device-key", pem_path, "--key-id", "5002", "--recipient-key", recipient, file],
        None,
    ));
    // Without the recipient key: refused, with the reason.
    let out = cloud(&["verify", "--device-cert", cert_path, file], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--recipient-key"), "{}", text(&out.stderr));
}

/// A certificate for `key` with `subject`, issued by a test CA as a leaf (key usage
/// digitalSignature), with the extended key usages `eku` if any.
fn certificate(key: &p256::ecdsa::SigningKey, subject: &str, eku: &[ObjectIdentifier]) -> String {
    let profile = Profile::Leaf {
        issuer: Name::from_str("CN=test CA").unwrap(),
        enable_key_agreement: false,
        enable_key_encipherment: false,
        include_subject_key_identifier: true,
    };
    certificate_as(profile, key, subject, eku)
}

fn certificate_as(
    profile: Profile,
    key: &p256::ecdsa::SigningKey,
    subject: &str,
    eku: &[ObjectIdentifier],
) -> String {
    let ca = device_key();
    let spki = SubjectPublicKeyInfoOwned::from_key(public(key)).unwrap();
    let validity = Validity::from_now(Duration::from_secs(3600)).unwrap();
    let name = Name::from_str(subject).unwrap();
    let mut builder =
        CertificateBuilder::new(profile, SerialNumber::from(2u32), validity, name, spki, &ca).unwrap();
    if !eku.is_empty() {
        builder.add_extension(&ExtendedKeyUsage(eku.to_vec())).unwrap();
    }
    builder.build::<p256::ecdsa::DerSignature>().unwrap().to_pem(LineEnding::LF).unwrap()
}

/// `TLS_SIGN` signs any digest with 0x5001 for the non-secure world, so a "result"
/// signed by it proves nothing: the verifier refuses that key in every form it takes,
/// and a key whose purpose it cannot tell, and says why (exit 2, the caller's key).
#[test]
fn a_tls_key_is_refused_in_every_form() {
    let tls = device_key();
    // What a compromised non-secure world can make: the Sig_structure's digest signed
    // through TLS_SIGN (here: signed with the key directly, the same signature).
    let forged = hex::encode(sign1(&tls, 99, None));
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, content: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let subject = |ou: &str| format!("O=secure-inference,CN={UUID_TEXT},OU={ou}");
    let tls_cert = file("tls.pem", &certificate(&tls, &subject("Device Client TLS"), &[]));
    let encrypt_cert = file("encrypt.pem", &certificate(&tls, &subject("Device COSE ENCRYPT"), &[]));
    let no_ou = file("no-ou.pem", &certificate(&tls, &format!("O=secure-inference,CN={UUID_TEXT}"), &[]));
    let two_ou = file(
        "two-ou.pem",
        &certificate(&tls, &format!("{},OU=Device Client TLS", subject("Device COSE SIGN")), &[]),
    );
    let client_auth =
        file("client-auth.pem", &certificate(&tls, &subject("Device COSE SIGN"), &[ID_KP_CLIENT_AUTH]));
    let any_eku =
        file("any-eku.pem", &certificate(&tls, &subject("Device COSE SIGN"), &[ANY_EXTENDED_KEY_USAGE]));
    // A CA certificate: key usage keyCertSign and cRLSign, no digitalSignature.
    let ca = file("ca.pem", &certificate_as(Profile::Root, &tls, &subject("Device COSE SIGN"), &[]));
    let key = sec1_hex(&tls);
    let pem = public(&tls).to_public_key_pem(LineEnding::LF).unwrap();
    let bare_pem = file("tls.pub.pem", &pem);
    let labelled_tls = file("5001.pem", &format!("Key ID: 0x5001\nDevice Client TLS Public key:\n{pem}"));
    // `keys public` without an id prints every key, each under its id.
    let every_key = file("all.pem", &format!("Key ID: 0x5002\n{pem}\nKey ID: 0x5001\n{pem}"));
    for (args, says) in [
        (vec!["--device-cert", &tls_cert], "Client TLS"),
        (vec!["--device-cert", &encrypt_cert], "COSE ENCRYPT"),
        (vec!["--device-cert", &no_ou], "OU"),
        (vec!["--device-cert", &two_ou], "OU"),
        (vec!["--device-cert", &client_auth], "extended key usage"),
        (vec!["--device-cert", &any_eku], "extended key usage"),
        (vec!["--device-cert", &ca], "digitalSignature"),
        (vec!["--device-key", &key], "--key-id"),
        (vec!["--device-key", &bare_pem], "--key-id"),
        (vec!["--device-key", &key, "--key-id", "5001"], "Client TLS"),
        (vec!["--device-key", &key, "--key-id", "0x5003"], "COSE ENCRYPT"),
        (vec!["--device-key", &key, "--key-id", "5004"], "--key-id"),
        (vec!["--device-key", &labelled_tls], "Client TLS"),
        (vec!["--device-key", &labelled_tls, "--key-id", "5002"], "Client TLS"),
        (vec!["--device-key", &every_key, "--key-id", "5002"], "one key per file"),
    ] {
        let mut argv = vec!["verify"];
        argv.extend(&args);
        argv.push(&forged);
        let out = cloud(&argv, None);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} accepted: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let out = cloud(&["verify", "--device-cert", &tls_cert, &forged], None);
    assert!(text(&out.stderr).contains("TLS_SIGN"), "{}", text(&out.stderr));
}

/// The COSE SIGN key 0x5002 is accepted as its certificate says it (OU "Device COSE
/// SIGN", no TLS usage), as a raw key registered with `--key-id 5002`, or as the PEM
/// that `keys public 5002` prints with its "Key ID: 0x5002" line.
#[test]
fn the_cose_sign_key_is_accepted_with_its_purpose_stated() {
    let key = device_key();
    let result = hex::encode(sign1(&key, 5, None));
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, content: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let subject = format!("O=secure-inference,CN={UUID_TEXT},OU=Device COSE SIGN");
    let cert = file("5002.crt", &certificate(&key, &subject, &[]));
    let signing_eku = file("5002-eku.crt", &certificate(&key, &subject, &[ID_KP_CODE_SIGNING]));
    let pem = public(&key).to_public_key_pem(LineEnding::LF).unwrap();
    let bare_pem = file("bare.pem", &pem);
    let shell = file("5002.pem", &format!("Key ID: 0x5002\nDevice COSE SIGN Public key:\n{pem}\n"));
    let hex_key = sec1_hex(&key);
    for args in [
        vec!["--device-cert", &cert],
        vec!["--device-cert", &cert, "--key-id", "5002"],
        vec!["--device-cert", &signing_eku],
        vec!["--device-key", &hex_key, "--key-id", "5002"],
        vec!["--device-key", &hex_key, "--key-id", "0x5002"],
        vec!["--device-key", &bare_pem, "--key-id", "5002"],
        vec!["--device-key", &shell],
        vec!["--device-key", &shell, "--key-id", "5002"],
    ] {
        let mut argv = vec!["verify"];
        argv.extend(&args);
        argv.push(&result);
        assert_eq!(json(&cloud(&argv, None))["counter"], 5, "{args:?}");
    }
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
        (vec!["verify", "--device-key", &dev, "--key-id", "5002", &bent], 1, ""),
        (vec!["verify", "--device-key", &other, "--key-id", "5002", &good], 1, "not by this device key"),
        (vec!["verify", "--device-key", &dev, "--key-id", "5002", &unsigned], 1, "unsigned"),
        (
            vec![
                "verify",
                "--device-key",
                &dev,
                "--key-id",
                "5002",
                "--nonce",
                "00112233445566778899",
                &good,
            ],
            1,
            "nonce",
        ),
        (vec!["verify", "--device-key", &dev, "--key-id", "5002", "--allow-unsigned", &unsigned], 0, ""),
        (vec!["verify", &good], 2, "exactly one of"),
        (vec!["verify", "--device-key", &dev, "--key-id", "x5002", &good], 2, "--key-id must be"),
        (
            vec!["verify", "--device-key", &dev, "--key-id", "5002", "--device-cert", "x.pem", &good],
            2,
            "exactly one of",
        ),
        (vec!["verify", "--device-key", &dev, "--key-id", "5002"], 2, "no RESULT"),
        (vec!["verify", "--device-key", &dev, "--key-id", "5002", &good, &good], 2, "RESULT given twice"),
        (
            vec!["verify", "--device-key", &dev, "--key-id", "5002", "--frobnicate", &good],
            2,
            "unknown option",
        ),
        (vec!["verify", "--device-key", "04abcd", "--key-id", "5002", &good], 2, "unusable key"),
        (vec!["verify", "--device-key", &dev, "--key-id", "5002", "not a result!"], 2, "unreadable result"),
        (vec!["verify", "--device-key", &dev, "--key-id", "5002", "--nonce", "xyz", &good], 2, "--nonce"),
        (vec!["sign", &good], 2, "unknown command sign"),
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

/// The store is shared by concurrent processes (`cloud verify --state` beside `cloud
/// listen`): of 8 processes given the same result at once exactly one accepts it, and 8
/// processes given 8 different counters at once store all 8.
#[test]
fn concurrent_processes_share_the_store() {
    let key = device_key();
    let (dev, dir) = (sec1_hex(&key), tempfile::tempdir().unwrap());
    let state = dir.path().to_str().unwrap();
    let spawn = |result: String| {
        Command::new(env!("CARGO_BIN_EXE_cloud"))
            .args(["verify", "--device-key", &dev, "--key-id", "5002", "--state", state, &result])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let same = hex::encode(sign1(&key, 1, None));
    let children: Vec<_> = (0..8).map(|_| spawn(same.clone())).collect();
    let codes: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let accepted = codes.iter().filter(|o| o.status.code() == Some(0)).count();
    assert_eq!(accepted, 1, "{:?}", codes.iter().map(|o| text(&o.stderr)).collect::<Vec<_>>());
    assert!(codes.iter().all(|o| o.status.code() == Some(0) || text(&o.stderr).contains("replayed")));
    let children: Vec<_> = (2..10).map(|counter| spawn(hex::encode(sign1(&key, counter, None)))).collect();
    let outs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    // Each either stored, or refused as stale because a higher counter got in first.
    let stored = outs.iter().filter(|o| o.status.code() == Some(0)).count();
    assert!(outs.iter().all(|o| o.status.code() == Some(0) || text(&o.stderr).contains("stale")));
    let listed = cloud(&["results", "--db", &format!("{state}/cloud.db"), "--json"], None);
    let lines = text(&listed.stdout);
    assert_eq!(lines.lines().count(), stored + 1, "{lines}");
    let counters: Vec<u64> = lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["counter"].as_u64().unwrap())
        .collect();
    assert!(counters.windows(2).all(|w| w[0] < w[1]), "stored in increasing order: {counters:?}");
}

#[test]
fn every_command_answers_help_with_its_exit_codes() {
    for command in [
        vec!["--help"],
        vec!["verify", "--help"],
        vec!["listen", "--help"],
        vec!["results", "-h"],
        vec!["nonce", "--help"],
        vec!["serve", "--help"],
    ] {
        let out = cloud(&command, None);
        assert_eq!(out.status.code(), Some(0), "{command:?}");
        let help = text(&out.stdout);
        assert!(help.starts_with("usage: cloud"), "{command:?}: {help}");
        assert!(help.contains("Exit codes: 0"), "{command:?}: {help}");
    }
    for (args, says) in [
        (vec!["listen"], "--broker is required"),
        (vec!["listen", "--broker", "nohost"], "HOST:PORT"),
        (vec!["results", "--limit", "x"], "--limit must be a number"),
        (vec!["results", "--frobnicate"], "unknown option --frobnicate"),
        (vec!["serve", "--listen", "0.0.0.0:8080"], "loopback"),
        (vec!["nonce", "--broker"], "--broker needs a value"),
    ] {
        let out = cloud(&args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(says), "{args:?}: {}", text(&out.stderr));
    }
}
