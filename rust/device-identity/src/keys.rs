//! The device's three P-256 keys and its UUID.

use crate::derivation::{derive_labelled, HukKdf, LabelExtra};
use crate::{Error, Result};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::bigint::{Encoding, NonZero, U384};
use p256::elliptic_curve::Curve;
use p256::NistP256;
use p256_sign::SecretKey;

/// The device's keys, by the ids the non-secure application uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyId {
    ClientTls = 0x5001,
    CoseSign = 0x5002,
    CoseEncrypt = 0x5003,
}

impl KeyId {
    pub const ALL: [KeyId; 3] = [KeyId::ClientTls, KeyId::CoseSign, KeyId::CoseEncrypt];

    pub fn from_u32(id: u32) -> Result<Self> {
        KeyId::ALL.into_iter().find(|k| *k as u32 == id).ok_or(Error::UnknownKey(id))
    }

    /// The name shown to people, and the OU of the key's certificate.
    pub fn label(self) -> &'static str {
        match self {
            KeyId::ClientTls => "Device Client TLS",
            KeyId::CoseSign => "Device COSE SIGN",
            KeyId::CoseEncrypt => "Device COSE ENCRYPT",
        }
    }

    /// The HKDF label of scheme v1.
    fn derivation_label(self) -> &'static str {
        match self {
            KeyId::ClientTls => "si.v1.key.client-tls",
            KeyId::CoseSign => "si.v1.key.cose-sign",
            KeyId::CoseEncrypt => "si.v1.key.cose-encrypt",
        }
    }

    fn index(self) -> usize {
        self as usize - 0x5001
    }
}

/// The HKDF label of the UUID in scheme v1.
const UUID_LABEL: &str = "si.v1.uuid";

/// An RFC 4122 version-4 UUID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uuid(pub [u8; 16]);

impl core::fmt::Display for Uuid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl Uuid {
    /// The 36-character text form, for CSR subjects.
    pub fn to_text(self) -> [u8; 36] {
        let mut out = [0u8; 36];
        let hex = b"0123456789abcdef";
        let mut at = 0;
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out[at] = b'-';
                at += 1;
            }
            out[at] = hex[(b >> 4) as usize];
            out[at + 1] = hex[(b & 15) as usize];
            at += 2;
        }
        out
    }
}

/// A P-256 scalar from 48 derived bytes, as FIPS 186-5 A.2.1 makes one from extra
/// random bits: d = (c mod (n - 1)) + 1, unbiased to within 2^-128 and never zero.
fn scalar_from_wide(okm: &[u8; 48]) -> Result<SecretKey> {
    let c = U384::from_be_slice(okm);
    let n_minus_1 = U384::from(&NistP256::ORDER).wrapping_sub(&U384::ONE);
    let modulus = Option::<NonZero<U384>>::from(NonZero::new(n_minus_1)).ok_or(Error::Signature)?;
    let d = c.rem(&modulus).wrapping_add(&U384::ONE);
    let bytes = d.to_be_bytes();
    // d < n < 2^256: the top 16 of the 48 bytes are zero.
    let mut scalar = [0u8; 32];
    scalar.copy_from_slice(&bytes[16..]);
    SecretKey::from_bytes(&scalar).map_err(|_| Error::Signature)
}

/// The device's identity, derived at boot and held only in secure memory.
pub struct DeviceIdentity {
    keys: [SecretKey; 3],
    public: [[u8; 65]; 3],
    uuid: Uuid,
}

impl DeviceIdentity {
    /// Derives the three keys and the UUID (scheme v1).
    pub fn derive(kdf: &mut dyn HukKdf, extra: &LabelExtra) -> Result<Self> {
        let mut key = |id: KeyId| -> Result<SecretKey> {
            let mut okm = [0u8; 48];
            derive_labelled(kdf, id.derivation_label(), extra, &mut okm)?;
            scalar_from_wide(&okm)
        };
        let keys = [key(KeyId::ClientTls)?, key(KeyId::CoseSign)?, key(KeyId::CoseEncrypt)?];
        let mut uuid = [0u8; 16];
        derive_labelled(kdf, UUID_LABEL, extra, &mut uuid)?;
        uuid[6] = (uuid[6] & 0x0f) | 0x40; // version 4
        uuid[8] = (uuid[8] & 0x3f) | 0x80; // RFC 4122 variant
        let mut public = [[0u8; 65]; 3];
        for (out, k) in public.iter_mut().zip(&keys) {
            *out = k.public_key();
        }
        Ok(DeviceIdentity { keys, public, uuid: Uuid(uuid) })
    }

    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// The SEC1 uncompressed public key (0x04 || X || Y).
    pub fn public_key(&self, id: KeyId) -> &[u8; 65] {
        &self.public[id.index()]
    }

    /// ECDSA P-256 over a SHA-256 digest, deterministic (RFC 6979); r || s.
    /// Who may ask for which key is the partition's policy, not this crate's.
    pub fn sign_prehash(&self, id: KeyId, digest: &[u8; 32]) -> Result<[u8; 64]> {
        self.keys[id.index()].sign_prehash(digest).map_err(|_| Error::Signature)
    }

    /// The SHA-256 of `message`, signed.
    pub fn sign(&self, id: KeyId, message: &[u8]) -> Result<[u8; 64]> {
        use sha2::Digest;
        self.sign_prehash(id, &sha2::Sha256::digest(message).into())
    }
}

/// Verifies an r || s signature over a SHA-256 digest with a SEC1 public key.
pub fn verify_prehash(public: &[u8; 65], digest: &[u8; 32], signature: &[u8; 64]) -> bool {
    let (Ok(key), Ok(sig)) = (VerifyingKey::from_sec1_bytes(public), Signature::from_slice(signature)) else {
        return false;
    };
    key.verify_prehash(digest, &sig).is_ok()
}
