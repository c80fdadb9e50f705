use super::*;
use der::{Decode, DecodePem, Tag, Tagged};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, VerifyingKey};
use spki::DecodePublicKey;

const NOW: u64 = 1_800_000_000; // 2027-01-15T08:00:00Z
const DAY: u64 = 86_400;

fn ca() -> Ca {
    Ca::generate("Linaro", NOW - DAY, 10).unwrap().0
}

fn decode(der: &[u8]) -> CertificateList {
    CertificateList::from_der(der).unwrap()
}

fn ext(exts: &[Extension], oid: der::oid::ObjectIdentifier) -> &Extension {
    exts.iter().find(|e| e.extn_id == oid).unwrap_or_else(|| panic!("no extension {oid}"))
}

#[test]
fn a_crl_lists_every_revoked_serial_with_its_time_and_the_ca_signs_it() {
    let ca = ca();
    let revoked = [
        Revoked { serial: 0x8000_0000_0000_0000_0000_0000_0000_0001, at: NOW - 60, superseded: false },
        Revoked { serial: 5, at: NOW - 30, superseded: true },
    ];
    let der = build(&ca, &revoked, NOW, 7 * DAY).unwrap();
    let crl = decode(&der);
    let tbs = &crl.tbs_cert_list;
    assert_eq!(tbs.version, Version::V2);
    assert_eq!(tbs.issuer, ca.certificate().tbs_certificate.subject);
    // ecdsa-with-SHA256 (RFC 5758: no parameters), inside and outside the TBS.
    assert_eq!(tbs.signature.oid.to_string(), "1.2.840.10045.4.3.2");
    assert!(tbs.signature.parameters.is_none());
    assert_eq!(crl.signature_algorithm, tbs.signature);
    assert_eq!(tbs.this_update.to_unix_duration().as_secs(), NOW);
    assert_eq!(tbs.next_update.unwrap().to_unix_duration().as_secs(), NOW + 7 * DAY);

    let entries = tbs.revoked_certificates.as_ref().unwrap();
    assert_eq!(entries.len(), 2);
    // A serial with its top bit set gets a leading zero byte (a positive INTEGER).
    assert_eq!(entries[0].serial_number.as_bytes()[0], 0);
    assert_eq!(entries[0].serial_number.as_bytes().len(), 17);
    assert_eq!(entries[0].revocation_date.to_unix_duration().as_secs(), NOW - 60);
    assert!(entries[0].crl_entry_extensions.is_none(), "unspecified: no reason code (RFC 5280 5.3.1)");
    assert_eq!(entries[1].serial_number.as_bytes(), [5]);
    let reasons = entries[1].crl_entry_extensions.as_ref().unwrap();
    let reason = ext(reasons, CrlReason::OID);
    assert!(!reason.critical);
    assert_eq!(CrlReason::from_der(reason.extn_value.as_bytes()).unwrap(), CrlReason::Superseded);

    let exts = tbs.crl_extensions.as_ref().unwrap();
    let aki = AuthorityKeyIdentifier::from_der(ext(exts, AuthorityKeyIdentifier::OID).extn_value.as_bytes())
        .unwrap();
    assert_eq!(aki.key_identifier.as_ref(), Some(ca.key_identifier()));
    let number = CrlNumber::from_der(ext(exts, CrlNumber::OID).extn_value.as_bytes()).unwrap();
    assert_eq!(number.0.as_bytes(), &NOW.to_be_bytes()[4..]); // 0x6b49d200
    assert!(exts.iter().all(|e| !e.critical));

    // The signature verifies with the CA's key over the TBS as encoded.
    let spki = &ca.certificate().tbs_certificate.subject_public_key_info;
    let key = VerifyingKey::from_public_key_der(&spki.to_der().unwrap()).unwrap();
    let signature = DerSignature::from_bytes(crl.signature.raw_bytes()).unwrap();
    key.verify(&tbs.to_der().unwrap(), &signature).unwrap();
    // ... and not over anything else.
    let mut other = tbs.clone();
    other.this_update = time(NOW + 1).unwrap();
    assert!(key.verify(&other.to_der().unwrap(), &signature).is_err());
}

#[test]
fn nothing_revoked_leaves_the_list_out_rather_than_empty() {
    let crl = decode(&build(&ca(), &[], NOW, DAY).unwrap());
    assert!(crl.tbs_cert_list.revoked_certificates.is_none());
}

#[test]
fn times_are_utc_time_through_2049_and_generalized_time_from_2050() {
    assert_eq!(time(NOW).unwrap().tag(), Tag::UtcTime);
    assert_eq!(time(Y2050 - 1).unwrap().tag(), Tag::UtcTime);
    assert_eq!(time(Y2050).unwrap().tag(), Tag::GeneralizedTime);
    // A nextUpdate past 2049 from a thisUpdate before it.
    let crl = decode(&build(&ca(), &[], Y2050 - DAY, 2 * DAY).unwrap());
    assert_eq!(crl.tbs_cert_list.this_update.tag(), Tag::UtcTime);
    assert_eq!(crl.tbs_cert_list.next_update.unwrap().tag(), Tag::GeneralizedTime);
}

#[test]
fn the_pem_is_an_x509_crl_and_decodes_back() {
    let der = build(&ca(), &[Revoked { serial: 1, at: NOW, superseded: false }], NOW, DAY).unwrap();
    let text = pem(&der).unwrap();
    assert!(text.starts_with("-----BEGIN X509 CRL-----\n"), "{text}");
    assert!(text.ends_with("-----END X509 CRL-----\n"), "{text}");
    let (label, back) = der::pem::decode_vec(text.as_bytes()).unwrap();
    assert_eq!((label, back), (PEM_LABEL, der));
    // A CRL is not a certificate: the certificate decoder refuses its PEM.
    assert!(x509_cert::Certificate::from_pem(text.as_bytes()).is_err());
}

#[test]
fn a_cut_or_extended_crl_does_not_decode() {
    let der = build(&ca(), &[Revoked { serial: 1, at: NOW, superseded: true }], NOW, DAY).unwrap();
    for cut in [1, der.len() / 2, der.len() - 1] {
        assert!(CertificateList::from_der(&der[..cut]).is_err(), "cut at {cut}");
    }
    let mut longer = der.clone();
    longer.push(0);
    assert!(CertificateList::from_der(&longer).is_err());
}
