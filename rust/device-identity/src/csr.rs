//! PKCS#10 certification requests (RFC 2986) for the device's keys:
//! subject `O=<org>,CN=<uuid>,OU=<key label>`, the key's P-256 public key, no
//! attributes, signed with ecdsa-with-SHA256 by the same key. DER out, written by
//! RustCrypto's `der` (derived encoders, no heap).

use der::asn1::{BitStringRef, ObjectIdentifier, UintRef, Utf8StringRef};
use der::{
    DecodeValue, Encode, EncodeValue, ErrorKind, FixedTag, Header, Length, Reader, Sequence, Tag, TagNumber,
    Writer,
};

use crate::keys::{DeviceIdentity, KeyId};
use crate::{Error, Result};

/// id-at-organizationName, id-at-commonName, id-at-organizationalUnitName.
const OID_O: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_OU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
/// id-ecPublicKey and prime256v1.
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// ecdsa-with-SHA256 (RFC 5758: no parameters).
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// The longest organisation name accepted (X.520 ub-organization-name).
pub const ORG_MAX: usize = 64;
/// Room enough for any request this module builds.
pub const CSR_MAX: usize = 512;
/// Bytes of an ECDSA-Sig-Value with two 32-byte integers: 2 + 2 × (2 + 33).
const ECDSA_SIG_MAX: usize = 72;

/// Organisation names are printable ASCII, so the subject reads the same everywhere.
fn check_org(org: &str) -> Result<()> {
    if org.is_empty() || org.len() > ORG_MAX || !org.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Error::InvalidField);
    }
    Ok(())
}

/// A short output buffer is the caller's to fix; any other refusal means a field.
fn der_error(e: der::Error) -> Error {
    match e.kind() {
        ErrorKind::Overlength | ErrorKind::Overflow => Error::BufferTooSmall,
        _ => Error::InvalidField,
    }
}

/// AttributeTypeAndValue (RFC 5280) with a UTF8String value.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Sequence)]
struct AttributeTypeAndValue<'a> {
    oid: ObjectIdentifier,
    value: Utf8StringRef<'a>,
}

/// A RelativeDistinguishedName of one attribute: a SET OF with one element needs no
/// sorting, so it is written as its element inside a SET header.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
struct Rdn<'a>(AttributeTypeAndValue<'a>);

impl FixedTag for Rdn<'_> {
    const TAG: Tag = Tag::Set;
}

impl EncodeValue for Rdn<'_> {
    fn value_len(&self) -> der::Result<Length> {
        self.0.encoded_len()
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        self.0.encode(writer)
    }
}

impl<'a> DecodeValue<'a> for Rdn<'a> {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        reader.read_nested(header.length, |r| r.decode().map(Rdn))
    }
}

/// The subject `O, CN, OU`: a SEQUENCE OF three RDNs, in that order.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Sequence)]
struct Name<'a> {
    organization: Rdn<'a>,
    common_name: Rdn<'a>,
    organizational_unit: Rdn<'a>,
}

/// AlgorithmIdentifier of an EC public key with its named curve.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Sequence)]
struct EcAlgorithm {
    algorithm: ObjectIdentifier,
    curve: ObjectIdentifier,
}

/// AlgorithmIdentifier without parameters (ecdsa-with-SHA256).
#[derive(Clone, Copy, Debug, Eq, PartialEq, Sequence)]
struct SignatureAlgorithm {
    algorithm: ObjectIdentifier,
}

/// SubjectPublicKeyInfo of a SEC1 uncompressed P-256 point.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Sequence)]
struct SubjectPublicKeyInfo<'a> {
    algorithm: EcAlgorithm,
    subject_public_key: BitStringRef<'a>,
}

/// The request's attributes, `[0] IMPLICIT SET OF Attribute`: always empty here.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
struct NoAttributes;

impl FixedTag for NoAttributes {
    const TAG: Tag = Tag::ContextSpecific { constructed: true, number: TagNumber::N0 };
}

impl EncodeValue for NoAttributes {
    fn value_len(&self) -> der::Result<Length> {
        Ok(Length::ZERO)
    }

    fn encode_value(&self, _: &mut impl Writer) -> der::Result<()> {
        Ok(())
    }
}

impl<'a> DecodeValue<'a> for NoAttributes {
    fn decode_value<R: Reader<'a>>(_: &mut R, header: Header) -> der::Result<Self> {
        match header.length.is_zero() {
            true => Ok(NoAttributes),
            false => Err(Tag::ContextSpecific { constructed: true, number: TagNumber::N0 }.length_error()),
        }
    }
}

/// CertificationRequestInfo: the bytes that are signed.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Sequence)]
struct CertificationRequestInfo<'a> {
    version: u8,
    subject: Name<'a>,
    subject_pk_info: SubjectPublicKeyInfo<'a>,
    attributes: NoAttributes,
}

/// ECDSA-Sig-Value (RFC 5480): r and s as unsigned INTEGERs.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// A value already encoded as DER, written as it is (the signed request info, so it is
/// neither encoded twice nor kept on the stack as a structure while the request is
/// written).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
struct Encoded<'a>(&'a [u8]);

impl Encode for Encoded<'_> {
    fn encoded_len(&self) -> der::Result<Length> {
        Length::try_from(self.0.len())
    }

    fn encode(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(self.0)
    }
}

impl<'a> der::Decode<'a> for Encoded<'a> {
    fn decode<R: Reader<'a>>(reader: &mut R) -> der::Result<Self> {
        reader.tlv_bytes().map(Encoded)
    }
}

/// CertificationRequest, with the request info already encoded and signed.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Sequence)]
struct CertificationRequest<'a> {
    info: Encoded<'a>,
    signature_algorithm: SignatureAlgorithm,
    signature: BitStringRef<'a>,
}

fn rdn(oid: ObjectIdentifier, value: &str) -> Result<Rdn<'_>> {
    Ok(Rdn(AttributeTypeAndValue { oid, value: Utf8StringRef::new(value).map_err(der_error)? }))
}

/// Builds and signs the request for key `id`; returns its length in `out`.
pub fn build(identity: &DeviceIdentity, id: KeyId, org: &str, out: &mut [u8]) -> Result<usize> {
    check_org(org)?;
    let uuid = identity.uuid().to_text();
    let uuid = core::str::from_utf8(&uuid).map_err(|_| Error::InvalidField)?;
    let info = CertificationRequestInfo {
        version: 0, // version 1
        subject: Name {
            organization: rdn(OID_O, org)?,
            common_name: rdn(OID_CN, uuid)?,
            organizational_unit: rdn(OID_OU, id.label())?,
        },
        subject_pk_info: SubjectPublicKeyInfo {
            algorithm: EcAlgorithm { algorithm: OID_EC_PUBLIC_KEY, curve: OID_P256 },
            subject_public_key: BitStringRef::from_bytes(identity.public_key(id)).map_err(der_error)?,
        },
        attributes: NoAttributes,
    };
    let mut info_buf = [0u8; CSR_MAX];
    let info = info.encode_to_slice(&mut info_buf).map_err(der_error)?;
    let signature = identity.sign(id, info)?;

    let (r, s) = signature.split_at(32);
    let sig_value = EcdsaSigValue {
        r: UintRef::new(r).map_err(|_| Error::Signature)?,
        s: UintRef::new(s).map_err(|_| Error::Signature)?,
    };
    let mut sig_buf = [0u8; ECDSA_SIG_MAX];
    let request = CertificationRequest {
        info: Encoded(info),
        signature_algorithm: SignatureAlgorithm { algorithm: OID_ECDSA_SHA256 },
        signature: BitStringRef::from_bytes(sig_value.encode_to_slice(&mut sig_buf).map_err(der_error)?)
            .map_err(der_error)?,
    };
    Ok(request.encode_to_slice(out).map_err(der_error)?.len())
}
