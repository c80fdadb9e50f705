//! `credential` (a service's client certificate) and `crl` (the revocation list), as
//! openssl reads and checks them.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).output().unwrap();
    (out.status.success(), text(&out.stdout) + &text(&out.stderr))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `openssl verify` of `cert` against the CA, with the CRL if one is given.
fn verify(ca: &Path, cert: &Path, crl: Option<&Path>) -> (bool, String) {
    let ca_file = ca.join("ca.crt.pem");
    let mut args = vec!["verify", "-purpose", "sslclient", "-CAfile", s(&ca_file)];
    if let Some(crl) = crl {
        args.extend(["-crl_check", "-CRLfile", s(crl)]);
    }
    args.push(s(cert));
    openssl(&args)
}

/// The serial of a PEM certificate, decimal.
fn serial(cert: &Path) -> String {
    let (ok, out) = openssl(&["x509", "-noout", "-serial", "-in", s(cert)]);
    assert!(ok, "{out}");
    let hex = out.trim().strip_prefix("serial=").unwrap();
    u128::from_str_radix(hex, 16).unwrap().to_string()
}

#[test]
fn credential_writes_a_client_certificate_of_the_ca_and_records_it() {
    let dir = init();
    let d = s(dir.path());
    let out_dir = tempfile::tempdir().unwrap();
    let o = s(out_dir.path());
    let out = bca(&["credential", "--dir", d, "--cn", "cloud-consumer", "--out-dir", o]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.starts_with("bootstrap-ca: credential CN=cloud-consumer, OU=Service, clientAuth, serial ")
    );
    let cert = out_dir.path().join("cloud-consumer.crt.pem");
    let key = out_dir.path().join("cloud-consumer.key.pem");
    assert_eq!((mode(&cert), mode(&key)), (0o644, 0o600));
    assert!(printed.contains(s(&cert)) && printed.contains(s(&key)), "{printed}");

    let (ok, shown) = verify(dir.path(), &cert, None);
    assert!(ok, "{shown}");
    let (_, shown) = openssl(&["x509", "-noout", "-text", "-in", s(&cert)]);
    assert!(shown.contains("Subject: O = Linaro, OU = Service, CN = cloud-consumer"), "{shown}");
    assert!(
        shown.contains("X509v3 Extended Key Usage: \n                TLS Web Client Authentication"),
        "{shown}"
    );
    assert!(shown.contains("X509v3 Key Usage: critical\n                Digital Signature\n"), "{shown}");
    assert!(shown.contains("CA:FALSE") && shown.contains("ASN1 OID: prime256v1"), "{shown}");
    // The key is the certificate's.
    let (_, from_key) = openssl(&["pkey", "-pubout", "-in", s(&key)]);
    let (_, from_cert) = openssl(&["x509", "-noout", "-pubkey", "-in", s(&cert)]);
    assert_eq!(from_key, from_cert);

    // In the database and the audit trail, as device certificates are.
    let list = text(&bca(&["list", "--dir", d]).stdout);
    let serial = serial(&cert);
    let line = list.lines().find(|l| l.starts_with(&serial)).unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains("cloud-consumer") && line.contains("Service") && line.contains("valid"), "{line}");
    let db = rusqlite::Connection::open(dir.path().join("ca.db")).unwrap();
    let (client, event): (String, String) = db
        .query_row("SELECT client, event FROM audit WHERE serial = ?1", [&serial], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((client.as_str(), event.as_str()), ("bootstrap-ca credential", "issued"));
    let exported = text(&bca(&["export", "--dir", d, &serial]).stdout);
    assert_eq!(exported, std::fs::read_to_string(&cert).unwrap());

    // Never overwritten.
    let before = std::fs::read(&key).unwrap();
    let again = bca(&["credential", "--dir", d, "--cn", "cloud-consumer", "--out-dir", o]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("exists"), "{}", text(&again.stderr));
    assert_eq!(std::fs::read(&key).unwrap(), before);

    // A new one elsewhere supersedes it: one valid credential per CN.
    let other = tempfile::tempdir().unwrap();
    let out = bca(&["credential", "--dir", d, "--cn", "cloud-consumer", "--out-dir", s(other.path())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("supersedes serial {serial} (revoked)")),
        "{}",
        text(&out.stdout)
    );
    let list = text(&bca(&["list", "--dir", d]).stdout);
    assert!(list.lines().any(|l| l.starts_with(&serial) && l.contains("revoked")), "{list}");
}

#[test]
fn credential_refuses_a_uuid_the_bootstrap_ou_a_key_label_and_bad_names() {
    let dir = init();
    let d = s(dir.path());
    let work = tempfile::tempdir().unwrap();
    let w = s(work.path());
    for (args, code, says) in [
        (&["--cn", "3084b338-c39e-4c23-9050-fcb9630afcd0"][..], 2, "is a UUID"),
        (&["--cn", "3084B338-C39E-1C23-9050-FCB9630AFCD0"], 2, "is a UUID"),
        (&["--cn", "a/b"], 2, "--cn must be"),
        (&["--cn", "x", "--ou", BOOTSTRAP_OU], 1, "is this CA's bootstrap OU"),
        (&["--cn", "x", "--ou", TLS], 2, "is a device key label"),
        (&["--cn", "x", "--days", "0"], 2, "--days"),
    ] {
        let out =
            Command::new(BIN).args(["credential", "--dir", d, "--out-dir", w]).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(text(&out.stderr).contains(says), "{args:?}: {}", text(&out.stderr));
    }
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0, "nothing written");
    assert_eq!(text(&bca(&["list", "--dir", d]).stdout).lines().count(), 1, "nothing recorded");
}

#[test]
fn a_revoked_credential_gets_no_new_one() {
    let dir = init();
    let d = s(dir.path());
    let work = tempfile::tempdir().unwrap();
    let w = s(work.path());
    assert!(bca(&["credential", "--dir", d, "--cn", "svc", "--out-dir", w]).status.success());
    let serial = serial(&work.path().join("svc.crt.pem"));
    let out = bca(&["revoke", "--dir", d, &serial]);
    assert!(text(&out.stdout).contains("revoked service credential svc"), "{}", text(&out.stdout));
    let again = tempfile::tempdir().unwrap();
    let out = bca(&["credential", "--dir", d, "--cn", "svc", "--out-dir", s(again.path())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("svc is revoked"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_dir(again.path()).unwrap().count(), 0, "the key file is removed again");
}

#[test]
fn the_crl_lists_revoked_and_superseded_certificates_and_openssl_refuses_them() {
    let dir = init();
    let d = s(dir.path());
    let work = tempfile::tempdir().unwrap();
    let crl = work.path().join("crl.pem");

    // Nothing revoked yet: a CRL without entries, signed by the CA.
    let out = bca(&["crl", "--dir", d, "--out", s(&crl)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("CRL of 0 revoked certificates, next update "),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(mode(&crl), 0o644);
    let ca_file = dir.path().join("ca.crt.pem");
    let (ok, shown) = openssl(&["crl", "-in", s(&crl), "-CAfile", s(&ca_file), "-noout", "-text"]);
    assert!(ok && shown.contains("verify OK") && shown.contains("No Revoked Certificates."), "{shown}");

    // Device certificates from the server: one revoked by the operator, one superseded.
    let server = Server::start(dir.path(), &[]);
    let (a, b) = (uuid(), uuid());
    let device = |id: &str, name: &str| {
        let (csr, _) = openssl_csr(work.path(), name, &format!("/O=Linaro/CN={id}/OU={TLS}"), false);
        let reply = issue(&server, &csr);
        assert_eq!(reply.status, 200, "{}", text(&reply.body));
        let path = work.path().join(format!("{name}.pem"));
        std::fs::write(&path, cert_pem(&common::ciborium_like::bytes(&reply.cbor(), 2))).unwrap();
        path
    };
    let revoked = device(&a, "a");
    let superseded = device(&b, "b1");
    let current = device(&b, "b2");
    drop(server);
    assert!(bca(&["credential", "--dir", d, "--cn", "cloud-consumer", "--out-dir", s(work.path())])
        .status
        .success());
    let service = work.path().join("cloud-consumer.crt.pem");
    assert!(bca(&["revoke", "--dir", d, &serial(&revoked)]).status.success());

    // To standard output without --out.
    let out = bca(&["crl", "--dir", d, "--days", "7"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    std::fs::write(&crl, &out.stdout).unwrap();
    let (ok, shown) = openssl(&["crl", "-in", s(&crl), "-CAfile", s(&ca_file), "-noout", "-text"]);
    assert!(ok && shown.contains("verify OK"), "{shown}");
    assert!(
        shown.contains("Version 2 (0x1)") && shown.contains("Signature Algorithm: ecdsa-with-SHA256"),
        "{shown}"
    );
    assert!(shown.contains("Issuer: O = Linaro, CN = Linaro Bootstrap CA"), "{shown}");
    assert!(
        shown.contains("X509v3 Authority Key Identifier") && shown.contains("X509v3 CRL Number"),
        "{shown}"
    );
    assert!(shown.contains("X509v3 CRL Reason Code: \n                Superseded"), "{shown}");
    assert_eq!(shown.matches("Serial Number: ").count(), 2, "{shown}");
    let (_, dates) = openssl(&["crl", "-in", s(&crl), "-noout", "-lastupdate", "-nextupdate"]);
    assert!(dates.contains("lastUpdate=") && dates.contains("nextUpdate="), "{dates}");

    for (cert, refused) in [(&revoked, true), (&superseded, true), (&current, false), (&service, false)] {
        let (ok, said) = verify(dir.path(), cert, Some(&crl));
        assert_eq!(ok, !refused, "{}: {said}", cert.display());
        if refused {
            assert!(said.contains("certificate revoked"), "{said}");
        }
    }

    // --out replaces the file whole.
    let out = bca(&["crl", "--dir", d, "--out", s(&crl)]);
    assert!(text(&out.stdout).contains("CRL of 2 revoked certificates"), "{}", text(&out.stdout));
    let (ok, shown) = openssl(&["crl", "-in", s(&crl), "-CAfile", s(&ca_file), "-noout"]);
    assert!(ok, "{shown}");
    let leftovers: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn crl_refuses_a_ca_key_others_can_read_and_bad_days() {
    let dir = init();
    let d = s(dir.path());
    assert_eq!(bca(&["crl", "--dir", d, "--days", "0"]).status.code(), Some(2));
    let key = dir.path().join("ca.key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = bca(&["crl", "--dir", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("has mode 0644"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}
