//! The certificate revocation list (RFC 5280 section 5): every revoked certificate in the
//! database, signed by the CA, for a TLS server that checks client certificates against
//! it (mosquitto's `crlfile`, docs/mqtt.md). Built from x509-cert's CRL types and signed
//! by [`Ca::sign`]: x509-cert 0.2 has no CRL builder.

use std::time::Duration;

use der::asn1::{BitString, GeneralizedTime, OctetString, Uint, UtcTime};
use der::oid::AssociatedOid;
use der::pem::LineEnding;
use der::Encode;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlNumber, CrlReason};
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;
use x509_cert::Version;

use crate::cert::Ca;
use crate::error::{Error, Result};

/// The PEM label of a CRL (RFC 7468 section 5).
pub const PEM_LABEL: &str = "X509 CRL";

/// The first second of 2050: from it on, RFC 5280 times are GeneralizedTime.
const Y2050: u64 = 2_524_608_000;

/// One revoked certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revoked {
    pub serial: u128,
    /// When it was revoked, Unix seconds.
    pub at: u64,
    /// Revoked because a newer certificate for the same key label replaced it (reason
    /// code superseded); otherwise the reason code is left out (unspecified).
    pub superseded: bool,
}

/// RFC 5280 5.1.2.4-6: UTCTime through 2049, GeneralizedTime from 2050.
fn time(unix: u64) -> Result<Time> {
    let at = Duration::from_secs(unix);
    Ok(if unix < Y2050 {
        Time::UtcTime(UtcTime::from_unix_duration(at)?)
    } else {
        Time::GeneralTime(GeneralizedTime::from_unix_duration(at)?)
    })
}

fn extension<T: AssociatedOid + Encode>(value: &T) -> Result<Extension> {
    Ok(Extension { extn_id: T::OID, critical: false, extn_value: OctetString::new(value.to_der()?)? })
}

/// A v2 CRL of `revoked` (in the order given), DER: issuer the CA's subject, thisUpdate
/// `now`, nextUpdate `now + valid_secs`, the CA's authority key identifier, and the CRL
/// number `now` (a later CRL has a larger number).
pub fn build(ca: &Ca, revoked: &[Revoked], now: u64, valid_secs: u64) -> Result<Vec<u8>> {
    let mut entries = Vec::with_capacity(revoked.len());
    for r in revoked {
        let crl_entry_extensions =
            if r.superseded { Some(vec![extension(&CrlReason::Superseded)?]) } else { None };
        entries.push(RevokedCert {
            serial_number: SerialNumber::new(&r.serial.to_be_bytes())?,
            revocation_date: time(r.at)?,
            crl_entry_extensions,
        });
    }
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(ca.key_identifier().clone()),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    let number = CrlNumber(Uint::new(&now.to_be_bytes())?);
    let tbs = TbsCertList {
        version: Version::V2,
        signature: ca.signature_algorithm(),
        issuer: ca.certificate().tbs_certificate.subject.clone(),
        this_update: time(now)?,
        next_update: Some(time(now.saturating_add(valid_secs))?),
        // RFC 5280 5.1.2.6: absent, not empty, when nothing is revoked.
        revoked_certificates: if entries.is_empty() { None } else { Some(entries) },
        crl_extensions: Some(vec![extension(&aki)?, extension(&number)?]),
    };
    let signature = ca.sign(&tbs.to_der()?)?;
    let list = CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: ca.signature_algorithm(),
        signature: BitString::from_bytes(signature.as_bytes())?,
    };
    Ok(list.to_der()?)
}

/// PEM of a DER CRL.
pub fn pem(der: &[u8]) -> Result<String> {
    der::pem::encode_string(PEM_LABEL, LineEnding::LF, der).map_err(|e| Error::Der(e.into()))
}

#[cfg(test)]
mod tests;
