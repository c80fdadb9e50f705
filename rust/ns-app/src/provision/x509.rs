//! The certificate the bootstrap CA issues, checked before it is stored: DER parsed
//! with `der`'s borrowed types (no heap; `x509-cert` would need `alloc`, which this
//! crate does not link), the signature verified with `p256`.
//!
//! What is checked (RFC 5280 where it applies to a one-level chain whose anchor the
//! device holds):
//! - the certificate and its TBS are DER, X.509 v3, signed with ECDSA with SHA-256
//!   (the algorithm identical inside and outside the TBS);
//! - its issuer is the CA certificate's subject and the CA's P-256 key verifies the
//!   signature over the TBS;
//! - its key is the device key it was requested for (P-256, the same point);
//! - its subject is the CSR's (the same attributes, values and order);
//! - it is not a CA certificate (basicConstraints cA) and has no critical extension
//!   the device does not know;
//! - its validity, only where the home has a clock it trusts ([`verify`]'s `now`):
//!   the emulation passes the host's time; a board without a set clock passes
//!   `None` and validity is not checked.
//!
//! The CA certificate itself is the trust anchor: its own signature, validity and
//! extensions are not checked (RFC 5280 section 6.1.1 (d) takes an anchor as given).

use der::asn1::{
    AnyRef, BitStringRef, ContextSpecific, GeneralizedTime, ObjectIdentifier, OctetStringRef, UintRef,
    UtcTime,
};
use der::{Decode, Header, Reader, SliceReader, Tag, TagNumber, Tagged};

pub(super) const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub(super) const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub(super) const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub(super) const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
/// Critical extensions the device understands: basicConstraints (checked), keyUsage,
/// extKeyUsage and subjectAltName (what they allow is the verifier's concern).
pub(super) const KNOWN_CRITICAL: [ObjectIdentifier; 4] = [
    BASIC_CONSTRAINTS,
    ObjectIdentifier::new_unwrap("2.5.29.15"),
    ObjectIdentifier::new_unwrap("2.5.29.37"),
    ObjectIdentifier::new_unwrap("2.5.29.17"),
];
/// The most relative distinguished names a compared name may have (ours have three).
const NAME_MAX: usize = 8;

/// Why an issued certificate is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertError {
    /// Not a DER X.509 certificate.
    Malformed,
    /// The CA certificate the device was given is not a DER certificate with a P-256
    /// key.
    Anchor,
    /// The request the certificate answers could not be read (a secure-world fault).
    Csr,
    /// Not X.509 version 3.
    Version,
    /// Not signed with ECDSA with SHA-256, or the two algorithm fields differ.
    Algorithm,
    /// Its issuer is not the CA certificate's subject.
    Issuer,
    /// The CA's signature does not verify.
    Signature,
    /// Its key is not the device key it was requested for.
    Key,
    /// Its subject is not the request's.
    Subject,
    /// Not valid yet at the home's time.
    NotYetValid,
    /// Expired at the home's time.
    Expired,
    /// A CA certificate (basicConstraints cA): a device key must not sign certificates.
    CaCertificate,
    /// A critical extension the device does not know (RFC 5280 section 4.2).
    UnknownCriticalExtension,
}

impl core::fmt::Display for CertError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CertError::Malformed => "not a DER X.509 certificate",
            CertError::Anchor => {
                "the CA certificate given to the device is not a DER certificate with a P-256 key"
            }
            CertError::Csr => "the request from the secure world could not be read",
            CertError::Version => "not an X.509 v3 certificate",
            CertError::Algorithm => "not signed with ECDSA with SHA-256",
            CertError::Issuer => "its issuer is not the CA certificate's subject",
            CertError::Signature => "the CA's signature does not verify",
            CertError::Key => "its public key is not the device key it was requested for",
            CertError::Subject => "its subject is not the request's",
            CertError::NotYetValid => "not valid yet (notBefore is after the device's time)",
            CertError::Expired => "expired (notAfter is before the device's time)",
            CertError::CaCertificate => "a CA certificate (basicConstraints cA is true)",
            CertError::UnknownCriticalExtension => "a critical extension the device does not know",
        })
    }
}

impl core::error::Error for CertError {}

/// The parts of a certificate the checks read, borrowed from its DER.
#[derive(Clone, Copy, Debug)]
pub struct Certificate<'a> {
    /// The whole TBSCertificate TLV: what the signature covers.
    tbs: &'a [u8],
    /// The Ecdsa-Sig-Value DER inside the signature BIT STRING.
    signature: &'a [u8],
    signed_with_sha256: bool,
    version: u8,
    /// Name TLVs.
    issuer: &'a [u8],
    subject: &'a [u8],
    /// Unix seconds.
    not_before: u64,
    not_after: u64,
    /// The SEC1 point when the key is id-ecPublicKey on prime256v1.
    p256_key: Option<&'a [u8]>,
    is_ca: bool,
    unknown_critical: bool,
}

fn algorithm<'a, R: Reader<'a>>(r: &mut R) -> der::Result<(ObjectIdentifier, Option<AnyRef<'a>>)> {
    r.sequence(|r| {
        let oid = ObjectIdentifier::decode(r)?;
        let params = if r.is_finished() { None } else { Some(AnyRef::decode(r)?) };
        Ok((oid, params))
    })
}

fn time<'a, R: Reader<'a>>(r: &mut R) -> der::Result<u64> {
    Ok(match r.peek_tag()? {
        Tag::UtcTime => UtcTime::decode(r)?.to_unix_duration().as_secs(),
        Tag::GeneralizedTime => GeneralizedTime::decode(r)?.to_unix_duration().as_secs(),
        other => return Err(other.unexpected_error(Some(Tag::UtcTime))),
    })
}

/// A Name TLV, checked to be a SEQUENCE.
fn name<'a, R: Reader<'a>>(r: &mut R) -> der::Result<&'a [u8]> {
    r.peek_tag()?.assert_eq(Tag::Sequence)?;
    r.tlv_bytes()
}

/// A BOOLEAN DEFAULT FALSE that is present: DER leaves a default value out (X.690
/// section 11.5), so only TRUE may be encoded.
fn explicit_true<'a, R: Reader<'a>>(r: &mut R) -> der::Result<bool> {
    match bool::decode(r)? {
        true => Ok(true),
        false => Err(Tag::Boolean.value_error()),
    }
}

/// (cA, unknown critical extension) from the `[3]` extensions' SEQUENCE OF Extension.
fn extensions(list: AnyRef<'_>) -> der::Result<(bool, bool)> {
    list.tag().assert_eq(Tag::Sequence)?;
    let (mut is_ca, mut unknown) = (false, false);
    let mut r = SliceReader::new(list.value())?;
    while !r.is_finished() {
        r.sequence(|x| {
            let oid = ObjectIdentifier::decode(x)?;
            let critical = if x.peek_tag()? == Tag::Boolean { explicit_true(x)? } else { false };
            let value = OctetStringRef::decode(x)?;
            if oid == BASIC_CONSTRAINTS {
                is_ca = SliceReader::new(value.as_bytes())?.sequence(|b| {
                    let ca = if !b.is_finished() && b.peek_tag()? == Tag::Boolean {
                        explicit_true(b)?
                    } else {
                        false
                    };
                    if !b.is_finished() {
                        UintRef::decode(b)?;
                    }
                    Ok(ca)
                })?;
            }
            unknown |= critical && !KNOWN_CRITICAL.contains(&oid);
            Ok(())
        })?;
    }
    Ok((is_ca, unknown))
}

impl<'a> Certificate<'a> {
    /// Parses a DER certificate: nothing may follow it.
    pub fn parse(der: &'a [u8]) -> der::Result<Self> {
        let mut reader = SliceReader::new(der)?;
        let (tbs, outer, signature) = reader.sequence(|r| {
            let tbs = r.tlv_bytes()?;
            let outer = algorithm(r)?;
            let signature = BitStringRef::decode(r)?;
            Ok((tbs, outer, signature))
        })?;
        let signature = reader.finish(signature)?;
        let mut reader = SliceReader::new(tbs)?;
        let mut cert = reader.sequence(|t| {
            let version = match ContextSpecific::<u8>::decode_explicit(t, TagNumber::N0)? {
                Some(v) => v.value,
                None => 0,
            };
            UintRef::decode(t)?;
            let inner = algorithm(t)?;
            let issuer = name(t)?;
            let (not_before, not_after) = t.sequence(|v| Ok((time(v)?, time(v)?)))?;
            let subject = name(t)?;
            let p256_key = t.sequence(|s| {
                let (oid, params) = algorithm(s)?;
                let key = BitStringRef::decode(s)?;
                let curve = params.and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
                Ok((oid == EC_PUBLIC_KEY && curve == Some(PRIME256V1)).then(|| key.as_bytes()).flatten())
            })?;
            // issuerUniqueID [1] and subjectUniqueID [2]: IMPLICIT BIT STRINGs, read and
            // left. Each optional field is taken only under its own exact tag: der's
            // `decode_explicit` would skip any lower context-specific field, so that a
            // malformed one (a constructed [2], say) would hide the extensions behind it.
            for number in [TagNumber::N1, TagNumber::N2] {
                if t.peek_tag().ok() == Some(Tag::ContextSpecific { constructed: false, number }) {
                    ContextSpecific::<BitStringRef<'a>>::decode_implicit(t, number)?;
                }
            }
            let extensions_tag = Tag::ContextSpecific { constructed: true, number: TagNumber::N3 };
            let (is_ca, unknown_critical) = if t.peek_tag().ok() == Some(extensions_tag) {
                match ContextSpecific::<AnyRef<'a>>::decode_explicit(t, TagNumber::N3)? {
                    Some(list) => extensions(list.value)?,
                    None => (false, false),
                }
            } else {
                (false, false)
            };
            let plain_sha256 = |(oid, params): (ObjectIdentifier, Option<AnyRef<'_>>)| {
                oid == ECDSA_WITH_SHA256 && params.is_none()
            };
            Ok(Certificate {
                tbs,
                signature: &[],
                signed_with_sha256: plain_sha256(inner) && plain_sha256(outer),
                version,
                issuer,
                subject,
                not_before,
                not_after,
                p256_key,
                is_ca,
                unknown_critical,
            })
        })?;
        reader.finish(())?;
        cert.signature = signature.as_bytes().ok_or(Tag::BitString.value_error())?;
        Ok(cert)
    }

    /// The subject Name's DER.
    pub fn subject(&self) -> &'a [u8] {
        self.subject
    }

    /// The SEC1 point of its key, if it is a P-256 key.
    pub fn p256_key(&self) -> Option<&'a [u8]> {
        self.p256_key
    }

    /// The issuer Name's DER.
    pub fn issuer(&self) -> &'a [u8] {
        self.issuer
    }

    /// The version field as encoded: 2 for X.509 v3.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The TBSCertificate TLV: the bytes the CA signed.
    pub fn tbs(&self) -> &'a [u8] {
        self.tbs
    }
}

/// The subject Name DER of a PKCS#10 request (RFC 2986: CertificationRequest {
/// CertificationRequestInfo { version, subject, ... }, ... }).
pub fn csr_subject(csr: &[u8]) -> der::Result<&[u8]> {
    let mut reader = SliceReader::new(csr)?;
    let subject = reader.sequence(|r| {
        let subject = r.sequence(|info| {
            UintRef::decode(info)?;
            let subject = name(info)?;
            while !info.is_finished() {
                info.tlv_bytes()?;
            }
            Ok(subject)
        })?;
        while !r.is_finished() {
            r.tlv_bytes()?;
        }
        Ok(subject)
    })?;
    reader.finish(subject)
}

/// The (type, value) pairs of a Name, one per RDN; a multi-valued RDN is refused.
/// Values keep their bytes; their string type (UTF8String, PrintableString, ...) is
/// not compared, as RFC 5280 section 7.1 lets a CA re-encode a name.
fn attributes<'a>(der: &'a [u8], out: &mut [(ObjectIdentifier, &'a [u8]); NAME_MAX]) -> der::Result<usize> {
    let mut reader = SliceReader::new(der)?;
    let n = reader.sequence(|r| {
        let mut n = 0;
        while !r.is_finished() {
            let slot = out.get_mut(n).ok_or(der::ErrorKind::Overlength)?;
            let header = Header::decode(r)?;
            header.tag.assert_eq(Tag::Set)?;
            *slot = r.read_nested(header.length, |set| {
                set.sequence(|atv| {
                    let oid = ObjectIdentifier::decode(atv)?;
                    let value = AnyRef::decode(atv)?;
                    match value.tag() {
                        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String => Ok((oid, value.value())),
                        other => Err(other.unexpected_error(Some(Tag::Utf8String))),
                    }
                })
            })?;
            n += 1;
        }
        Ok(n)
    })?;
    reader.finish(n)
}

/// Whether two Name DERs name the same thing (same attributes, values and order).
fn same_name(a: &[u8], b: &[u8]) -> der::Result<bool> {
    let empty = (PRIME256V1, &[][..]);
    let (mut x, mut y) = ([empty; NAME_MAX], [empty; NAME_MAX]);
    let (n, m) = (attributes(a, &mut x)?, attributes(b, &mut y)?);
    Ok(n == m && x[..n] == y[..m])
}

/// Checks an issued certificate (see the module's list): `anchor` is the CA
/// certificate the device holds, `csr` the request it answers, `device_key` the SEC1
/// point of `keys public <id>`, `now` the home's Unix time if it has a clock.
pub fn verify(
    cert: &[u8],
    anchor: &[u8],
    csr: &[u8],
    device_key: &[u8],
    now: Option<u64>,
) -> Result<(), CertError> {
    let anchor = Certificate::parse(anchor).map_err(|_| CertError::Anchor)?;
    let anchor_key = anchor
        .p256_key
        .and_then(|point| p256::ecdsa::VerifyingKey::from_sec1_bytes(point).ok())
        .ok_or(CertError::Anchor)?;
    let csr_subject = csr_subject(csr).map_err(|_| CertError::Csr)?;
    let cert = Certificate::parse(cert).map_err(|_| CertError::Malformed)?;
    if cert.version != 2 {
        return Err(CertError::Version);
    }
    if !cert.signed_with_sha256 {
        return Err(CertError::Algorithm);
    }
    if !same_name(cert.issuer, anchor.subject).map_err(|_| CertError::Malformed)? {
        return Err(CertError::Issuer);
    }
    let signature = p256::ecdsa::Signature::from_der(cert.signature).map_err(|_| CertError::Signature)?;
    use p256::ecdsa::signature::Verifier;
    anchor_key.verify(cert.tbs, &signature).map_err(|_| CertError::Signature)?;
    if cert.p256_key != Some(device_key) {
        return Err(CertError::Key);
    }
    if !same_name(cert.subject, csr_subject).map_err(|_| CertError::Malformed)? {
        return Err(CertError::Subject);
    }
    if cert.is_ca {
        return Err(CertError::CaCertificate);
    }
    if cert.unknown_critical {
        return Err(CertError::UnknownCriticalExtension);
    }
    match now {
        Some(t) if t < cert.not_before => Err(CertError::NotYetValid),
        Some(t) if t > cert.not_after => Err(CertError::Expired),
        _ => Ok(()),
    }
}
