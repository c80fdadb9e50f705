//! A test CA for the provisioning tests (x509-cert's builder, fixed keys): its
//! certificate, a device key with its CSR and certificate, and the CA's replies as
//! a server sends them.

extern crate std;
use super::*;
use core::time::Duration;
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use std::str::FromStr;
use std::vec::Vec;
use std::{format, vec};
use x509_cert::builder::{Builder, CertificateBuilder, Profile, RequestBuilder};
use x509_cert::der::asn1::UtcTime;
use x509_cert::der::Encode;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};

/// RFC 4514 order (last RDN first): the DER has O, CN, OU as the device's CSRs do.
pub const SUBJECT: &str = "OU=Device Client TLS,CN=3084b338-c39e-4c23-9050-fcb9630afcd0,O=Linaro";
pub const CA_NAME: &str = "CN=bootstrap test CA,O=Linaro";
/// 2023-11-14T22:13:20Z, and ten years on.
pub const NOT_BEFORE: u64 = 1_700_000_000;
pub const NOT_AFTER: u64 = NOT_BEFORE + 10 * 365 * 86400;

pub fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32].into()).unwrap()
}

pub fn point(key: &SigningKey) -> Vec<u8> {
    VerifyingKey::from(key).to_encoded_point(false).as_bytes().to_vec()
}

pub fn time(t: u64) -> Time {
    Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(t)).unwrap())
}

/// A certificate for `subject_key`, signed by `issuer_key` as the CA named `issuer`.
pub fn issue(profile: Profile, subject: &str, subject_key: &SigningKey, issuer_key: &SigningKey) -> Vec<u8> {
    let spki = SubjectPublicKeyInfoOwned::from_key(VerifyingKey::from(subject_key)).unwrap();
    let validity = Validity { not_before: time(NOT_BEFORE), not_after: time(NOT_AFTER) };
    let name = Name::from_str(subject).unwrap();
    CertificateBuilder::new(profile, SerialNumber::from(7u32), validity, name, spki, issuer_key)
        .unwrap()
        .build::<DerSignature>()
        .unwrap()
        .to_der()
        .unwrap()
}

pub fn leaf_profile() -> Profile {
    Profile::Leaf {
        issuer: Name::from_str(CA_NAME).unwrap(),
        enable_key_agreement: false,
        enable_key_encipherment: false,
        include_subject_key_identifier: true,
    }
}

/// The test CA, the device key and its CSR, and a good certificate.
pub struct Pki {
    pub ca_key: SigningKey,
    pub anchor: Vec<u8>,
    pub device: SigningKey,
    pub device_point: Vec<u8>,
    pub csr: Vec<u8>,
    pub cert: Vec<u8>,
}

impl Pki {
    pub fn new() -> Self {
        let ca_key = key(1);
        let anchor = issue(Profile::Root, CA_NAME, &ca_key, &ca_key);
        let device = key(2);
        let csr = RequestBuilder::new(Name::from_str(SUBJECT).unwrap(), &device)
            .unwrap()
            .build::<DerSignature>()
            .unwrap()
            .to_der()
            .unwrap();
        let cert = issue(leaf_profile(), SUBJECT, &device, &ca_key);
        Pki { device_point: point(&device), ca_key, anchor, device, csr, cert }
    }

    pub fn input(&self, now: Option<u64>) -> Input<'_> {
        Input {
            server: Server { host: "localhost", port: 1443 },
            csr: &self.csr,
            device_key: &self.device_point,
            anchor: &self.anchor,
            now,
        }
    }

    pub fn verify(&self, cert: &[u8], now: Option<u64>) -> Result<(), CertError> {
        x509::verify(cert, &self.anchor, &self.csr, &self.device_point, now)
    }
}

pub fn cbor_reply(status: &str, body: &[u8]) -> Vec<u8> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/cbor\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    [head.as_bytes(), body].concat()
}

pub fn hub_reply() -> Vec<u8> {
    // {1: "hub.example", 2: 8883}
    let mut body = vec![0xa2, 0x01, 0x6b];
    body.extend_from_slice(b"hub.example");
    body.extend_from_slice(&[0x02, 0x19, 0x22, 0xb3]);
    cbor_reply("200 OK", &body)
}

pub fn issued_reply(cert: &[u8]) -> Vec<u8> {
    // {1: 0, 2: bstr cert}
    let mut body = vec![0xa2, 0x01, 0x00, 0x02, 0x59];
    body.extend_from_slice(&(cert.len() as u16).to_be_bytes());
    body.extend_from_slice(cert);
    cbor_reply("200 OK", &body)
}

pub fn refusal(status: &str, code: u8, reason: &str) -> Vec<u8> {
    // {1: code, 5: reason}
    let mut body = vec![0xa2, 0x01, code, 0x05];
    match reason.len() {
        n @ 0..24 => body.push(0x60 + n as u8),
        n => body.extend_from_slice(&[0x78, n as u8]),
    }
    body.extend_from_slice(reason.as_bytes());
    cbor_reply(status, &body)
}
