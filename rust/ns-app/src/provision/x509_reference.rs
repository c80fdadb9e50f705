//! The checks of [`super::x509::verify`] made with x509-cert's owned types (feature
//! `x509-reference`, which needs `alloc`): the independent reader that the
//! differential test compares ours with, and the candidate whose cost on the
//! non-secure image `cargo xtask bench cert_der cert_x509` measures. The device itself
//! uses `x509.rs`: x509-cert would add about 25 kB of flash and a heap to a 112 kB
//! image (docs/benchmarks.md, "The issued certificate's check").

extern crate alloc;

use super::x509::{
    CertError, BASIC_CONSTRAINTS, ECDSA_WITH_SHA256, EC_PUBLIC_KEY, KNOWN_CRITICAL, PRIME256V1,
};
use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use p256::ecdsa::signature::Verifier;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::request::CertReq;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

fn p256_point(cert: &Certificate) -> Option<&[u8]> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    (spki.algorithm.oid == EC_PUBLIC_KEY && curve == Some(PRIME256V1))
        .then(|| spki.subject_public_key.as_bytes())
        .flatten()
}

fn plain_sha256(alg: &AlgorithmIdentifierOwned) -> bool {
    alg.oid == ECDSA_WITH_SHA256 && alg.parameters.is_none()
}

/// [`super::x509::verify`] without a clock (`now` = None), with x509-cert.
pub fn verify(cert: &[u8], anchor: &[u8], csr: &[u8], device_key: &[u8]) -> Result<(), CertError> {
    let anchor = Certificate::from_der(anchor).map_err(|_| CertError::Anchor)?;
    let anchor_key = p256_point(&anchor)
        .and_then(|point| p256::ecdsa::VerifyingKey::from_sec1_bytes(point).ok())
        .ok_or(CertError::Anchor)?;
    let csr = CertReq::from_der(csr).map_err(|_| CertError::Csr)?;
    let cert = Certificate::from_der(cert).map_err(|_| CertError::Malformed)?;
    let tbs = &cert.tbs_certificate;
    if tbs.version != x509_cert::Version::V3 {
        return Err(CertError::Version);
    }
    if !plain_sha256(&tbs.signature) || !plain_sha256(&cert.signature_algorithm) {
        return Err(CertError::Algorithm);
    }
    if tbs.issuer != anchor.tbs_certificate.subject {
        return Err(CertError::Issuer);
    }
    // x509-cert keeps no bytes: the signed TBS is encoded again (DER, so the same bytes).
    let signed = tbs.to_der().map_err(|_| CertError::Malformed)?;
    let signature = cert.signature.as_bytes().ok_or(CertError::Signature)?;
    let signature = p256::ecdsa::Signature::from_der(signature).map_err(|_| CertError::Signature)?;
    anchor_key.verify(&signed, &signature).map_err(|_| CertError::Signature)?;
    if p256_point(&cert) != Some(device_key) {
        return Err(CertError::Key);
    }
    if tbs.subject != csr.info.subject {
        return Err(CertError::Subject);
    }
    for extension in tbs.extensions.iter().flatten() {
        if extension.extn_id == BASIC_CONSTRAINTS {
            let constraints = BasicConstraints::from_der(extension.extn_value.as_bytes())
                .map_err(|_| CertError::Malformed)?;
            if constraints.ca {
                return Err(CertError::CaCertificate);
            }
        }
        if extension.critical && !KNOWN_CRITICAL.contains(&extension.extn_id) {
            return Err(CertError::UnknownCriticalExtension);
        }
    }
    Ok(())
}
