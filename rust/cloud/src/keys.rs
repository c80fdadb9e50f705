//! The keys a verifier holds: the device's public signing key (0x5002), from a SEC1
//! point, an SPKI PEM or an X.509 certificate, and the recipient's private key.

use p256::ecdsa::VerifyingKey;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
use p256::{PublicKey, SecretKey};
use sha2::{Digest, Sha256};
use x509_cert::der::{DecodePem, Encode};
use x509_cert::Certificate;

use cose_results::{key, Ec2Key};

use crate::{Error, Result};

/// The COSE Key Thumbprint (RFC 9679) of a P-256 public key: its `kid` in results.
pub fn thumbprint(key: &PublicKey) -> [u8; 32] {
    let point = key.to_encoded_point(false);
    let mut ec2 = Ec2Key { x: [0; 32], y: [0; 32] };
    // Uncompressed, and a PublicKey is never the identity: both coordinates are there.
    if let (Some(x), Some(y)) = (point.x(), point.y()) {
        ec2.x.copy_from_slice(x);
        ec2.y.copy_from_slice(y);
    }
    Sha256::digest(key::thumbprint_input(&ec2)).into()
}

/// The device's public signing key and its thumbprint.
#[derive(Clone, Debug)]
pub struct DeviceKey {
    pub(crate) key: VerifyingKey,
    pub(crate) thumbprint: [u8; 32],
}

impl DeviceKey {
    pub fn new(key: PublicKey) -> Self {
        DeviceKey { key: VerifyingKey::from(&key), thumbprint: thumbprint(&key) }
    }

    /// A SEC1 point in hex (`04 || x || y`, as `keys public` prints it).
    pub fn from_sec1_hex(text: &str) -> Result<Self> {
        let bytes = hex::decode(text.trim()).map_err(|_| Error::Key("not hex"))?;
        PublicKey::from_sec1_bytes(&bytes).map(Self::new).map_err(|_| Error::Key("not a P-256 point"))
    }

    /// A `PUBLIC KEY` PEM (SubjectPublicKeyInfo).
    pub fn from_spki_pem(pem: &str) -> Result<Self> {
        PublicKey::from_public_key_pem(pem)
            .map(Self::new)
            .map_err(|_| Error::Key("not a P-256 PUBLIC KEY PEM"))
    }

    /// The subject key of a `CERTIFICATE` PEM. The certificate's own signature and
    /// validity are not checked here: whoever passes it vouches for it.
    pub fn from_cert_pem(pem: &str) -> Result<Self> {
        let cert = Certificate::from_pem(pem).map_err(|_| Error::Key("not an X.509 CERTIFICATE PEM"))?;
        let spki =
            cert.tbs_certificate.subject_public_key_info.to_der().map_err(|_| Error::Key("bad SPKI"))?;
        PublicKey::from_public_key_der(&spki)
            .map(Self::new)
            .map_err(|_| Error::Key("the certificate's key is not P-256"))
    }

    pub fn thumbprint(&self) -> [u8; 32] {
        self.thumbprint
    }
}

/// The recipient's private key and its public key's thumbprint.
#[derive(Clone)]
pub struct RecipientKey {
    pub(crate) secret: SecretKey,
    pub(crate) thumbprint: [u8; 32],
}

impl RecipientKey {
    pub fn new(secret: SecretKey) -> Self {
        let thumbprint = thumbprint(&secret.public_key());
        RecipientKey { secret, thumbprint }
    }

    /// A `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC1) PEM.
    pub fn from_pem(pem: &str) -> Result<Self> {
        SecretKey::from_pkcs8_pem(pem)
            .or_else(|_| SecretKey::from_sec1_pem(pem))
            .map(Self::new)
            .map_err(|_| Error::Key("not a P-256 PRIVATE KEY or EC PRIVATE KEY PEM"))
    }

    pub fn thumbprint(&self) -> [u8; 32] {
        self.thumbprint
    }
}

impl std::fmt::Debug for RecipientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecipientKey({})", hex::encode(self.thumbprint))
    }
}
