//! Certificates made here with x509-cert's builder, as the bootstrap CA makes them
//! (docs/provisioning.md, "Certificates"), then bent one way each.

use std::str::FromStr;
use std::time::Duration;

use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::LineEnding;
use rand_core::OsRng;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::oid::db::rfc5280::{ID_KP_CLIENT_AUTH, ID_KP_CODE_SIGNING};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Encode, EncodePem};
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;

use super::*;

const UUID: &str = "3084b338-c39e-4c23-9050-fcb9630afcd0";
const CA_NAME: &str = "O=Linaro,CN=Linaro Bootstrap CA";

struct TestCa {
    key: SigningKey,
    pem: String,
}

fn test_ca(name: &str) -> TestCa {
    let key = SigningKey::random(&mut OsRng);
    let spki = SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).unwrap();
    let validity = Validity::from_now(Duration::from_secs(86_400)).unwrap();
    let builder = CertificateBuilder::new(
        Profile::Root,
        SerialNumber::from(1u32),
        validity,
        Name::from_str(name).unwrap(),
        spki,
        &key,
    )
    .unwrap();
    let pem = builder.build::<DerSignature>().unwrap().to_pem(LineEnding::LF).unwrap();
    TestCa { key, pem }
}

/// A leaf for `key` with `subject`, issued by `ca` (named `issuer`), valid for an hour
/// from now, with the extended key usages `eku` if any.
fn leaf(ca: &TestCa, issuer: &str, key: &SigningKey, subject: &str, eku: &[ObjectIdentifier]) -> Vec<u8> {
    let profile = Profile::Leaf {
        issuer: Name::from_str(issuer).unwrap(),
        enable_key_agreement: false,
        enable_key_encipherment: false,
        include_subject_key_identifier: true,
    };
    let spki = SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).unwrap();
    let validity = Validity::from_now(Duration::from_secs(3600)).unwrap();
    let mut builder = CertificateBuilder::new(
        profile,
        SerialNumber::from(2u32),
        validity,
        Name::from_str(subject).unwrap(),
        spki,
        &ca.key,
    )
    .unwrap();
    if !eku.is_empty() {
        builder.add_extension(&ExtendedKeyUsage(eku.to_vec())).unwrap();
    }
    builder.build::<DerSignature>().unwrap().to_der().unwrap()
}

fn now() -> u64 {
    crate::time::now_ms() / 1000
}

fn subject(ou: &str) -> String {
    format!("O=Linaro,CN={UUID},OU={ou}")
}

#[test]
fn a_cose_sign_certificate_of_the_ca_is_accepted() {
    let ca = test_ca(CA_NAME);
    let key = SigningKey::random(&mut OsRng);
    let der = leaf(&ca, CA_NAME, &key, &subject("Device COSE SIGN"), &[]);
    let anchor = Ca::from_pem(&ca.pem).unwrap();
    let cert = check_cose_cert(&anchor, &der, UUID, now()).unwrap();
    assert_eq!(cert.device, UUID);
    assert_eq!(cert.key.thumbprint(), crate::thumbprint(&(*key.verifying_key()).into()));
    assert!(cert.not_before <= now() && now() < cert.not_after);
    // An extended key usage that does not allow TLS is fine.
    let signing = leaf(&ca, CA_NAME, &key, &subject("Device COSE SIGN"), &[ID_KP_CODE_SIGNING]);
    assert!(check_cose_cert(&anchor, &signing, UUID, now()).is_ok());
}

#[test]
fn each_bent_certificate_is_refused_with_its_reason() {
    let ca = test_ca(CA_NAME);
    let anchor = Ca::from_pem(&ca.pem).unwrap();
    let key = SigningKey::random(&mut OsRng);
    let good = leaf(&ca, CA_NAME, &key, &subject("Device COSE SIGN"), &[]);
    let refused = |der: &[u8], uuid: &str, at: u64| check_cose_cert(&anchor, der, uuid, at).unwrap_err();

    // Another CA with the same name: the signature does not verify.
    let impostor = test_ca(CA_NAME);
    let e = refused(&leaf(&impostor, CA_NAME, &key, &subject("Device COSE SIGN"), &[]), UUID, now());
    assert!(matches!(e, Error::Certificate(CertError::BadSignature)), "{e}");
    // Another CA by name.
    let other = test_ca("O=Other,CN=Other CA");
    let e =
        refused(&leaf(&other, "O=Other,CN=Other CA", &key, &subject("Device COSE SIGN"), &[]), UUID, now());
    assert!(matches!(e, Error::Certificate(CertError::OtherIssuer)), "{e}");
    // The wrong key label: the TLS key, or 0x5003.
    let e = refused(&leaf(&ca, CA_NAME, &key, &subject("Device Client TLS"), &[]), UUID, now());
    assert!(matches!(e, Error::KeyPurpose(why) if why.contains("TLS_SIGN")), "{e}");
    let e = refused(&leaf(&ca, CA_NAME, &key, &subject("Device COSE ENCRYPT"), &[]), UUID, now());
    assert!(matches!(e, Error::KeyPurpose(_)), "{e}");
    // The right label, but usable for TLS.
    let e =
        refused(&leaf(&ca, CA_NAME, &key, &subject("Device COSE SIGN"), &[ID_KP_CLIENT_AUTH]), UUID, now());
    assert!(matches!(e, Error::KeyPurpose(why) if why.contains("extended key usage")), "{e}");
    // Another device's certificate, on this device's topic.
    let e = refused(&good, "0f4e2a37-1b5c-4d8e-9a6b-3c2d1e0f9a8b", now());
    assert!(
        matches!(e, Error::Certificate(CertError::SubjectCn { found: Some(ref cn), .. }) if cn == UUID),
        "{e}"
    );
    // No CN at all.
    let e = refused(&leaf(&ca, CA_NAME, &key, "O=Linaro,OU=Device COSE SIGN", &[]), UUID, now());
    assert!(matches!(e, Error::Certificate(CertError::SubjectCn { found: None, .. })), "{e}");
    // Outside its validity.
    let e = refused(&good, UUID, now() + 7200);
    assert!(matches!(e, Error::Certificate(CertError::Expired { .. })), "{e}");
    assert!(e.to_string().contains("expired at"), "{e}");
    let e = refused(&good, UUID, now() - 7200);
    assert!(matches!(e, Error::Certificate(CertError::NotYetValid { .. })), "{e}");
    // Not DER, or something after it.
    let mut long = good.clone();
    long.push(0);
    assert!(matches!(refused(&long, UUID, now()), Error::Certificate(CertError::NotDer)));
    assert!(matches!(refused(&good[..good.len() - 1], UUID, now()), Error::Certificate(CertError::NotDer)));
    assert!(matches!(refused(b"", UUID, now()), Error::Certificate(CertError::NotDer)));
    // Any bit of the signed part flipped: refused (never accepted, never a panic).
    for at in 4..good.len() - 72 {
        let mut bent = good.clone();
        bent[at] ^= 0x01;
        assert!(check_cose_cert(&anchor, &bent, UUID, now()).is_err(), "byte {at} flipped still accepted");
    }
}

#[test]
fn the_anchor_must_be_a_p256_ca() {
    let ca = test_ca(CA_NAME);
    let key = SigningKey::random(&mut OsRng);
    let not_ca = leaf(&ca, CA_NAME, &key, &subject("Device COSE SIGN"), &[]);
    let pem = x509_cert::Certificate::from_der(&not_ca).unwrap().to_pem(LineEnding::LF).unwrap();
    assert!(matches!(Ca::from_pem(&pem), Err(Error::Ca(_))));
    assert!(matches!(Ca::from_pem("not a PEM"), Err(Error::Ca(_))));
}
