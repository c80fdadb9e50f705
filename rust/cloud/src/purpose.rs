//! Which of the device's keys a verifier was given. A P-256 public key does not say
//! what it is for, and the device's keys differ in what the non-secure world can have
//! them sign (docs/secure-api.md): `TLS_SIGN` signs any digest with the Client TLS key
//! 0x5001, so a COSE_Sign1 "signed" by it proves nothing; only the COSE SIGN key 0x5002
//! signs nothing but the results the inference partition encoded. So the verifier takes
//! a key only with its purpose stated, and refuses every purpose but 0x5002's:
//!
//! - a certificate states it by its subject's OU (the key's label, as in the device's
//!   CSRs: `O=<org>,CN=<uuid>,OU=<key label>`) and must not allow TLS by its extended
//!   key usage, nor leave out digitalSignature from its key usage;
//! - a raw key (SEC1 or SPKI PEM) states it by the id it is registered under: the
//!   caller's `key_id` (`cloud verify --key-id 5002`) or the `Key ID: 0x5002` line that
//!   `keys public 5002` prints before the PEM.
//!
//! These statements are the caller's, as the key itself is: whoever registers the key
//! vouches that it is 0x5002 (the certificate's issuer is not checked here either). What
//! the verifier adds is that a key stated, or certified, as anything else is refused.

use device_identity::KeyId;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::der::oid::db::{rfc4519, rfc5280};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Decode, Tag, Tagged};
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::Certificate;

use crate::{Error, Result};

/// The key that signs results: COSE SIGN.
pub const COSE_SIGN_KEY_ID: u32 = KeyId::CoseSign as u32;

const CLIENT_TLS: &str = "it is the Client TLS key 0x5001 (OU \"Device Client TLS\"), which the \
    non-secure world can have sign any digest (TLS_SIGN): a result signed with it proves nothing; \
    results are signed with the COSE SIGN key 0x5002";
const COSE_ENCRYPT: &str = "it is the COSE ENCRYPT key 0x5003 (OU \"Device COSE ENCRYPT\"), which \
    signs no results; results are signed with the COSE SIGN key 0x5002";

/// Accepts the id 0x5002 only; says what any other id is.
pub fn check_key_id(id: u32) -> Result<()> {
    match KeyId::from_u32(id) {
        Ok(KeyId::CoseSign) => Ok(()),
        Ok(KeyId::ClientTls) => Err(Error::KeyPurpose(CLIENT_TLS)),
        Ok(KeyId::CoseEncrypt) => Err(Error::KeyPurpose(COSE_ENCRYPT)),
        Err(_) => Err(Error::KeyPurpose(
            "--key-id names none of the device's keys (5001, 5002, 5003); results are signed with 5002",
        )),
    }
}

/// A raw key's purpose: every id stated (the caller's and the file's) must be 0x5002,
/// and at least one must be stated.
pub fn check_stated_ids(ids: impl IntoIterator<Item = u32>) -> Result<()> {
    let mut stated = false;
    for id in ids {
        check_key_id(id)?;
        stated = true;
    }
    if !stated {
        return Err(Error::KeyPurpose(
            "a raw public key does not say which device key it is: state the id it is registered \
             under (--key-id 5002, or the \"Key ID: 0x5002\" line of `keys public 5002`), or give \
             its certificate",
        ));
    }
    Ok(())
}

/// The ids that `Key ID: 0x....` lines state in a PEM file's text before the key.
pub fn key_id_lines(preamble: &str) -> Result<Vec<u32>> {
    preamble
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Key ID:"))
        .map(|id| parse_key_id(id).ok_or(Error::Key("a \"Key ID:\" line without a hex key id")))
        .collect()
}

/// A key id in hex, with or without `0x` (`5002`, `0x5002`), as the device's shell
/// takes and prints them.
pub fn parse_key_id(text: &str) -> Option<u32> {
    let text = text.trim();
    u32::from_str_radix(text.strip_prefix("0x").unwrap_or(text), 16).ok()
}

/// A certificate's purpose: one OU, the label of 0x5002; no extended key usage that
/// allows TLS; digitalSignature if it has a key usage.
pub fn check_certificate(cert: &Certificate) -> Result<()> {
    let tbs = &cert.tbs_certificate;
    let Some(unit) = single_attribute(&tbs.subject, rfc4519::OU) else {
        return Err(Error::KeyPurpose(
            "the certificate's subject must have one OU, the key's label (\"Device COSE SIGN\" for 0x5002)",
        ));
    };
    let label = directory_string(unit)
        .ok_or(Error::Key("the certificate's OU is not a UTF8String or PrintableString"))?;
    match KeyId::ALL.into_iter().find(|id| id.label() == label) {
        Some(id) => check_key_id(id as u32)?,
        None => {
            return Err(Error::KeyPurpose(
                "the certificate's OU names none of the device's keys (\"Device COSE SIGN\" for 0x5002)",
            ))
        }
    }
    for ext in tbs.extensions.iter().flatten() {
        let value = ext.extn_value.as_bytes();
        if ext.extn_id == rfc5280::ID_CE_EXT_KEY_USAGE {
            let usage = ExtendedKeyUsage::from_der(value)
                .map_err(|_| Error::Key("the certificate's extended key usage is unreadable"))?;
            let tls =
                [rfc5280::ID_KP_SERVER_AUTH, rfc5280::ID_KP_CLIENT_AUTH, rfc5280::ANY_EXTENDED_KEY_USAGE];
            if usage.0.iter().any(|oid| tls.contains(oid)) {
                return Err(Error::KeyPurpose(
                    "the certificate's extended key usage allows TLS (serverAuth, clientAuth or any): \
                     a key the non-secure world signs TLS handshakes with (TLS_SIGN) signs any digest",
                ));
            }
        } else if ext.extn_id == rfc5280::ID_CE_KEY_USAGE {
            let usage = KeyUsage::from_der(value)
                .map_err(|_| Error::Key("the certificate's key usage is unreadable"))?;
            if !usage.0.contains(KeyUsages::DigitalSignature) {
                return Err(Error::KeyPurpose("the certificate's key usage leaves out digitalSignature"));
            }
        }
    }
    Ok(())
}

/// The attribute `oid` of `name`, if `name` has exactly one.
pub(crate) fn single_attribute(name: &Name, oid: ObjectIdentifier) -> Option<&AttributeTypeAndValue> {
    let mut found = name.0.iter().flat_map(|rdn| rdn.0.iter()).filter(|atv| atv.oid == oid);
    match (found.next(), found.next()) {
        (Some(atv), None) => Some(atv),
        _ => None,
    }
}

/// A DirectoryString's text: UTF8String as the device's CSRs write it, or PrintableString.
pub(crate) fn directory_string(atv: &AttributeTypeAndValue) -> Option<&str> {
    match atv.value.tag() {
        Tag::Utf8String | Tag::PrintableString => core::str::from_utf8(atv.value.value()).ok(),
        _ => None,
    }
}
