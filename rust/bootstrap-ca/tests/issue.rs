//! Issuance against the real server: openssl checks what it signs, one valid certificate
//! per device key, liteboot's other endpoints and its JSON variant, list/export/revoke.

mod common;

use std::process::Command;

use base64::Engine;
use common::ciborium_like::{self as cbor, Value};
use common::*;

fn openssl_verify(dir: &std::path::Path, pem: &str) -> String {
    let file = dir.join(format!("verify-{}.pem", uuid()));
    std::fs::write(&file, pem).unwrap();
    let out = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(dir.join("ca.crt.pem"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let shown = Command::new("openssl").args(["x509", "-noout", "-text", "-in"]).arg(&file).output().unwrap();
    assert!(shown.status.success());
    text(&shown.stdout)
}

#[test]
fn openssl_verifies_issued_certificates_and_shows_their_extensions() {
    let dir = init();
    let server = Server::start(dir.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    let id = uuid();
    for (ou, tls) in [(TLS, true), (SIGN, false)] {
        let (csr, _) = openssl_csr(work.path(), "dev", &format!("/O=Linaro/CN={id}/OU={ou}"), false);
        let reply = issue(&server, &csr);
        assert_eq!(reply.status, 200, "{}", text(&reply.body));
        assert_eq!(reply.header("content-type"), Some("application/cbor"));
        let map = reply.cbor();
        assert_eq!(
            map.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            [1, 2],
            "key 1 first, as the device reads it"
        );
        assert_eq!(cbor::uint(&map, 1), 0);
        let shown = openssl_verify(dir.path(), &cert_pem(&cbor::bytes(&map, 2)));
        assert!(shown.contains(&format!("Subject: O = Linaro, CN = {id}, OU = {ou}")), "{shown}");
        assert!(shown.contains("Version: 3 (0x2)"));
        assert!(shown.contains("X509v3 Basic Constraints: critical\n                CA:FALSE"), "{shown}");
        assert!(shown.contains("X509v3 Key Usage: critical\n                Digital Signature\n"), "{shown}");
        assert!(shown.contains("X509v3 Subject Key Identifier"), "{shown}");
        assert!(shown.contains("X509v3 Authority Key Identifier"), "{shown}");
        assert_eq!(shown.contains("TLS Web Client Authentication"), tls, "{shown}");
        assert_eq!(shown.contains("X509v3 Extended Key Usage"), tls, "{shown}");
    }
    // 0x5003 (reserved for key agreement) gets keyAgreement instead.
    let (csr, _) = openssl_csr(work.path(), "enc", &format!("/O=Linaro/CN={id}/OU={ENCRYPT}"), false);
    let shown = openssl_verify(dir.path(), &cert_pem(&cbor::bytes(&issue(&server, &csr).cbor(), 2)));
    assert!(shown.contains("X509v3 Key Usage: critical\n                Key Agreement\n"), "{shown}");
}

#[test]
fn a_new_request_revokes_the_previous_certificate_of_the_same_key() {
    let dir = init();
    let server = Server::start(dir.path(), &[]);
    let id = uuid();
    let (csr, _) = csr("Linaro", &id, TLS);
    let serial = |reply: &Reply| {
        let der = cbor::bytes(&reply.cbor(), 2);
        let cert = <x509_cert::Certificate as der::Decode>::from_der(&der).unwrap();
        let bytes = cert.tbs_certificate.serial_number.as_bytes().to_vec();
        assert!(bytes.len() <= 17 && (bytes.len() < 17 || bytes[0] == 0), "a positive 128-bit serial");
        bytes.iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b))
    };
    let first = serial(&issue(&server, &csr));
    let (sign_csr, _) = common::csr("Linaro", &id, SIGN);
    let sign = serial(&issue(&server, &sign_csr));
    let second = serial(&issue(&server, &csr));
    assert!(first != second && first != sign);
    let mut conn = server.connect();
    let cbor_ct = [("Content-Type", "application/cbor")];
    let cs =
        |conn: &mut Conn, s: u128| conn.request("GET", &format!("/api/v1/cs/{s}"), &cbor_ct, b"").unwrap();
    assert_eq!(cs(&mut conn, first).body, [0xa1, 0x01, 0x00], "{{1: 0}}: revoked");
    assert_eq!(cs(&mut conn, second).body, [0xa1, 0x01, 0x01], "{{1: 1}}: valid");
    let ds = conn.request("GET", &format!("/api/v1/ds/{id}"), &cbor_ct, b"").unwrap();
    let map = ds.cbor();
    assert_eq!(cbor::uint(&map, 1), 1);
    let listed: Vec<u128> = match cbor::get(&map, 2) {
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::Uint(n) => u128::from(*n),
                Value::Big(b) => b.iter().fold(0u128, |acc, x| (acc << 8) | u128::from(*x)),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(listed, [sign, second]);
    // cc: the valid one as PEM, the revoked one not at all.
    let cc = conn.request("GET", &format!("/api/v1/cc/{second}"), &cbor_ct, b"").unwrap();
    assert!(cbor::text(&cc.cbor(), 2).starts_with("-----BEGIN CERTIFICATE-----\n"));
    let gone = conn.request("GET", &format!("/api/v1/cc/{first}"), &cbor_ct, b"").unwrap();
    assert_eq!(refusal(&gone).0, 404);
    let unknown = conn.request("GET", "/api/v1/cs/12345", &cbor_ct, b"").unwrap();
    assert_eq!(refusal(&unknown).0, 404);
    let nobody = conn.request("GET", &format!("/api/v1/ds/{}", uuid()), &cbor_ct, b"").unwrap();
    assert_eq!(nobody.body, [0xa2, 0x01, 0x00, 0x02, 0xf6], "{{1: 0, 2: null}}");
}

#[test]
fn liteboots_json_and_pem_variants() {
    let dir = init();
    let server = Server::start(dir.path(), &[]);
    let mut conn = server.connect();
    let b64 = base64::engine::general_purpose::STANDARD;
    let (csr, _) = csr("Linaro", &uuid(), TLS);
    let body = format!("{{\"CSR\":\"{}\"}}", b64.encode(&csr));
    let reply =
        conn.request("POST", "/api/v1/cr", &[("Content-Type", "application/json")], body.as_bytes()).unwrap();
    assert_eq!((reply.status, reply.header("content-type")), (200, Some("application/json")));
    let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(json["Status"], 0);
    let der = b64.decode(json["Cert"].as_str().unwrap()).unwrap();
    openssl_verify(dir.path(), &cert_pem(&der));
    // No Content-Type: JSON, as liteboot (curl's default).
    let (csr, _) = common::csr("Linaro", &uuid(), SIGN);
    let body = format!("{{\"csr\":\"{}\"}}", b64.encode(&csr));
    assert_eq!(conn.request("POST", "/api/v1/cr", &[], body.as_bytes()).unwrap().status, 200);
    // A JSON refusal.
    let bad = conn
        .request("POST", "/api/v1/cr", &[("Content-Type", "application/json")], b"{\"CSR\":\"MAA=\"}")
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bad.body).unwrap();
    assert_eq!((bad.status, json["Status"].as_u64()), (400, Some(2)), "{json}");
    assert!(json["Reason"].as_str().unwrap().contains("not a DER PKCS#10"));

    // p10cr: a PEM CSR as curl -F csrfile=@req.pem sends it, and as a bare body.
    let work = tempfile::tempdir().unwrap();
    let (csr, _) = openssl_csr(work.path(), "p10", &format!("/O=Linaro/CN={}/OU={TLS}", uuid()), false);
    let pem = der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, &csr).unwrap();
    let form = format!(
        "--b0undary\r\nContent-Disposition: form-data; name=\"csrfile\"; filename=\"req.pem\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n{pem}\r\n--b0undary--\r\n"
    );
    let reply = conn
        .request(
            "POST",
            "/api/v1/p10cr",
            &[("Content-Type", "multipart/form-data; boundary=b0undary")],
            form.as_bytes(),
        )
        .unwrap();
    assert_eq!((reply.status, reply.header("content-type")), (200, Some("application/x-pem-file")));
    openssl_verify(dir.path(), &text(&reply.body));
    let (csr, _) = common::csr("Linaro", &uuid(), SIGN);
    let pem = der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, &csr).unwrap();
    let reply = conn
        .request("POST", "/api/v1/p10cr", &[("Content-Type", "application/x-pem-file")], pem.as_bytes())
        .unwrap();
    assert_eq!(reply.status, 200);
    let refused = conn.request("POST", "/api/v1/p10cr", &[], b"not pem").unwrap();
    assert_eq!((refused.status, refused.header("content-type")), (400, Some("application/json")));

    // ccs: CBOR without headers (the device) or with Content-Type: application/cbor (the
    // original device); JSON when asked for.
    for headers in [&[][..], &[("Content-Type", "application/cbor")][..]] {
        let ccs = conn.request("GET", "/api/v1/ccs", headers, b"").unwrap();
        let map = ccs.cbor();
        assert_eq!((cbor::text(&map, 1), cbor::uint(&map, 2)), ("hub.example".to_string(), 8883));
    }
    let ccs = conn.request("GET", "/api/v1/ccs", &[("Accept", "application/json")], b"").unwrap();
    let json: serde_json::Value = serde_json::from_slice(&ccs.body).unwrap();
    assert_eq!(json, serde_json::json!({"Hubname": "hub.example", "Port": 8883}));
}

#[test]
fn list_export_and_revoke_beside_a_running_server() {
    let dir = init();
    let mut server = Server::start(dir.path(), &[]);
    let id = uuid();
    let (tls_csr, _) = csr("Linaro", &id, TLS);
    let der = cbor::bytes(&issue(&server, &tls_csr).cbor(), 2);
    let (sign_csr, _) = csr("Linaro", &id, SIGN);
    issue(&server, &sign_csr);
    let d = dir.path().to_str().unwrap();
    let list = bca(&["list", "--dir", d]);
    assert_eq!(list.status.code(), Some(0));
    let list = text(&list.stdout);
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines[0].starts_with("SERIAL"), "{list}");
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[1].contains(&id) && lines[1].contains(TLS) && lines[1].contains("valid"), "{list}");
    let serial = lines[1].split_whitespace().next().unwrap();
    let export = bca(&["export", "--dir", d, serial]);
    assert_eq!(text(&export.stdout), cert_pem(&der));
    let revoke = bca(&["revoke", "--dir", d, serial]);
    assert_eq!(revoke.status.code(), Some(0), "{}", text(&revoke.stderr));
    assert!(text(&revoke.stdout).contains(&id));
    let list = text(&bca(&["list", "--dir", d, "--uuid", &id]).stdout);
    assert_eq!(list.matches("revoked").count(), 2, "{list}");
    // The revoked device is refused, by name; others still served.
    let (again, _) = csr("Linaro", &id, TLS);
    let (status, code, reason) = refusal(&issue(&server, &again));
    assert_eq!((status, code), (403, 7), "{reason}");
    assert!(reason.contains("revoked"), "{reason}");
    server.assert_serving();
    // Unknown serials: exit 1; not a serial: exit 2.
    assert_eq!(bca(&["export", "--dir", d, "42"]).status.code(), Some(1));
    assert_eq!(bca(&["revoke", "--dir", d, "42"]).status.code(), Some(1));
    assert_eq!(bca(&["export", "--dir", d, "nope"]).status.code(), Some(2));
}
