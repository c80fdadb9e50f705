//! The checks a CSR must pass before it is signed (sans-IO: bytes in, a checked request
//! or a refusal with its reason out).
//!
//! In order: strict DER (nothing after the request); an uncompressed P-256 key; an
//! ecdsa-with-SHA256 signature that verifies over the request's own bytes with that key
//! (proof of possession); a subject of exactly O = the organisation, CN = a version-4
//! UUID in lowercase hyphenated form, OU = one device key label, each once, each in its
//! own RDN, as UTF8String or PrintableString. The bootstrap OU is refused by name.
//! Attributes (requested extensions) are ignored: the CA chooses every extension.

use der::asn1::{BitStringRef, ObjectIdentifier};
use der::{Decode, Reader, SliceReader, Tag, Tagged};
use device_identity::KeyId;
use p256::ecdsa::{DerSignature, VerifyingKey};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::name::Name;
use x509_cert::request::{CertReqInfo, Version};

use crate::error::{Error, Refusal, Result};

pub const OID_O: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
pub const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
pub const OID_OU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// What the CA requires of a subject.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The organisation: the subject's O.
    pub org: String,
    /// The OU of the fleet's bootstrap credential, never given to a device key.
    pub bootstrap_ou: String,
}

/// A request that passed every check.
#[derive(Clone, Debug)]
pub struct CheckedCsr {
    /// The subject exactly as the CSR encodes it (copied into the certificate).
    pub subject: Name,
    pub public_key: SubjectPublicKeyInfoOwned,
    /// The CN: a lowercase version-4 UUID.
    pub uuid: String,
    /// The key the OU names.
    pub key: KeyId,
}

fn refuse<T>(kind: Refusal, reason: impl Into<String>) -> Result<T> {
    Err(Error::refused(kind, reason))
}

/// Checks a DER PKCS#10 request against `policy`.
pub fn check(der: &[u8], policy: &Policy) -> Result<CheckedCsr> {
    let (info_der, algorithm, signature) = split(der)
        .or_else(|e| refuse(Refusal::BadCsr, format!("the CSR is not a DER PKCS#10 request ({e})")))?;
    let info = CertReqInfo::from_der(info_der)
        .or_else(|e| refuse(Refusal::BadCsr, format!("the CSR's request info is not valid DER ({e})")))?;
    if info.version != Version::V1 {
        return refuse(Refusal::BadCsr, "the CSR's version must be 1 (0)");
    }
    let key = p256_key(&info.public_key)?;
    verify(&key, info_der, &algorithm, signature)?;
    let (uuid, key_id) = check_subject(&info.subject, policy)?;
    Ok(CheckedCsr { subject: info.subject, public_key: info.public_key, uuid, key: key_id })
}

/// The signed bytes (the request info's TLV exactly as received), the signature
/// algorithm and the signature bits; refuses anything after the request.
fn split(der: &[u8]) -> der::Result<(&[u8], AlgorithmIdentifierOwned, BitStringRef<'_>)> {
    let mut reader = SliceReader::new(der)?;
    let parts = reader.sequence(|r| {
        let info = r.tlv_bytes()?;
        let algorithm = AlgorithmIdentifierOwned::decode(r)?;
        let signature = BitStringRef::decode(r)?;
        Ok((info, algorithm, signature))
    })?;
    reader.finish(parts)
}

fn p256_key(spki: &SubjectPublicKeyInfoOwned) -> Result<VerifyingKey> {
    let alg = &spki.algorithm;
    if alg.oid == OID_RSA {
        return refuse(Refusal::KeyType, "the CSR's key is RSA: only P-256 (prime256v1) keys are signed");
    }
    let curve = alg.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    if alg.oid != OID_EC_PUBLIC_KEY || curve != Some(OID_P256) {
        return refuse(
            Refusal::KeyType,
            format!("the CSR's key ({}) is not P-256 (prime256v1): only P-256 keys are signed", alg.oid),
        );
    }
    let point = spki.subject_public_key.as_bytes().unwrap_or_default();
    if point.len() != 65 || point[0] != 4 {
        return refuse(
            Refusal::KeyType,
            "the CSR's P-256 key must be an uncompressed point (65 bytes, 04 ...)",
        );
    }
    VerifyingKey::from_sec1_bytes(point)
        .or_else(|_| refuse(Refusal::KeyType, "the CSR's P-256 key is not a point on the curve"))
}

fn verify(
    key: &VerifyingKey,
    info: &[u8],
    algorithm: &AlgorithmIdentifierOwned,
    bits: BitStringRef<'_>,
) -> Result<()> {
    // RFC 5758: ecdsa-with-SHA256 has no parameters.
    if algorithm.oid != OID_ECDSA_SHA256 || algorithm.parameters.is_some() {
        return refuse(
            Refusal::KeyType,
            format!("the CSR's signature algorithm ({}) is not ecdsa-with-SHA256", algorithm.oid),
        );
    }
    let sig = bits.as_bytes().and_then(|b| DerSignature::from_bytes(b).ok());
    let sig = match sig {
        Some(s) => s,
        None => return refuse(Refusal::BadSignature, "the CSR's signature is not a DER ECDSA signature"),
    };
    // ring's assembly verifies (the point is p256's, checked to be on the curve).
    let point = key.to_encoded_point(false);
    let ring_key =
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, point.as_bytes());
    ring_key.verify(info, sig.as_bytes()).or_else(|_| {
        refuse(
            Refusal::BadSignature,
            "the CSR's signature does not verify with its own key (no proof of possession)",
        )
    })
}

/// The text of a UTF8String or PrintableString attribute value.
fn text(value: &der::Any) -> Option<&str> {
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString => std::str::from_utf8(value.value()).ok(),
        _ => None,
    }
}

fn check_subject(subject: &Name, policy: &Policy) -> Result<(String, KeyId)> {
    let (mut orgs, mut cns, mut ous) = (Vec::new(), Vec::new(), Vec::new());
    for rdn in subject.0.iter() {
        if rdn.0.len() != 1 {
            return refuse(Refusal::Subject, "the subject has a multi-valued RDN: one attribute per RDN");
        }
        for atv in rdn.0.iter() {
            let value = match text(&atv.value) {
                Some(v) => v,
                None => {
                    return refuse(Refusal::Subject, "subject values must be UTF8String or PrintableString")
                }
            };
            match atv.oid {
                OID_O => orgs.push(value),
                OID_CN => cns.push(value),
                OID_OU => ous.push(value),
                other => {
                    return refuse(
                        Refusal::Subject,
                        format!("the subject has {other}: only O, CN and OU are allowed"),
                    )
                }
            }
        }
    }
    // The bootstrap OU first: however else the subject is wrong, this is the reason to name.
    if ous.iter().any(|ou| *ou == policy.bootstrap_ou) {
        return refuse(
            Refusal::BootstrapOu,
            format!(
                "the CSR asks for OU \"{}\", the bootstrap credential's: a device certificate never gets it",
                policy.bootstrap_ou
            ),
        );
    }
    match orgs[..] {
        [org] if org == policy.org => {}
        [org] => {
            return refuse(Refusal::Subject, format!("the subject's O is \"{org}\", not \"{}\"", policy.org))
        }
        _ => {
            return refuse(
                Refusal::Subject,
                format!("the subject has {} O attributes: exactly one", orgs.len()),
            )
        }
    }
    let uuid = match cns[..] {
        [cn] if is_v4_uuid(cn) => cn.to_owned(),
        [cn] => {
            return refuse(
                Refusal::Subject,
                format!("the subject's CN \"{cn}\" is not a version-4 UUID in lowercase hyphenated form"),
            )
        }
        _ => {
            return refuse(
                Refusal::Subject,
                format!("the subject has {} CN attributes: exactly one", cns.len()),
            )
        }
    };
    let labels = || KeyId::ALL.map(|k| format!("\"{}\"", k.label())).join(", ");
    let key = match ous[..] {
        [] => {
            return refuse(
                Refusal::Subject,
                format!("the subject has no OU: it must name the key, one of {}", labels()),
            )
        }
        [""] => {
            return refuse(
                Refusal::Subject,
                format!("the subject's OU is empty: it must be one of {}", labels()),
            )
        }
        [ou] => match key_of_label(ou) {
            Some(k) => k,
            None => {
                return refuse(
                    Refusal::Subject,
                    format!("the subject's OU \"{ou}\" is not a device key label ({})", labels()),
                )
            }
        },
        _ => {
            return refuse(
                Refusal::Subject,
                format!("the subject has {} OU attributes: exactly one", ous.len()),
            )
        }
    };
    Ok((uuid, key))
}

/// The device key whose label (its certificates' OU) is `ou`, if any.
pub fn key_of_label(ou: &str) -> Option<KeyId> {
    KeyId::ALL.into_iter().find(|k| k.label() == ou)
}

/// `xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx`, lowercase hex, V one of 8, 9, a, b
/// (RFC 9562: version 4, variant 10xx).
pub fn is_v4_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

#[cfg(test)]
mod tests;
