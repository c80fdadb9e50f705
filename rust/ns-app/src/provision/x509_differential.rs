//! ns-app's certificate check against the same checks made with x509-cert, an
//! independent reader ([`super::x509_reference`]; the CA and the cloud read
//! certificates with it, ns-app cannot: it has no heap). Every byte of the test
//! certificate's TBS is flipped in three ways and the result signed again by the test
//! CA, so that the signature holds and each flip reaches the checks behind it. Where
//! ours accepts, x509-cert must accept too. Ours may refuse more (it reads strictly,
//! and only what the device checks), but few.

extern crate std;
use super::testpki::Pki;
use super::x509::{self, CertError, Certificate};
use super::x509_reference;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::DerSignature;
use std::vec::Vec;
use x509_cert::der::asn1::BitString;
use x509_cert::der::{Encode, Header, Length, Tag};

/// A certificate whose TBS is `tbs` (DER or not), signed by the test CA.
fn signed(pki: &Pki, tbs: &[u8], algorithm: &[u8]) -> Vec<u8> {
    let signature: DerSignature = pki.ca_key.sign(tbs);
    let bits = BitString::from_bytes(signature.as_bytes()).unwrap().to_der().unwrap();
    let len = tbs.len() + algorithm.len() + bits.len();
    let mut out = Vec::new();
    Header::new(Tag::Sequence, Length::try_from(len).unwrap()).unwrap().encode_to_vec(&mut out).unwrap();
    out.extend_from_slice(tbs);
    out.extend_from_slice(algorithm);
    out.extend_from_slice(&bits);
    out
}

/// The good certificate's TBS and outer AlgorithmIdentifier.
fn parts(pki: &Pki) -> (&[u8], &[u8]) {
    let tbs = Certificate::parse(&pki.cert).unwrap().tbs();
    // The AlgorithmIdentifier follows the TBS, before the signature BIT STRING.
    let tbs_end = pki.cert.windows(tbs.len()).position(|w| w == tbs).unwrap() + tbs.len();
    let algorithm = &pki.cert[tbs_end..tbs_end + pki.cert[tbs_end + 1] as usize + 2];
    assert_eq!(signed(pki, tbs, algorithm), pki.cert, "the re-signing reproduces the good certificate");
    (tbs, algorithm)
}

/// The good TBS with `from` replaced by `to` once (same length), signed again.
fn edited(pki: &Pki, from: &[u8], to: &[u8]) -> Vec<u8> {
    let (tbs, algorithm) = parts(pki);
    let at = tbs.windows(from.len()).position(|w| w == from).expect("the bytes to edit");
    let mut tbs = tbs.to_vec();
    tbs[at..at + to.len()].copy_from_slice(to);
    signed(pki, &tbs, algorithm)
}

// The two leniencies the differential test below found in ours, each refused now.

#[test]
fn a_malformed_unique_id_does_not_hide_the_extensions() {
    let pki = Pki::new();
    // The extensions' [3] retagged as a constructed [2] (subjectUniqueID is a primitive
    // BIT STRING): der's `decode_explicit(3)` skipped it, and with it basicConstraints.
    let cert = edited(&pki, &[0xa3, 0x60, 0x30, 0x5e], &[0xa2, 0x60, 0x30, 0x5e]);
    assert_eq!(pki.verify(&cert, None), Err(CertError::Malformed));
}

#[test]
fn an_encoded_default_false_is_not_der() {
    let pki = Pki::new();
    // basicConstraints, critical TRUE -> an encoded FALSE (DER leaves defaults out).
    let cert = edited(
        &pki,
        &[0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff],
        &[0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0x00],
    );
    assert_eq!(pki.verify(&cert, None), Err(CertError::Malformed));
}

#[test]
fn every_flipped_byte_signed_again_is_judged_alike_or_refused_by_ours() {
    let pki = Pki::new();
    let (tbs, algorithm) = parts(&pki);

    let ours = |der: &[u8]| x509::verify(der, &pki.anchor, &pki.csr, &pki.device_point, None);
    let theirs = |der: &[u8]| x509_reference::verify(der, &pki.anchor, &pki.csr, &pki.device_point);
    let (mut accepted, mut refused_alike, mut refused_by_ours_only) = (0, 0, Vec::new());
    for i in 0..tbs.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut flipped = tbs.to_vec();
            flipped[i] ^= mask;
            let cert = signed(&pki, &flipped, algorithm);
            match (ours(&cert), theirs(&cert)) {
                (Ok(()), Ok(())) => accepted += 1,
                (Ok(()), Err(e)) => {
                    panic!("TBS byte {i} ^ {mask:#04x}: ours accepts, x509-cert refuses: {e}")
                }
                (Err(_), Err(_)) => refused_alike += 1,
                (Err(e), Ok(())) => refused_by_ours_only.push((i, mask, e)),
            }
        }
    }
    // Flips in the serial, the validity, an extension's value or a key identifier leave
    // a certificate both accept; flips in the key, the names, tags and lengths are
    // refused by both.
    assert!(accepted > 20 && refused_alike > 500, "{accepted} accepted, {refused_alike} refused by both");
    // Ours refuses a few that x509-cert's reading lets through (each named here);
    // a reader that refused everything would pass the checks above.
    assert!(
        refused_by_ours_only.len() * 20 < accepted + refused_alike,
        "refused by ours only: {refused_by_ours_only:?}"
    );
    std::println!("{accepted} accepted by both, {refused_alike} refused by both, {} by ours only: {refused_by_ours_only:?}", refused_by_ours_only.len());
    for (_, _, e) in &refused_by_ours_only {
        assert!(matches!(e, CertError::Malformed | CertError::Subject | CertError::Issuer), "{e:?}");
    }
}
