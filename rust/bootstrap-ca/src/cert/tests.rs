use super::*;
use der::asn1::ObjectIdentifier as Oid;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::VerifyingKey;
use sha1::{Digest, Sha1};
use x509_cert::ext::Extension;

const NOW: u64 = 1_800_000_000;

fn ext<'a>(cert: &'a Certificate, oid: &str) -> Option<&'a Extension> {
    let oid = Oid::new_unwrap(oid);
    cert.tbs_certificate.extensions.as_ref()?.iter().find(|e| e.extn_id == oid)
}

fn device(ca: &Ca, key: KeyId) -> Certificate {
    let (_, spki) = new_key().unwrap();
    let subject = name(&[(OID_O, "Linaro"), (OID_CN, "3084b338-c39e-4c23-9050-fcb9630afcd0")]).unwrap();
    Certificate::from_der(
        &ca.issue(Usage::Device(key), subject, spki, 0x8000_0000_0000_0000_0000_0000_0000_0001, NOW, 86_400)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn device_certificates_carry_the_extensions_of_their_key() {
    let (ca, _) = Ca::generate("Linaro", NOW, 10).unwrap();
    for key in KeyId::ALL {
        let cert = device(&ca, key);
        let tbs = &cert.tbs_certificate;
        assert_eq!(tbs.version, x509_cert::Version::V3);
        // 2^127 + 1: positive, so DER puts a zero byte first (17 bytes).
        assert_eq!(tbs.serial_number.as_bytes(), &[&[0u8, 0x80][..], &[0; 14], &[1]].concat()[..]);
        assert_eq!(tbs.validity.not_before.to_unix_duration().as_secs(), NOW - BACKDATE_SECS);
        assert_eq!(tbs.validity.not_after.to_unix_duration().as_secs(), NOW + 86_400);
        let bc = ext(&cert, "2.5.29.19").unwrap();
        assert!(bc.critical);
        assert!(!BasicConstraints::from_der(bc.extn_value.as_bytes()).unwrap().ca);
        let ku = ext(&cert, "2.5.29.15").unwrap();
        assert!(ku.critical);
        let usages = KeyUsage::from_der(ku.extn_value.as_bytes()).unwrap();
        let wanted =
            if key == KeyId::CoseEncrypt { KeyUsages::KeyAgreement } else { KeyUsages::DigitalSignature };
        assert_eq!(usages, KeyUsage(wanted.into()));
        let eku = ext(&cert, "2.5.29.37");
        assert_eq!(eku.is_some(), key == KeyId::ClientTls, "{key:?}");
        if let Some(eku) = eku {
            assert!(!eku.critical);
            assert_eq!(
                ExtendedKeyUsage::from_der(eku.extn_value.as_bytes()).unwrap().0,
                [OID_KP_CLIENT_AUTH]
            );
        }
        // RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits.
        let ski =
            SubjectKeyIdentifier::from_der(ext(&cert, "2.5.29.14").unwrap().extn_value.as_bytes()).unwrap();
        let digest = Sha1::digest(tbs.subject_public_key_info.subject_public_key.raw_bytes());
        assert_eq!(ski.0.as_bytes(), &digest[..]);
        let aki =
            AuthorityKeyIdentifier::from_der(ext(&cert, "2.5.29.35").unwrap().extn_value.as_bytes()).unwrap();
        assert_eq!(aki.key_identifier.unwrap(), ca.ski);
        assert!(ext(&cert, "2.5.29.17").is_none());
        // Signed by the CA.
        let sig = DerSignature::from_bytes(cert.signature.raw_bytes()).unwrap();
        ca.signer.public.verify(&tbs.to_der().unwrap(), &sig).unwrap();
    }
}

#[test]
fn the_ca_certificate_is_a_ca() {
    let (ca, _) = Ca::generate("Linaro", NOW, 10).unwrap();
    let cert = ca.certificate();
    assert_eq!(cert.tbs_certificate.issuer, cert.tbs_certificate.subject);
    let bc = BasicConstraints::from_der(ext(cert, "2.5.29.19").unwrap().extn_value.as_bytes()).unwrap();
    assert!(bc.ca);
    let ku = KeyUsage::from_der(ext(cert, "2.5.29.15").unwrap().extn_value.as_bytes()).unwrap();
    assert!(ku.key_cert_sign());
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let key = VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes()).unwrap();
    let sig = DerSignature::from_bytes(cert.signature.raw_bytes()).unwrap();
    key.verify(&cert.tbs_certificate.to_der().unwrap(), &sig).unwrap();
}

#[test]
fn server_and_bootstrap_certificates() {
    let (ca, _) = Ca::generate("Linaro", NOW, 10).unwrap();
    let (_, spki) = new_key().unwrap();
    let server =
        ca.issue(Usage::Server, name(&[(OID_CN, "localhost")]).unwrap(), spki.clone(), 5, NOW, 10).unwrap();
    let server = Certificate::from_der(&server).unwrap();
    let eku = ExtendedKeyUsage::from_der(ext(&server, "2.5.29.37").unwrap().extn_value.as_bytes()).unwrap();
    assert_eq!(eku.0, [OID_KP_SERVER_AUTH]);
    let san = SubjectAltName::from_der(ext(&server, "2.5.29.17").unwrap().extn_value.as_bytes()).unwrap();
    assert_eq!(san.0.len(), 2);
    let boot = ca.issue(Usage::BootstrapClient, name(&[(OID_CN, "b")]).unwrap(), spki, 6, NOW, 10).unwrap();
    let boot = Certificate::from_der(&boot).unwrap();
    let eku = ExtendedKeyUsage::from_der(ext(&boot, "2.5.29.37").unwrap().extn_value.as_bytes()).unwrap();
    assert_eq!(eku.0, [OID_KP_CLIENT_AUTH]);
}

#[test]
fn a_service_credential_is_a_client_certificate() {
    let (ca, _) = Ca::generate("Linaro", NOW, 10).unwrap();
    let (_, spki) = new_key().unwrap();
    let der =
        ca.issue(Usage::Service, name(&[(OID_CN, "cloud-consumer")]).unwrap(), spki, 7, NOW, 10).unwrap();
    let cert = Certificate::from_der(&der).unwrap();
    let eku = ext(&cert, "2.5.29.37").unwrap();
    assert!(!eku.critical);
    assert_eq!(ExtendedKeyUsage::from_der(eku.extn_value.as_bytes()).unwrap().0, [OID_KP_CLIENT_AUTH]);
    let ku = KeyUsage::from_der(ext(&cert, "2.5.29.15").unwrap().extn_value.as_bytes()).unwrap();
    assert!(ku.digital_signature() && !ku.key_agreement() && !ku.key_cert_sign());
    let bc = BasicConstraints::from_der(ext(&cert, "2.5.29.19").unwrap().extn_value.as_bytes()).unwrap();
    assert!(!bc.ca);
}

#[test]
fn the_ca_reloads_from_pem_and_refuses_a_foreign_key() {
    let (ca, key) = Ca::generate("Linaro", NOW, 10).unwrap();
    let again = Ca::from_pem(&ca.cert_pem().unwrap(), &key).unwrap();
    assert_eq!(again.certificate(), ca.certificate());
    assert_eq!(again.ski, ca.ski);
    let (_, other_key) = Ca::generate("Linaro", NOW, 10).unwrap();
    assert!(Ca::from_pem(&ca.cert_pem().unwrap(), &other_key).err().unwrap().contains("does not match"));
    assert!(Ca::from_pem("junk", &key).is_err());
}

#[test]
fn serials_are_random_and_nonzero() {
    let a = random_serial();
    let b = random_serial();
    assert_ne!(a, b);
    assert_ne!(a, 0);
}
