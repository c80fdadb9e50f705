//! The device-identity service: keys derived from the HUK, the UUID, CSRs and TLS
//! handshake signatures. Integers are little-endian; every input vector must have
//! exactly the size given, or the call fails with `PSA_ERROR_INVALID_ARGUMENT`.
//!
//! | message | inputs | output 0 | errors beyond size checks |
//! |---|---|---|---|
//! | [`KEY_STATUS`] | none | 3 x {key id u32, [`KeyStatus`] u32} (24 B) | |
//! | [`PUBLIC_KEY`] | key id u32 | SEC1 uncompressed point (65 B) | unknown key: INVALID_ARGUMENT |
//! | [`UUID`] | none | 16 bytes, RFC 4122 version 4 | |
//! | [`CSR`] | key id u32 | PKCS#10 DER (at most [`CSR_MAX`] B) | BUFFER_TOO_SMALL |
//! | [`TLS_SIGN`] | key id u32, SHA-256 digest (32 B) | r ‖ s (64 B) | any key but 0x5001: NOT_PERMITTED |
//! | [`COSE_SIGN`] | SHA-256 digest of a COSE ToBeSigned (32 B) | r ‖ s (64 B) with 0x5002 | any caller but the inference partition: NOT_PERMITTED |
//!
//! Output vectors may be larger than the output; the reply says how much was written.
//! If the keys could not be derived at boot, every message but [`KEY_STATUS`] fails
//! with `PSA_ERROR_BAD_STATE`.

use crate::ServiceId;
use psa::Sid;

pub const SERVICE: ServiceId =
    ServiceId { name: "Device identity", sid: Sid(0x5EC1_0001), version: 1, stateless_index: 17 };

pub const KEY_STATUS: i32 = 1;
pub const PUBLIC_KEY: i32 = 2;
pub const UUID: i32 = 3;
pub const CSR: i32 = 4;
pub const TLS_SIGN: i32 = 5;
/// Signs for the inference partition only (secure caller [`crate::pid::INFERENCE`]):
/// the COSE SIGN key signs results, never what the non-secure world chooses.
pub const COSE_SIGN: i32 = 6;

/// The device's keys: Client TLS, COSE SIGN, COSE ENCRYPT.
pub const KEY_IDS: [u32; 3] = [0x5001, 0x5002, 0x5003];
pub const KEY_CLIENT_TLS: u32 = 0x5001;
pub const KEY_COSE_SIGN: u32 = 0x5002;
pub const PUBLIC_KEY_LEN: usize = 65;
pub const KEY_STATUS_LEN: usize = 24;
pub const CSR_MAX: usize = 512;

/// The life of a key, as `keys status` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum KeyStatus {
    Unknown = 0,
    Generated = 1,
    CertificateProvisioned = 2,
}

impl KeyStatus {
    pub fn from_u32(v: u32) -> Self {
        match v {
            1 => KeyStatus::Generated,
            2 => KeyStatus::CertificateProvisioned,
            _ => KeyStatus::Unknown,
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            KeyStatus::Unknown => "Unknown",
            KeyStatus::Generated => "Key generated",
            KeyStatus::CertificateProvisioned => "X.509 cert gen",
        }
    }
}

/// The name of a key as people see it (and the OU of its certificate).
pub fn key_label(id: u32) -> Option<&'static str> {
    match id {
        0x5001 => Some("Device Client TLS"),
        0x5002 => Some("Device COSE SIGN"),
        0x5003 => Some("Device COSE ENCRYPT"),
        _ => None,
    }
}

/// DER header of a P-256 SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { id-ecPublicKey,
/// prime256v1 }, BIT STRING (0 unused bits) }; the 65-byte point follows.
const SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A, 0x86,
    0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The SubjectPublicKeyInfo (what PEM `PUBLIC KEY` holds) of a SEC1 point.
pub fn spki_der(point: &[u8; PUBLIC_KEY_LEN]) -> [u8; 91] {
    let mut out = [0u8; 91];
    out[..26].copy_from_slice(&SPKI_PREFIX);
    out[26..].copy_from_slice(point);
    out
}
