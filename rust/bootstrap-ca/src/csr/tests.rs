use super::*;
use der::asn1::{SetOfVec, Utf8StringRef};
use der::Encode;
use device_identity::{DeviceIdentity, EmulatedHuk, LabelExtra};
use p256::ecdsa::SigningKey;
use rand_core::OsRng;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::{Builder, RequestBuilder};
use x509_cert::name::{RdnSequence, RelativeDistinguishedName};
use x509_cert::request::CertReq;

const UUID: &str = "3084b338-c39e-4c23-9050-fcb9630afcd0";

fn policy() -> Policy {
    Policy { org: "Linaro".into(), bootstrap_ou: "LinaroCA Bootstrap Cert".into() }
}

fn atv(oid: ObjectIdentifier, value: &str) -> AttributeTypeAndValue {
    AttributeTypeAndValue { oid, value: der::Any::from(Utf8StringRef::new(value).unwrap()) }
}

/// A subject of one attribute per RDN, in order.
fn subject(attrs: &[(ObjectIdentifier, &str)]) -> Name {
    RdnSequence(
        attrs
            .iter()
            .map(|(o, v)| RelativeDistinguishedName(SetOfVec::try_from(vec![atv(*o, v)]).unwrap()))
            .collect(),
    )
}

fn csr_for(name: Name) -> Vec<u8> {
    let key = SigningKey::random(&mut OsRng);
    let req: CertReq = RequestBuilder::new(name, &key).unwrap().build::<DerSignature>().unwrap();
    req.to_der().unwrap()
}

fn good(ou: &str) -> Vec<u8> {
    csr_for(subject(&[(OID_O, "Linaro"), (OID_CN, UUID), (OID_OU, ou)]))
}

fn refusal(der: &[u8]) -> (Refusal, String) {
    match check(der, &policy()) {
        Err(Error::Refused(kind, reason)) => (kind, reason),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn the_devices_own_csrs_pass() {
    // The secure world's CSR builder (device-identity), byte for byte as the device sends it.
    let id =
        DeviceIdentity::derive(&mut EmulatedHuk::new(&[7; 32], 1), &LabelExtra::new("").unwrap()).unwrap();
    for key in KeyId::ALL {
        let mut out = [0u8; device_identity::csr::CSR_MAX];
        let n = device_identity::csr::build(&id, key, "Linaro", &mut out).unwrap();
        let checked = check(&out[..n], &policy()).unwrap();
        assert_eq!(checked.key, key);
        assert_eq!(checked.uuid, id.uuid().to_string());
        assert_eq!(checked.public_key.subject_public_key.raw_bytes(), &id.public_key(key)[..]);
    }
}

#[test]
fn every_key_label_passes_in_any_rdn_order() {
    for key in KeyId::ALL {
        assert_eq!(check(&good(key.label()), &policy()).unwrap().key, key);
    }
    let reordered = csr_for(subject(&[(OID_OU, "Device COSE SIGN"), (OID_CN, UUID), (OID_O, "Linaro")]));
    assert_eq!(check(&reordered, &policy()).unwrap().key, KeyId::CoseSign);
}

#[test]
fn a_flipped_signature_byte_is_no_proof_of_possession() {
    let mut der = good("Device Client TLS");
    *der.last_mut().unwrap() ^= 1;
    assert_eq!(refusal(&der).0, Refusal::BadSignature);
}

#[test]
fn a_changed_subject_byte_breaks_the_signature() {
    let mut der = good("Device Client TLS");
    let at = der.windows(UUID.len()).position(|w| w == UUID.as_bytes()).unwrap();
    der[at] = b'4';
    assert_eq!(refusal(&der).0, Refusal::BadSignature);
}

#[test]
fn subjects_are_refused_with_their_reason() {
    type Attrs<'a> = &'a [(ObjectIdentifier, &'a str)];
    let cases: &[(Attrs, Refusal, &str)] = &[
        (&[(OID_O, "Linaro"), (OID_CN, UUID)], Refusal::Subject, "no OU"),
        (&[(OID_O, "Linaro"), (OID_CN, UUID), (OID_OU, "")], Refusal::Subject, "OU is empty"),
        (
            &[(OID_O, "Linaro"), (OID_CN, UUID), (OID_OU, "Device Client TLS"), (OID_OU, "Device COSE SIGN")],
            Refusal::Subject,
            "2 OU attributes",
        ),
        (
            &[(OID_O, "Linaro"), (OID_CN, UUID), (OID_OU, "Signing")],
            Refusal::Subject,
            "not a device key label",
        ),
        (
            &[(OID_O, "Linaro"), (OID_CN, UUID), (OID_OU, "LinaroCA Bootstrap Cert")],
            Refusal::BootstrapOu,
            "bootstrap",
        ),
        (
            &[(OID_O, "Other"), (OID_CN, UUID), (OID_OU, "Device Client TLS")],
            Refusal::Subject,
            "O is \"Other\"",
        ),
        (&[(OID_CN, UUID), (OID_OU, "Device Client TLS")], Refusal::Subject, "0 O attributes"),
        (
            &[(OID_O, "Linaro"), (OID_CN, "not-a-uuid"), (OID_OU, "Device Client TLS")],
            Refusal::Subject,
            "not a version-4",
        ),
        (&[(OID_O, "Linaro"), (OID_OU, "Device Client TLS")], Refusal::Subject, "0 CN attributes"),
        (
            &[
                (OID_O, "Linaro"),
                (OID_CN, UUID),
                (OID_OU, "Device Client TLS"),
                (ObjectIdentifier::new_unwrap("2.5.4.6"), "US"),
            ],
            Refusal::Subject,
            "only O, CN and OU",
        ),
    ];
    for (attrs, kind, words) in cases {
        let (got, reason) = refusal(&csr_for(subject(attrs)));
        assert_eq!(got, *kind, "{attrs:?}: {reason}");
        assert!(reason.contains(words), "{attrs:?}: {reason}");
    }
}

#[test]
fn a_multi_valued_rdn_is_refused() {
    let pair = SetOfVec::try_from(vec![atv(OID_O, "Linaro"), atv(OID_CN, UUID)]).unwrap();
    let name = RdnSequence(vec![
        RelativeDistinguishedName(pair),
        RelativeDistinguishedName(SetOfVec::try_from(vec![atv(OID_OU, "Device Client TLS")]).unwrap()),
    ]);
    assert!(refusal(&csr_for(name)).1.contains("multi-valued"));
}

#[test]
fn uuids_must_be_version_4_lowercase_hyphenated() {
    assert!(is_v4_uuid(UUID));
    for bad in [
        "3084B338-C39E-4C23-9050-FCB9630AFCD0", // uppercase
        "3084b338-c39e-1c23-9050-fcb9630afcd0", // version 1
        "3084b338-c39e-4c23-c050-fcb9630afcd0", // variant 110x
        "3084b338c39e4c239050fcb9630afcd0",     // no hyphens
        "3084b338-c39e-4c23-9050-fcb9630afcd",  // short
        "3084b338-c39e-4c23-9050-fcb9630afcdg", // not hex
        "",
    ] {
        assert!(!is_v4_uuid(bad), "{bad}");
    }
}

#[test]
fn anything_after_the_request_is_refused() {
    let mut der = good("Device Client TLS");
    der.push(0);
    assert_eq!(refusal(&der).0, Refusal::BadCsr);
}

#[test]
fn truncated_and_garbage_requests_are_refused() {
    let der = good("Device Client TLS");
    for cut in [0, 1, 2, 10, der.len() / 2, der.len() - 1] {
        assert_eq!(refusal(&der[..cut]).0, Refusal::BadCsr, "cut at {cut}");
    }
    assert_eq!(refusal(b"\xff\x00garbage").0, Refusal::BadCsr);
}

/// A request with another key algorithm: the key is checked before the signature.
fn with_key(algorithm: spki::AlgorithmIdentifierOwned, key: &[u8]) -> Vec<u8> {
    let der = good("Device Client TLS");
    let mut req = CertReq::from_der(&der).unwrap();
    req.info.public_key = SubjectPublicKeyInfoOwned {
        algorithm,
        subject_public_key: der::asn1::BitString::from_bytes(key).unwrap(),
    };
    req.to_der().unwrap()
}

#[test]
fn only_p256_keys_are_signed() {
    let rsa = spki::AlgorithmIdentifierOwned { oid: OID_RSA, parameters: Some(der::asn1::Null.into()) };
    let (kind, reason) = refusal(&with_key(rsa, &[0x30, 0x00]));
    assert_eq!(kind, Refusal::KeyType);
    assert!(reason.contains("RSA"), "{reason}");
    let p384 = ObjectIdentifier::new_unwrap("1.3.132.0.34");
    let ec384 = spki::AlgorithmIdentifierOwned { oid: OID_EC_PUBLIC_KEY, parameters: Some(p384.into()) };
    assert_eq!(refusal(&with_key(ec384, &[4; 97])).0, Refusal::KeyType);
    let p256 = spki::AlgorithmIdentifierOwned { oid: OID_EC_PUBLIC_KEY, parameters: Some(OID_P256.into()) };
    // Compressed, and not on the curve.
    assert_eq!(refusal(&with_key(p256.clone(), &[2; 33])).0, Refusal::KeyType);
    let mut off_curve = [1u8; 65];
    off_curve[0] = 4;
    assert_eq!(refusal(&with_key(p256, &off_curve)).0, Refusal::KeyType);
}

#[test]
fn only_ecdsa_with_sha256_signatures() {
    let der = good("Device Client TLS");
    let mut req = CertReq::from_der(&der).unwrap();
    req.algorithm.oid = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3"); // ecdsa-with-SHA384
    assert_eq!(refusal(&req.to_der().unwrap()).0, Refusal::KeyType);
}

#[test]
fn no_byte_of_a_request_can_make_the_checks_panic() {
    let der = good("Device Client TLS");
    for at in 0..der.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut bad = der.clone();
            bad[at] ^= flip;
            // Refused (or, for a flip the encoding absorbs, accepted): never a panic.
            let _ = check(&bad, &policy());
        }
    }
}
