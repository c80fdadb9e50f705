//! PKCS#10 certification requests (RFC 2986) for the device's keys:
//! subject `O=<org>,CN=<uuid>,OU=<key label>`, the key's P-256 public key, no
//! attributes, signed with ecdsa-with-SHA256 by the same key. DER out.

use crate::der::{self, tlv_len, Writer};
use crate::keys::{DeviceIdentity, KeyId};
use crate::{Error, Result};

/// id-at-organizationName, id-at-commonName, id-at-organizationalUnitName.
const OID_O: &[u8] = &[0x55, 0x04, 0x0A];
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_OU: &[u8] = &[0x55, 0x04, 0x0B];
/// id-ecPublicKey and prime256v1.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
/// ecdsa-with-SHA256 (RFC 5758: no parameters).
const OID_ECDSA_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];

/// The longest organisation name accepted (X.520 ub-organization-name).
pub const ORG_MAX: usize = 64;
/// Room enough for any request this module builds.
pub const CSR_MAX: usize = 512;

/// Organisation names are printable ASCII, so the subject reads the same everywhere.
fn check_org(org: &str) -> Result<()> {
    if org.is_empty() || org.len() > ORG_MAX || !org.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Error::InvalidField);
    }
    Ok(())
}

fn rdn_len(oid: &[u8], value: &[u8]) -> usize {
    tlv_len(tlv_len(tlv_len(oid.len()) + tlv_len(value.len())))
}

fn write_rdn(w: &mut Writer<'_>, oid: &[u8], value: &[u8]) -> Result<()> {
    let attr = tlv_len(oid.len()) + tlv_len(value.len());
    w.header(der::SET, tlv_len(attr))?;
    w.header(der::SEQUENCE, attr)?;
    w.tlv(der::OID, oid)?;
    w.tlv(der::UTF8_STRING, value)
}

/// Bytes of the SubjectPublicKeyInfo of a P-256 key (91).
pub const SPKI_LEN: usize =
    tlv_len(tlv_len(tlv_len(OID_EC_PUBLIC_KEY.len()) + tlv_len(OID_P256.len())) + tlv_len(1 + 65));

/// Writes the SubjectPublicKeyInfo of a SEC1 uncompressed P-256 point.
pub fn write_spki(w: &mut Writer<'_>, point: &[u8; 65]) -> Result<()> {
    let alg = tlv_len(OID_EC_PUBLIC_KEY.len()) + tlv_len(OID_P256.len());
    w.header(der::SEQUENCE, tlv_len(alg) + tlv_len(1 + point.len()))?;
    w.header(der::SEQUENCE, alg)?;
    w.tlv(der::OID, OID_EC_PUBLIC_KEY)?;
    w.tlv(der::OID, OID_P256)?;
    w.header(der::BIT_STRING, 1 + point.len())?;
    w.put(&[0])?;
    w.put(point)
}

/// Writes the CertificationRequestInfo: the bytes that are signed.
fn write_request_info(
    w: &mut Writer<'_>,
    org: &[u8],
    uuid: &[u8],
    ou: &[u8],
    point: &[u8; 65],
) -> Result<()> {
    let subject = rdn_len(OID_O, org) + rdn_len(OID_CN, uuid) + rdn_len(OID_OU, ou);
    let info = tlv_len(1) + tlv_len(subject) + SPKI_LEN + tlv_len(0);
    w.header(der::SEQUENCE, info)?;
    w.tlv(der::INTEGER, &[0])?; // version 1 (0)
    w.header(der::SEQUENCE, subject)?;
    write_rdn(w, OID_O, org)?;
    write_rdn(w, OID_CN, uuid)?;
    write_rdn(w, OID_OU, ou)?;
    write_spki(w, point)?;
    w.tlv(der::CONTEXT_0, &[]) // no attributes
}

/// Builds and signs the request for key `id`; returns its length in `out`.
pub fn build(identity: &DeviceIdentity, id: KeyId, org: &str, out: &mut [u8]) -> Result<usize> {
    check_org(org)?;
    let uuid = identity.uuid().to_text();
    let mut info_buf = [0u8; CSR_MAX];
    let mut info = Writer::new(&mut info_buf);
    write_request_info(&mut info, org.as_bytes(), &uuid, id.label().as_bytes(), identity.public_key(id))?;
    let signature = identity.sign(id, info.written())?;

    let (mut r, mut s) = ([0u8; 33], [0u8; 33]);
    let r_len = der::unsigned_integer(signature[..32].try_into().map_err(|_| Error::Signature)?, &mut r);
    let s_len = der::unsigned_integer(signature[32..].try_into().map_err(|_| Error::Signature)?, &mut s);
    let ecdsa_sig = tlv_len(r_len) + tlv_len(s_len);
    let sig_alg = tlv_len(OID_ECDSA_SHA256.len());
    let body = info.len() + tlv_len(sig_alg) + tlv_len(1 + tlv_len(ecdsa_sig));

    let mut w = Writer::new(out);
    w.header(der::SEQUENCE, body)?;
    w.put(info.written())?;
    w.header(der::SEQUENCE, sig_alg)?;
    w.tlv(der::OID, OID_ECDSA_SHA256)?;
    w.header(der::BIT_STRING, 1 + tlv_len(ecdsa_sig))?;
    w.put(&[0])?;
    w.header(der::SEQUENCE, ecdsa_sig)?;
    w.tlv(der::INTEGER, &r[..r_len])?;
    w.tlv(der::INTEGER, &s[..s_len])?;
    Ok(w.len())
}
