//! The bad-input table of issue #14, one test per row: each gets a clear 4xx with its
//! reason (or a TLS refusal), is in the audit trail, and the server serves on.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bootstrap_ca::sqlite::SqliteStore;
use bootstrap_ca::store::Store;
use common::ciborium_like as cbor;
use common::*;
use p256::pkcs8::EncodePrivateKey;

const CBOR: [(&str, &str); 1] = [("Content-Type", "application/cbor")];

/// Sends `body` as a CBOR `POST /api/v1/cr` and checks the refusal's HTTP status, CBOR
/// status and words of its reason; then that the server still serves.
fn refused(args: &[&str], body: &[u8], status: u16, code: u64, words: &str) -> Server {
    let dir = init();
    let mut server = Server::start(dir.path(), args);
    let reply = server.connect().request("POST", "/api/v1/cr", &CBOR, body).unwrap();
    assert_eq!(reply.header("content-type"), Some("application/cbor"));
    let (got_status, got_code, reason) = refusal(&reply);
    assert_eq!((got_status, got_code), (status, code), "{reason}");
    assert!(reason.contains(words), "{reason:?} lacks {words:?}");
    server.assert_serving();
    let audit = SqliteStore::open(&dir.path().join("ca.db")).unwrap().audit().unwrap();
    assert!(
        audit.iter().any(|a| a.event == "refused" && a.reason.as_deref() == Some(&reason[..])),
        "{audit:?}"
    );
    std::mem::forget(dir); // the server's directory outlives it
    server
}

fn csr_cbor(org: &str, cn: &str, ou: &str) -> Vec<u8> {
    cbor_cr(&csr(org, cn, ou).0)
}

#[test]
fn flipped_csr_signature() {
    let (mut der, _) = csr("Linaro", &uuid(), TLS);
    *der.last_mut().unwrap() ^= 1;
    refused(&[], &cbor_cr(&der), 400, 3, "does not verify");
}

#[test]
fn wrong_ou() {
    refused(&[], &csr_cbor("Linaro", &uuid(), "Signing"), 400, 5, "not a device key label");
}

#[test]
fn missing_ou() {
    // openssl drops "/OU=": the request has O and CN only.
    let work = tempfile::tempdir().unwrap();
    let (der, _) = openssl_csr(work.path(), "noou", &format!("/O=Linaro/CN={}/OU=", uuid()), false);
    refused(&[], &cbor_cr(&der), 400, 5, "no OU");
}

#[test]
fn empty_ou() {
    // What openssl will not make: an OU of zero characters.
    refused(&[], &csr_cbor("Linaro", &uuid(), ""), 400, 5, "OU is empty");
}

#[test]
fn two_ous() {
    let name = subject(&[("O", "Linaro"), ("CN", &uuid()), ("OU", TLS), ("OU", SIGN)]);
    refused(&[], &cbor_cr(&csr_with(name).0), 400, 5, "2 OU attributes");
}

#[test]
fn bootstrap_ou_in_a_csr() {
    refused(&[], &csr_cbor("Linaro", &uuid(), BOOTSTRAP_OU), 403, 6, "bootstrap credential");
}

#[test]
fn cn_not_a_uuid() {
    refused(&[], &csr_cbor("Linaro", "not-a-uuid", TLS), 400, 5, "not a version-4 UUID");
    refused(&[], &csr_cbor("Linaro", &uuid().to_uppercase(), TLS), 400, 5, "lowercase");
}

#[test]
fn wrong_organisation() {
    refused(&[], &csr_cbor("Evil", &uuid(), TLS), 400, 5, "O is \"Evil\"");
}

#[test]
fn rsa_key() {
    let work = tempfile::tempdir().unwrap();
    let (der, _) = openssl_csr(work.path(), "rsa", &format!("/O=Linaro/CN={}/OU={TLS}", uuid()), true);
    refused(&[], &cbor_cr(&der), 400, 4, "RSA");
}

#[test]
fn garbage_cbor() {
    refused(&[], b"\xff\x00garbage", 400, 1, "not CBOR");
}

#[test]
fn truncated_cbor() {
    let body = csr_cbor("Linaro", &uuid(), TLS);
    refused(&[], &body[..body.len() - 10], 400, 1, "truncated");
}

#[test]
fn trailing_bytes_after_a_valid_request() {
    let mut body = csr_cbor("Linaro", &uuid(), TLS);
    body.extend_from_slice(b"junk");
    refused(&[], &body, 400, 1, "4 bytes follow");
}

#[test]
fn csr_not_der() {
    refused(&[], &cbor_cr(b"\x30\x03\x02\x01"), 400, 2, "not a DER PKCS#10");
}

#[test]
fn one_mib_body_is_refused_before_it_is_read() {
    let dir = init();
    let mut server = Server::start(dir.path(), &[]);
    // The head alone: the 413 comes without a byte of the body sent.
    let mut conn = server.connect();
    conn.send_raw(b"POST /api/v1/cr HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/cbor\r\nContent-Length: 1048576\r\n\r\n")
        .unwrap();
    let reply = conn.read_reply().unwrap();
    let (status, code, reason) = refusal(&reply);
    assert_eq!((status, code), (413, 9), "{reason}");
    assert!(reason.contains("1048576 bytes") && reason.contains("not read"), "{reason}");
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(conn.closed());
    // The whole MiB sent at once, as curl would: the client still reads the 413.
    let mut conn = server.connect();
    let body = vec![0u8; 1 << 20];
    let reply = conn.request("POST", "/api/v1/cr", &CBOR, &body).unwrap();
    assert_eq!(refusal(&reply).0, 413);
    // Chunked, with no length declared: cut off at the limit.
    let mut conn = server.connect();
    let chunk = vec![b'a'; 8192];
    let mut head = b"POST /api/v1/cr HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/cbor\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        head.extend_from_slice(b"2000\r\n");
        head.extend_from_slice(&chunk);
        head.extend_from_slice(b"\r\n");
    }
    conn.send_raw(&head).unwrap();
    let (status, code, _) = refusal(&conn.read_reply().unwrap());
    assert_eq!((status, code), (413, 9));
    server.assert_serving();
}

#[test]
fn slow_client_is_closed_after_the_header_timeout() {
    let dir = init();
    let mut server = Server::start(dir.path(), &["--header-timeout", "1"]);
    // A head that never ends, over TLS.
    let mut conn = server.connect();
    conn.send_raw(b"POST /api/v1/cr HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/cbor\r\n")
        .unwrap();
    let start = Instant::now();
    assert!(conn.closed());
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(800) && waited < Duration::from_secs(5), "{waited:?}");
    // A client that never starts TLS.
    let mut raw = TcpStream::connect(server.addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 16];
    let n = std::io::Read::read(&mut raw, &mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    server.assert_serving();
}

#[test]
fn a_body_that_never_ends_times_out() {
    let dir = init();
    let mut server = Server::start(dir.path(), &["--body-timeout", "1"]);
    let mut conn = server.connect();
    conn.send_raw(b"POST /api/v1/cr HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/cbor\r\nContent-Length: 100\r\n\r\n\x81")
        .unwrap();
    let (status, code, _) = refusal(&conn.read_reply().unwrap());
    assert_eq!((status, code), (408, 14));
    server.assert_serving();
}

/// A request with `client` must fail in the TLS handshake, and be in the audit trail.
fn tls_refused(server: &mut Server, client: &Client, words: &str) {
    let result =
        client.connect(server.addr).and_then(|mut conn| conn.request("GET", "/api/v1/ccs", &CBOR, b""));
    assert!(result.is_err(), "{result:?}");
    server.assert_serving();
    // The refusal is recorded once the server has seen the handshake fail.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let audit = SqliteStore::open(&server.dir.join("ca.db")).unwrap().audit().unwrap();
        let found = audit
            .iter()
            .any(|a| a.event == "refused" && a.reason.as_deref().is_some_and(|r| r.contains(words)));
        if found {
            break;
        }
        assert!(Instant::now() < deadline, "no audit line with {words:?}: {audit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn no_client_certificate() {
    let dir = init();
    let mut server = Server::start(dir.path(), &[]);
    let client = Client::new(&dir.path().join("ca.crt.pem"), None);
    tls_refused(&mut server, &client, "TLS handshake refused");
}

#[test]
fn client_certificate_of_another_ca() {
    let dir = init();
    let mut server = Server::start(dir.path(), &[]);
    // Another CA's bootstrap credential, with the right OU: a CA of the same name (its
    // signature fails) and one of another name (no issuer).
    let twin = init();
    let stranger = tempfile::tempdir().unwrap();
    let out = bca(&["init", "--dir", stranger.path().to_str().unwrap(), "--org", "Stranger"]);
    assert_eq!(out.status.code(), Some(0));
    for (other, words) in [(twin.path(), "BadSignature"), (stranger.path(), "UnknownIssuer")] {
        let client = Client::new(
            &dir.path().join("ca.crt.pem"),
            Some((&other.join("bootstrap.crt.pem"), &other.join("bootstrap.key.pem"))),
        );
        tls_refused(&mut server, &client, words);
    }
}

#[test]
fn client_certificate_of_this_ca_with_another_ou() {
    // A device's TLS certificate from this very CA (clientAuth and all) is no bootstrap credential.
    let dir = init();
    let mut server = Server::start(dir.path(), &[]);
    let (csr, key) = csr("Linaro", &uuid(), TLS);
    let der = cbor::bytes(&issue(&server, &csr).cbor(), 2);
    let cert = dir.path().join("device.crt.pem");
    let key_file = dir.path().join("device.key.pem");
    std::fs::write(&cert, cert_pem(&der)).unwrap();
    std::fs::write(&key_file, key.to_pkcs8_pem(der::pem::LineEnding::LF).unwrap().as_bytes()).unwrap();
    let client = Client::new(&dir.path().join("ca.crt.pem"), Some((&cert, &key_file)));
    let reason = r#"TLS handshake refused: the client certificate's OU is ["Device Client TLS"], not the bootstrap OU "LinaroCA Bootstrap Cert""#;
    tls_refused(&mut server, &client, reason);
}

#[test]
fn revoked_device() {
    let dir = init();
    let mut server = Server::start(dir.path(), &[]);
    let id = uuid();
    let (csr1, _) = csr("Linaro", &id, TLS);
    let der = cbor::bytes(&issue(&server, &csr1).cbor(), 2);
    let cert = <x509_cert::Certificate as der::Decode>::from_der(&der).unwrap();
    let serial =
        cert.tbs_certificate.serial_number.as_bytes().iter().fold(0u128, |a, b| (a << 8) | u128::from(*b));
    let out = bca(&["revoke", "--dir", dir.path().to_str().unwrap(), &serial.to_string()]);
    assert_eq!(out.status.code(), Some(0));
    let (csr2, _) = csr("Linaro", &id, SIGN);
    let (status, code, reason) = refusal(&issue(&server, &csr2));
    assert_eq!((status, code), (403, 7));
    assert_eq!(reason, format!("device {id} is revoked"));
    server.assert_serving();
}

#[test]
fn device_limit() {
    let dir = init();
    let mut server = Server::start(dir.path(), &["--device-limit", "2"]);
    let id = uuid();
    let (csr, _) = csr("Linaro", &id, TLS);
    assert_eq!(issue(&server, &csr).status, 200);
    assert_eq!(issue(&server, &csr).status, 200);
    let (status, code, reason) = refusal(&issue(&server, &csr));
    assert_eq!((status, code), (429, 8), "{reason}");
    server.assert_serving();
}

#[test]
fn a_key_certified_under_another_label() {
    // The non-secure world can have 0x5001 sign a CSR for its own key with any OU
    // (docs/secure-api.md): the TLS key must not become the COSE SIGN key.
    let dir = init();
    let mut server = Server::start(dir.path(), &[]);
    let id = uuid();
    let (tls_csr, key) = csr("Linaro", &id, TLS);
    assert_eq!(issue(&server, &tls_csr).status, 200);
    let name = subject(&[("O", "Linaro"), ("CN", &id), ("OU", SIGN)]);
    let req = x509_cert::builder::RequestBuilder::new(name, &key).unwrap();
    let sign_csr =
        der::Encode::to_der(&x509_cert::builder::Builder::build::<p256::ecdsa::DerSignature>(req).unwrap())
            .unwrap();
    let (status, code, reason) = refusal(&issue(&server, &sign_csr));
    assert_eq!((status, code), (409, 16), "{reason}");
    server.assert_serving();
}

#[test]
fn wrong_content_type_method_and_path() {
    let dir = init();
    let mut server = Server::start(dir.path(), &[]);
    let mut conn = server.connect();
    let body = csr_cbor("Linaro", &uuid(), TLS);
    let reply = conn.request("POST", "/api/v1/cr", &[("Content-Type", "text/plain")], &body).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!((reply.status, json["Status"].as_u64()), (415, Some(10)));
    let reply = conn.request("GET", "/api/v1/cr", &CBOR, b"").unwrap();
    assert_eq!((refusal(&reply).0, reply.header("allow")), (405, Some("POST")));
    let reply = conn.request("POST", "/api/v1/ccs", &CBOR, b"").unwrap();
    assert_eq!((refusal(&reply).0, reply.header("allow")), (405, Some("GET")));
    assert_eq!(refusal(&conn.request("GET", "/api/v1/nope", &CBOR, b"").unwrap()).0, 404);
    assert_eq!(refusal(&conn.request("GET", "/api/v1/cs/abc", &CBOR, b"").unwrap()).0, 400);
    assert_eq!(refusal(&conn.request("GET", "/api/v1/ds/not-a-uuid", &CBOR, b"").unwrap()).0, 400);
    // Headers over 16 KiB: hyper's 431.
    let big = "x".repeat(20_000);
    let reply = conn.request("GET", "/api/v1/ccs", &[("X-Big", &big)], b"");
    assert!(matches!(reply, Ok(ref r) if r.status == 431) || reply.is_err(), "{reply:?}");
    server.assert_serving();
}

#[test]
fn connections_over_the_per_address_cap_are_closed() {
    let dir = init();
    let mut server = Server::start(dir.path(), &["--max-connections-per-ip", "2"]);
    let mut held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(server.addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(server.addr).unwrap();
    third.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = third.write_all(b"\x16\x03\x01");
    let mut buf = [0u8; 8];
    let read = std::io::Read::read(&mut third, &mut buf);
    assert!(matches!(&read, Ok(0)) || matches!(&read, Err(e) if !timed_out(e)), "closed at once: {read:?}");
    held.clear();
    std::thread::sleep(Duration::from_millis(200));
    server.assert_serving();
}
