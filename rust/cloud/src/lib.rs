//! The cloud side of secure-inference: takes a result as the device sent it and gives
//! back its claims, or the reason not to trust them. Sans-IO where it matters: [`verify`]
//! turns bytes and keys into [`Verified`] claims, [`check_counter`] compares a counter
//! with the last one accepted, [`check_cose_cert`] checks a device's COSE SIGN
//! certificate against the CA; [`Store`] keeps devices, results and refusals in SQLite,
//! [`Consumer`] decides what each MQTT message is and records it, and the `cloud`
//! binary puts sockets, files and clocks around them (docs/cloud.md).
//!
//! The device key must be the COSE SIGN key 0x5002, with that purpose stated by its
//! certificate or by the id it is registered under ([`DeviceKey`]): the Client TLS key
//! 0x5001 signs any digest for the non-secure world, so a result it signed proves
//! nothing. A `SIGN1` result must carry as `kid` the COSE Key Thumbprint (RFC 9679) of
//! that key and an ES256 signature by it; an `ENCRYPT0` result is decrypted with the
//! recipient's private key first (ECDH-ES + HKDF-256, A256GCM) and must hold such a
//! `SIGN1`. A plain `CBOR` result carries no proof of origin.
#![forbid(unsafe_code)]

mod chain;
mod consumer;
mod cose;
mod input;
mod keys;
mod preferred;
mod purpose;
mod state;
mod store;
pub mod time;
mod verify;

use std::fmt;
use std::path::PathBuf;

pub use chain::{check_cose_cert, Ca, CertError, CoseCert};
pub use consumer::{parse_topic, Consumer, Outcome, Topic};
pub use cose::Malformed;
pub use input::{decode_file, decode_text};
pub use keys::{thumbprint, DeviceKey, RecipientKey};
pub use purpose::{parse_key_id, COSE_SIGN_KEY_ID};
pub use state::{check_counter, import_json_state};
pub use store::{
    Accepted, DeviceRow, Refusal, RefusalRow, Registered, ResultQuery, Store, StoredResult, SCHEMA_VERSION,
};
pub use verify::{verify, Options, Verified};

/// Errors of this crate: the first group is the caller's (bad arguments, keys, files),
/// the rest say why a result is not accepted.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A key or certificate that cannot be used.
    Key(&'static str),
    /// A device key that is not, or is not stated to be, the COSE SIGN key 0x5002
    /// (why, and what to give instead).
    KeyPurpose(&'static str),
    /// The result's text is neither hex nor base64.
    Input(&'static str),
    /// A key, certificate or result file that cannot be read.
    Read(PathBuf, std::io::Error),
    /// Not a result of the expected shape (its COSE layer read by coset, its claims by
    /// cose-results).
    Malformed(Malformed),
    /// A plain `CBOR` result, refused unless unsigned results are allowed.
    Unsigned,
    /// An `ENCRYPT0` result without a recipient key to decrypt it.
    NoRecipientKey,
    /// The result is encrypted for another recipient key (its kid, the key's thumbprint).
    WrongRecipient(Vec<u8>, [u8; 32]),
    /// The ephemeral key is not a point on P-256.
    BadEphemeralKey,
    /// AES-GCM refused the ciphertext: tampered, or not for this key.
    Decrypt,
    /// The decrypted content is not a COSE_Sign1.
    NotSign1Inside,
    /// The COSE_Sign1 names another key (its kid, the device key's thumbprint).
    WrongKid(Vec<u8>, [u8; 32]),
    /// The ES256 signature does not verify.
    BadSignature,
    /// The result does not carry the nonce asked for.
    Nonce,
    /// The counter is not above the last one accepted from this device.
    Replay { counter: u64, last: u64 },
    /// The counter state cannot be read or written.
    State(PathBuf, std::io::Error),
    /// The CA certificate given cannot anchor device certificates.
    Ca(&'static str),
    /// A device's COSE SIGN certificate that does not chain to the CA or is not valid.
    Certificate(CertError),
    /// A certificate older than the one registered for the device (its notBefore, the
    /// registered one's).
    OlderCertificate { not_before: u64, registered: u64 },
    /// A message on a topic that is not a device's events topic, or of an unknown type.
    Topic(&'static str),
    /// A result from a device that has no COSE SIGN certificate registered.
    UnknownDevice(String),
    /// The claims name another device than the topic (the claims', the topic's).
    DeviceMismatch { claims: String, topic: String },
    /// A counter beyond what the store keeps (SQLite integers are signed 64-bit).
    CounterRange(u64),
    /// The store failed (SQLite); nothing of the operation was kept.
    Store(rusqlite::Error),
    /// The store was written by a newer `cloud` (its schema version, the newest known).
    StoreVersion { found: i64, known: i64 },
}

impl Error {
    /// Whether the error is the caller's (exit code 2) rather than the result's (1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::Key(_) | Error::KeyPurpose(_) | Error::Input(_) | Error::Read(..) | Error::Ca(_)
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Key(what) => write!(f, "unusable key: {what}"),
            Error::KeyPurpose(why) => write!(f, "not the key that signs results: {why}"),
            Error::Input(what) => write!(f, "unreadable result: {what}"),
            Error::Read(path, e) => write!(f, "cannot read {}: {e}", path.display()),
            Error::Malformed(e) => write!(f, "malformed result: {e}"),
            Error::Unsigned => {
                f.write_str("the result is unsigned (CBOR): nothing proves where it comes from")
            }
            Error::NoRecipientKey => {
                f.write_str("the result is encrypted (ENCRYPT0): --recipient-key is needed")
            }
            Error::WrongRecipient(kid, ours) => write!(
                f,
                "the result is encrypted for recipient kid {}, not for this recipient key (thumbprint {})",
                hex::encode(kid),
                hex::encode(ours)
            ),
            Error::BadEphemeralKey => f.write_str("the ephemeral key is not a P-256 point"),
            Error::Decrypt => f.write_str("decryption failed: tampered, or encrypted for another key"),
            Error::NotSign1Inside => f.write_str("the decrypted content is not a COSE_Sign1"),
            Error::WrongKid(kid, ours) => write!(
                f,
                "signed by kid {}, not by this device key (thumbprint {})",
                hex::encode(kid),
                hex::encode(ours)
            ),
            Error::BadSignature => f.write_str("invalid signature"),
            Error::Nonce => f.write_str("the result does not carry the expected nonce"),
            Error::Replay { counter, last } => {
                write!(f, "replayed or stale result: counter {counter}, last accepted {last}")
            }
            Error::State(path, e) => write!(f, "counter state {}: {e}", path.display()),
            Error::Ca(what) => write!(f, "unusable CA certificate: {what}"),
            Error::Certificate(e) => write!(f, "the device's COSE SIGN certificate is refused: {e}"),
            Error::OlderCertificate { not_before, registered } => write!(
                f,
                "the certificate is older (notBefore {}) than the one registered (notBefore {})",
                time::utc(*not_before * 1000),
                time::utc(*registered * 1000)
            ),
            Error::Topic(what) => write!(f, "not a device events topic: {what}"),
            Error::UnknownDevice(uuid) => write!(
                f,
                "no COSE SIGN certificate registered for device {uuid}: the device sends it on \
                 devices/{uuid}/messages/events/type=cose-cert after connecting"
            ),
            Error::DeviceMismatch { claims, topic } => {
                write!(f, "the claims are device {claims}'s, the topic is device {topic}'s")
            }
            Error::CounterRange(counter) => {
                write!(f, "counter {counter} is beyond 2^63 - 1, which the store cannot keep")
            }
            Error::Store(e) => write!(f, "the store failed: {e}"),
            Error::StoreVersion { found, known } => write!(
                f,
                "the store has schema version {found}, newer than this cloud's {known}: use a newer cloud"
            ),
        }
    }
}

impl std::error::Error for Error {}

impl From<Malformed> for Error {
    fn from(e: Malformed) -> Self {
        Error::Malformed(e)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(e)
    }
}

impl From<CertError> for Error {
    fn from(e: CertError) -> Self {
        Error::Certificate(e)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// A UUID's 16 bytes in the 8-4-4-4-12 form, as the device prints it.
pub fn uuid_string(id: &[u8; 16]) -> String {
    device_identity::Uuid(*id).to_string()
}
