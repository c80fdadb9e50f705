//! A device's COSE SIGN certificate (the one it publishes on
//! `devices/<uuid>/messages/events/type=cose-cert`), checked against the CA before its
//! key verifies anything: the CA's ES256 signature over the certificate's bytes as
//! received, the validity, the subject's CN equal to the UUID the message came from,
//! and the key's purpose (the `purpose` module: OU "Device COSE SIGN", no TLS usage).
//!
//! The certificate profile is the bootstrap CA's (docs/provisioning.md,
//! "Certificates"): issued directly by the CA, no intermediate.

use std::fmt;

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use p256::PublicKey;
use x509_cert::der::asn1::AnyRef;
use x509_cert::der::oid::db::{rfc4519, rfc5280};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Decode, DecodePem, Encode, Reader, SliceReader};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::Certificate;

use crate::{purpose, time, DeviceKey, Error, Result, COSE_SIGN_KEY_ID};

/// ecdsa-with-SHA256 (RFC 5758 3.2).
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// Why a device certificate is refused (besides its key's purpose, `Error::KeyPurpose`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertError {
    /// Not one DER certificate with nothing after it.
    NotDer,
    /// Not signed with ecdsa-with-SHA256 (the only algorithm the CA uses).
    SignatureAlgorithm,
    /// Its issuer is not the CA's subject.
    OtherIssuer,
    /// The CA's signature does not verify.
    BadSignature,
    /// Valid from `not_before` (seconds since the epoch), later than now.
    NotYetValid { not_before: u64 },
    /// Valid until `not_after`, earlier than now.
    Expired { not_after: u64 },
    /// The subject's CN is not the UUID of the topic (the CN found, if one).
    SubjectCn { found: Option<String>, topic: String },
    /// A CA certificate (basicConstraints cA), not a device's.
    IsCa,
    /// A critical extension this verifier does not know (its OID).
    UnknownCriticalExtension(String),
    /// The subject key is not a P-256 point.
    NotP256,
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::NotDer => f.write_str("not one DER X.509 certificate"),
            CertError::SignatureAlgorithm => f.write_str("not signed with ecdsa-with-SHA256"),
            CertError::OtherIssuer => f.write_str("not issued by this CA (its issuer is another name)"),
            CertError::BadSignature => {
                f.write_str("the CA's signature does not verify: not issued by this CA")
            }
            CertError::NotYetValid { not_before } => {
                write!(f, "not valid before {} UTC", time::utc(not_before.saturating_mul(1000)))
            }
            CertError::Expired { not_after } => {
                write!(f, "expired at {} UTC", time::utc(not_after.saturating_mul(1000)))
            }
            CertError::SubjectCn { found: Some(cn), topic } => {
                write!(f, "its subject CN is {cn:?}, not the topic's device {topic}")
            }
            CertError::SubjectCn { found: None, topic } => {
                write!(f, "its subject has no single CN (the topic's device is {topic})")
            }
            CertError::IsCa => f.write_str("it is a CA certificate (basicConstraints cA)"),
            CertError::UnknownCriticalExtension(oid) => write!(f, "unknown critical extension {oid}"),
            CertError::NotP256 => f.write_str("its key is not a P-256 point"),
        }
    }
}

impl std::error::Error for CertError {}

/// The CA that issues the devices' certificates: its subject and key.
#[derive(Clone, Debug)]
pub struct Ca {
    subject: Vec<u8>,
    key: VerifyingKey,
}

impl Ca {
    /// The CA's certificate (`ca.crt.pem` of `bootstrap-ca init`): a CA (basicConstraints
    /// cA) with a P-256 key.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let cert = Certificate::from_pem(pem).map_err(|_| Error::Ca("not an X.509 CERTIFICATE PEM"))?;
        let tbs = &cert.tbs_certificate;
        let is_ca = tbs
            .extensions
            .iter()
            .flatten()
            .filter(|ext| ext.extn_id == rfc5280::ID_CE_BASIC_CONSTRAINTS)
            .any(|ext| BasicConstraints::from_der(ext.extn_value.as_bytes()).is_ok_and(|bc| bc.ca));
        if !is_ca {
            return Err(Error::Ca("not a CA certificate (no basicConstraints cA)"));
        }
        let spki = tbs.subject_public_key_info.to_der().map_err(|_| Error::Ca("bad SPKI"))?;
        let key = PublicKey::from_public_key_der(&spki).map_err(|_| Error::Ca("its key is not P-256"))?;
        let subject = tbs.subject.to_der().map_err(|_| Error::Ca("bad subject"))?;
        Ok(Ca { subject, key: VerifyingKey::from(&key) })
    }
}

/// A device's COSE SIGN certificate that passed every check.
#[derive(Clone, Debug)]
pub struct CoseCert {
    /// The device UUID (the subject's CN).
    pub device: String,
    pub key: DeviceKey,
    /// The certificate as received.
    pub der: Vec<u8>,
    /// Validity, seconds since the epoch.
    pub not_before: u64,
    pub not_after: u64,
}

/// Checks `der` as the COSE SIGN certificate of device `uuid` (the topic's), at
/// `now` (seconds since the epoch).
pub fn check_cose_cert(ca: &Ca, der: &[u8], uuid: &str, now: u64) -> Result<CoseCert> {
    let cert = Certificate::from_der(der).map_err(|_| CertError::NotDer)?;
    // The signature covers the TBSCertificate's bytes as received, not a re-encoding.
    let signed = tbs_bytes(der).ok_or(CertError::NotDer)?;
    let tbs = &cert.tbs_certificate;
    for alg in [&cert.signature_algorithm, &tbs.signature] {
        if alg.oid != ECDSA_WITH_SHA256 || alg.parameters.is_some() {
            return Err(CertError::SignatureAlgorithm.into());
        }
    }
    if tbs.issuer.to_der().ok().as_deref() != Some(ca.subject.as_slice()) {
        return Err(CertError::OtherIssuer.into());
    }
    let signature = cert.signature.as_bytes().ok_or(CertError::BadSignature)?;
    let signature = DerSignature::from_bytes(signature).map_err(|_| CertError::BadSignature)?;
    ca.key.verify(signed, &signature).map_err(|_| CertError::BadSignature)?;

    let not_before = tbs.validity.not_before.to_unix_duration().as_secs();
    let not_after = tbs.validity.not_after.to_unix_duration().as_secs();
    if now < not_before {
        return Err(CertError::NotYetValid { not_before }.into());
    }
    if now > not_after {
        return Err(CertError::Expired { not_after }.into());
    }

    // The subject's CN if it has exactly one, as text.
    let cn = purpose::single_attribute(&tbs.subject, rfc4519::CN).and_then(purpose::directory_string);
    let cn = cn.map(String::from);
    if cn.as_deref() != Some(uuid) {
        return Err(CertError::SubjectCn { found: cn, topic: uuid.into() }.into());
    }
    for ext in tbs.extensions.iter().flatten() {
        if ext.extn_id == rfc5280::ID_CE_BASIC_CONSTRAINTS {
            let bc = BasicConstraints::from_der(ext.extn_value.as_bytes()).map_err(|_| CertError::NotDer)?;
            if bc.ca {
                return Err(CertError::IsCa.into());
            }
        } else if ext.critical
            && ext.extn_id != rfc5280::ID_CE_KEY_USAGE
            && ext.extn_id != rfc5280::ID_CE_EXT_KEY_USAGE
        {
            return Err(CertError::UnknownCriticalExtension(ext.extn_id.to_string()).into());
        }
    }
    purpose::check_certificate(&cert)?;
    let spki = tbs.subject_public_key_info.to_der().map_err(|_| CertError::NotDer)?;
    let key = PublicKey::from_public_key_der(&spki).map_err(|_| CertError::NotP256)?;
    Ok(CoseCert {
        device: uuid.into(),
        key: DeviceKey::registered(key, COSE_SIGN_KEY_ID)?,
        der: der.to_vec(),
        not_before,
        not_after,
    })
}

/// The TBSCertificate's TLV inside a certificate's outer SEQUENCE.
fn tbs_bytes(der: &[u8]) -> Option<&[u8]> {
    let outer = AnyRef::from_der(der).ok()?;
    SliceReader::new(outer.value()).ok()?.tlv_bytes().ok()
}

#[cfg(test)]
mod tests;
