//! The provisioning machine against canned exchanges: the test CA of `testpki`
//! issues the certificates; replies are fed as a server would send them, whole or
//! in pieces.

extern crate std;
use super::testpki::*;
use super::*;
use std::str::FromStr;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};
use x509_cert::builder::Profile;
use x509_cert::name::Name;

/// What one exchange does: the reply's pieces, then how the connection ended.
type Exchange = (Vec<Vec<u8>>, Result<(), TransportError>);

fn whole(reply: Vec<u8>) -> Exchange {
    (vec![reply], Ok(()))
}

fn broken(kind: TransportKind, why: &str) -> Exchange {
    (vec![], Err(TransportError::new(kind, &why)))
}

/// What the home saw: the requests sent, the waits, and the end.
#[derive(Debug, Default)]
struct Run {
    requests: Vec<Vec<u8>>,
    retries: Vec<(u32, u32, Error)>,
    end: Option<Result<(), Error>>,
}

/// Drives `p` as a home would, answering each request with the next exchange.
fn drive(p: &mut Provisioning<'_>, exchanges: Vec<Exchange>) -> Run {
    let mut exchanges = exchanges.into_iter();
    let mut run = Run::default();
    let mut request = [0u8; REQUEST_MAX];
    for _ in 0..20 {
        match p.poll(&mut request) {
            Action::Send { len, .. } => {
                run.requests.push(request[..len].to_vec());
                let (pieces, end) = exchanges.next().expect("more requests than canned exchanges");
                for piece in &pieces {
                    if p.receive(piece) {
                        break;
                    }
                }
                p.exchanged(end);
            }
            Action::Retry { error, attempt, ms } => run.retries.push((attempt, ms, *error)),
            Action::Done => {
                run.end = Some(Ok(()));
                break;
            }
            Action::Failed(e) => {
                run.end = Some(Err(*e));
                break;
            }
        }
    }
    assert!(exchanges.next().is_none(), "canned exchanges left over: {run:?}");
    run
}

#[test]
fn a_key_is_provisioned_with_the_original_devices_requests() {
    let pki = Pki::new();
    let mut p = Provisioning::new(pki.input(Some(NOT_BEFORE + 60)), Policy::default(), 1);
    assert_eq!(p.record(0x5001), None);
    let run = drive(&mut p, vec![whole(hub_reply()), whole(issued_reply(&pki.cert))]);
    assert_eq!(run.end, Some(Ok(())));
    assert!(run.retries.is_empty());
    assert_eq!(
        run.requests[0],
        b"GET /api/v1/ccs HTTP/1.1\r\nHost: localhost:1443\r\nContent-Type: application/cbor\r\nConnection: close\r\n\r\n"
    );
    // The body: array(1), bytes(len) as a 2-byte head, the CSR.
    let body = [&[0x81, 0x59][..], &(pki.csr.len() as u16).to_be_bytes(), &pki.csr].concat();
    let head = format!(
        "POST /api/v1/cr HTTP/1.1\r\nHost: localhost:1443\r\nContent-Type: application/cbor\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    assert_eq!(run.requests[1], [head.as_bytes(), &body].concat());
    let record = p.record(0x5001).unwrap();
    assert_eq!((record.key_id, record.hub_host, record.hub_port), (0x5001, "hub.example", 8883));
    assert_eq!(record.certificate, &pki.cert[..]);
}

#[test]
fn replies_split_at_every_byte_provision_the_same() {
    let pki = Pki::new();
    let (hub, issued) = (hub_reply(), issued_reply(&pki.cert));
    for split in 0..=issued.len() {
        let mut p = Provisioning::new(pki.input(None), Policy::default(), 1);
        let h = split.min(hub.len());
        let run = drive(
            &mut p,
            vec![
                (vec![hub[..h].to_vec(), hub[h..].to_vec()], Ok(())),
                (vec![issued[..split].to_vec(), issued[split..].to_vec()], Ok(())),
            ],
        );
        assert_eq!(run.end, Some(Ok(())), "split at {split}");
        assert_eq!(p.record(0x5002).unwrap().certificate, &pki.cert[..]);
    }
    // One byte at a time; the connection then fails without close_notify, which does
    // not matter once the reply is complete.
    let mut p = Provisioning::new(pki.input(None), Policy::default(), 1);
    let bytes = |r: &[u8]| r.iter().map(|b| vec![*b]).collect::<Vec<_>>();
    let eof = || {
        Err(TransportError::new(
            TransportKind::Connection,
            &"peer closed connection without sending TLS close_notify",
        ))
    };
    let run = drive(&mut p, vec![(bytes(&hub), eof()), (bytes(&issued), eof())]);
    assert_eq!(run.end, Some(Ok(())));
}

#[test]
fn retries_back_off_with_jitter_from_the_seed() {
    let pki = Pki::new();
    let unreachable = || broken(TransportKind::Unreachable, "Connection refused (os error 111)");
    let policy = Policy { attempts: 6, base_ms: 500, cap_ms: 8000 };
    let mut p = Provisioning::new(pki.input(None), policy, 42);
    let run = drive(&mut p, (0..6).map(|_| unreachable()).collect());
    let waits: Vec<u32> = run.retries.iter().map(|r| r.1).collect();
    // Each wait is in [window / 2, window], the window doubling to the cap.
    for (i, (attempt, ms, error)) in run.retries.iter().enumerate() {
        assert_eq!(*attempt, i as u32 + 1);
        let window = (500u32 << i).min(8000);
        assert!((window / 2..=window).contains(ms), "wait {i}: {ms} ms, window {window}");
        assert_eq!(
            error.to_string(),
            "GET /api/v1/ccs: bootstrap server unreachable: Connection refused (os error 111)"
        );
    }
    // Seed 42 gives these waits (splitmix64): a change in the jitter shows here.
    assert_eq!(waits, [472, 789, 1959, 2570, 4183]);
    let Some(Err(Error::Transport { request: Request::Hub, error })) = run.end else {
        panic!("{:?}", run.end)
    };
    assert_eq!(error.kind, TransportKind::Unreachable);
    assert_eq!(run.requests.len(), 6);
    // Another seed, other waits.
    let mut p = Provisioning::new(pki.input(None), policy, 43);
    let other: Vec<u32> =
        drive(&mut p, (0..6).map(|_| unreachable()).collect()).retries.iter().map(|r| r.1).collect();
    assert_ne!(other, waits);
}

#[test]
fn transient_failures_are_retried_and_the_count_starts_again_per_request() {
    let pki = Pki::new();
    let policy = Policy { attempts: 2, base_ms: 10, cap_ms: 100 };
    let mut p = Provisioning::new(pki.input(None), policy, 7);
    let run = drive(
        &mut p,
        vec![
            broken(TransportKind::Tls, "invalid peer certificate: UnknownIssuer"),
            whole(hub_reply()),
            whole(refusal("503 Service Unavailable", 9, "storage busy")),
            whole(issued_reply(&pki.cert)),
        ],
    );
    assert_eq!(run.end, Some(Ok(())));
    let errors: Vec<String> = run.retries.iter().map(|r| r.2.to_string()).collect();
    assert_eq!(
        errors,
        [
            "GET /api/v1/ccs: TLS with the bootstrap server failed: invalid peer certificate: UnknownIssuer",
            "POST /api/v1/cr: refused by the CA: HTTP 503, status 9: storage busy",
        ]
    );
    // 429 (the CA's rate limit) is retried; a reply cut short too.
    let mut p = Provisioning::new(pki.input(None), Policy { attempts: 3, ..policy }, 7);
    let issued = issued_reply(&pki.cert);
    let run = drive(
        &mut p,
        vec![
            whole(hub_reply()),
            whole(refusal("429 Too Many Requests", 8, "slow down")),
            (vec![issued[..100].to_vec()], Ok(())),
            whole(issued),
        ],
    );
    assert_eq!(run.end, Some(Ok(())));
    assert_eq!(
        run.retries[1].2.to_string(),
        "POST /api/v1/cr: connection to the bootstrap server broke: closed after 100 bytes, before the reply was complete"
    );
}

#[test]
fn a_refusal_ends_provisioning_with_the_cas_reason() {
    let pki = Pki::new();
    let mut p = Provisioning::new(pki.input(None), Policy::default(), 1);
    let run = drive(
        &mut p,
        vec![whole(hub_reply()), whole(refusal("400 Bad Request", 4, "CSR signature does not verify"))],
    );
    let Some(Err(e)) = run.end else { panic!() };
    assert!(!e.retryable());
    assert_eq!(
        e.to_string(),
        "POST /api/v1/cr: refused by the CA: HTTP 400, status 4: CSR signature does not verify"
    );
    assert!(run.retries.is_empty());
    assert_eq!(p.record(0x5001), None);
    // A refusal whose body is not the CA's CBOR: the HTTP reason phrase.
    let mut p = Provisioning::new(pki.input(None), Policy::default(), 1);
    let plain = b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nno".to_vec();
    let run = drive(&mut p, vec![whole(plain)]);
    assert_eq!(
        run.end.unwrap().unwrap_err().to_string(),
        "GET /api/v1/ccs: refused by the CA: HTTP 403: Forbidden"
    );
    // A 200 whose CBOR says refused.
    let mut p = Provisioning::new(pki.input(None), Policy::default(), 1);
    let run = drive(&mut p, vec![whole(hub_reply()), whole(refusal("200 OK", 2, "revoked device"))]);
    assert_eq!(
        run.end.unwrap().unwrap_err().to_string(),
        "POST /api/v1/cr: refused by the CA: HTTP 200, status 2: revoked device"
    );
}

#[test]
fn bad_replies_are_named_and_not_retried() {
    let pki = Pki::new();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec(),
            "GET /api/v1/ccs: bad reply: HTTP: the reply is larger than the 2560 bytes the device reads",
        ),
        (
            [&b"HTTP/1.1 200 OK\r\n\r\n"[..], &[0u8; 3000]].concat(),
            "GET /api/v1/ccs: bad reply: HTTP: the reply is larger than the 2560 bytes the device reads",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
            "GET /api/v1/ccs: bad reply: the body is not application/cbor",
        ),
        (cbor_reply("200 OK", &[0xa1, 0x01, 0x61, b'h']), "GET /api/v1/ccs: bad reply: CBOR: key 2 missing"),
        (cbor_reply("200 OK", &[0xa2, 0x01, 0x61]), "GET /api/v1/ccs: bad reply: CBOR: not well-formed CBOR"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            "GET /api/v1/ccs: bad reply: HTTP: a Transfer-Encoding the device does not read",
        ),
        (
            b"garbage\r\n\r\n".to_vec(),
            "GET /api/v1/ccs: bad reply: HTTP: the status line is not HTTP/1.x with a final status",
        ),
    ];
    for (reply, want) in cases {
        let mut p = Provisioning::new(pki.input(None), Policy::default(), 1);
        let run = drive(&mut p, vec![whole(reply)]);
        assert_eq!(run.end.unwrap().unwrap_err().to_string(), want);
        assert!(run.retries.is_empty());
    }
    // The certificate reply: not CBOR of the CA's map, a certificate over the size kept.
    let over = vec![0x30u8; record::CERT_MAX + 1];
    for (reply, want) in [
        (cbor_reply("200 OK", &[0xa1, 0x02, 0x41, 0x30]), "POST /api/v1/cr: bad reply: CBOR: key 1 missing"),
        (
            issued_reply(&over),
            "POST /api/v1/cr: bad reply: CBOR: the value of key 2 has the wrong type or is out of range",
        ),
    ] {
        let mut p = Provisioning::new(pki.input(None), Policy::default(), 1);
        let run = drive(&mut p, vec![whole(hub_reply()), whole(reply)]);
        assert_eq!(run.end.unwrap().unwrap_err().to_string(), want);
    }
}

#[test]
fn a_request_that_does_not_fit_is_refused() {
    let pki = Pki::new();
    let host = "h".repeat(REQUEST_MAX);
    let input = Input { server: Server { host: &host, port: 1 }, ..pki.input(None) };
    let mut p = Provisioning::new(input, Policy::default(), 1);
    assert_eq!(drive(&mut p, vec![]).end, Some(Err(Error::RequestTooLarge)));
}

#[test]
fn the_certificate_must_be_the_one_asked_for() {
    let pki = Pki::new();
    assert_eq!(pki.verify(&pki.cert, None), Ok(()));
    assert_eq!(pki.verify(&pki.cert, Some(NOT_BEFORE)), Ok(()));
    assert_eq!(pki.verify(&pki.cert, Some(NOT_AFTER)), Ok(()));
    let other_key = key(3);
    let other_ca = key(4);
    let mut flipped = pki.cert.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let other_issuer = Profile::Leaf {
        issuer: Name::from_str("CN=another CA").unwrap(),
        enable_key_agreement: false,
        enable_key_encipherment: false,
        include_subject_key_identifier: true,
    };
    let cases: Vec<(Vec<u8>, Option<u64>, CertError)> = vec![
        // Another key than the device's.
        (issue(leaf_profile(), SUBJECT, &other_key, &pki.ca_key), None, CertError::Key),
        // Another subject (the OU of the COSE SIGN key).
        (
            issue(leaf_profile(), &SUBJECT.replace("Client TLS", "COSE SIGN"), &pki.device, &pki.ca_key),
            None,
            CertError::Subject,
        ),
        // Signed by another key under the CA's name.
        (issue(leaf_profile(), SUBJECT, &pki.device, &other_ca), None, CertError::Signature),
        (flipped, None, CertError::Signature),
        // Another CA's name.
        (issue(other_issuer, SUBJECT, &pki.device, &pki.ca_key), None, CertError::Issuer),
        // A CA certificate for the device key.
        (
            issue(
                Profile::SubCA { issuer: Name::from_str(CA_NAME).unwrap(), path_len_constraint: None },
                SUBJECT,
                &pki.device,
                &pki.ca_key,
            ),
            None,
            CertError::CaCertificate,
        ),
        // Validity, when the home has a clock.
        (pki.cert.clone(), Some(NOT_BEFORE - 1), CertError::NotYetValid),
        (pki.cert.clone(), Some(NOT_AFTER + 1), CertError::Expired),
        // The CA's own certificate.
        (pki.anchor.clone(), None, CertError::Key),
    ];
    for (i, (cert, now, want)) in cases.into_iter().enumerate() {
        assert_eq!(pki.verify(&cert, now), Err(want), "case {i}");
        // The machine ends with the same error, not retried.
        let mut p = Provisioning::new(pki.input(now), Policy::default(), 1);
        let run = drive(&mut p, vec![whole(hub_reply()), whole(issued_reply(&cert))]);
        assert_eq!(run.end, Some(Err(Error::Certificate(want))), "case {i}");
    }
}

#[test]
fn certificates_that_are_not_der_are_refused() {
    let pki = Pki::new();
    // Cut at every length, and with a byte after it.
    for len in 0..pki.cert.len() {
        assert_eq!(pki.verify(&pki.cert[..len], None), Err(CertError::Malformed), "{len}");
    }
    assert_eq!(pki.verify(&[&pki.cert[..], &[0]].concat(), None), Err(CertError::Malformed));
    // A long-form length where the short form fits (not DER).
    let mut long = vec![0x30, 0x81, 0x03, 0x02, 0x01, 0x00];
    assert_eq!(pki.verify(&long, None), Err(CertError::Malformed));
    long.clear();
    assert_eq!(pki.verify(&long, None), Err(CertError::Malformed));
    // A bad anchor or CSR is said as such.
    assert_eq!(
        x509::verify(&pki.cert, &pki.cert[..10], &pki.csr, &pki.device_point, None),
        Err(CertError::Anchor)
    );
    assert_eq!(
        x509::verify(&pki.cert, &pki.anchor, &pki.csr[..10], &pki.device_point, None),
        Err(CertError::Csr)
    );
}

#[test]
fn details_are_cut_at_their_capacity() {
    let d = Detail::from_text(&"é".repeat(100));
    assert_eq!(d.as_str().len(), Detail::CAPACITY);
    assert!(d.to_string().ends_with("..."));
    assert_eq!(Detail::from_text("short").to_string(), "short");
}
