//! The keys a verifier holds: the device's public signing key (0x5002), from a SEC1
//! point or an SPKI PEM with its key id stated, or from an X.509 certificate that
//! certifies it as the COSE SIGN key; and the recipient's private key.

use p256::ecdsa::VerifyingKey;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
use p256::{PublicKey, SecretKey};
use sha2::{Digest, Sha256};
use x509_cert::der::{DecodePem, Encode};
use x509_cert::Certificate;

use cose_results::{key, Ec2Key};

use crate::{purpose, Error, Result};

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

/// The device's public signing key (0x5002) and its thumbprint. Every constructor
/// takes the key only with its purpose stated, and refuses any purpose but 0x5002's
/// (the `purpose` module says why and how).
#[derive(Clone, Debug)]
pub struct DeviceKey {
    pub(crate) key: VerifyingKey,
    pub(crate) thumbprint: [u8; 32],
}

impl DeviceKey {
    fn new(key: PublicKey) -> Self {
        DeviceKey { key: VerifyingKey::from(&key), thumbprint: thumbprint(&key) }
    }

    /// `key`, registered as the device's key `key_id`: 0x5002, or refused.
    pub fn registered(key: PublicKey, key_id: u32) -> Result<Self> {
        purpose::check_key_id(key_id)?;
        Ok(Self::new(key))
    }

    /// A SEC1 point in hex (`04 || x || y`), registered as `key_id`, which must be given.
    pub fn from_sec1_hex(text: &str, key_id: Option<u32>) -> Result<Self> {
        let bytes = hex::decode(text.trim()).map_err(|_| Error::Key("not hex"))?;
        let key = PublicKey::from_sec1_bytes(&bytes).map_err(|_| Error::Key("not a P-256 point"))?;
        purpose::check_stated_ids(key_id)?;
        Ok(Self::new(key))
    }

    /// A `PUBLIC KEY` PEM (SubjectPublicKeyInfo), one per file, registered as `key_id`
    /// or as the `Key ID: 0x....` lines before it say (what `keys public 5002` prints);
    /// at least one of them must state the id, and all must state 0x5002.
    pub fn from_spki_pem(text: &str, key_id: Option<u32>) -> Result<Self> {
        const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
        const END: &str = "-----END PUBLIC KEY-----";
        let start = text.find(BEGIN).ok_or(Error::Key("not a P-256 PUBLIC KEY PEM"))?;
        let end =
            text[start..].find(END).ok_or(Error::Key("not a P-256 PUBLIC KEY PEM"))? + start + END.len();
        if text[..start].contains("-----BEGIN") || text[end..].contains("-----BEGIN") {
            return Err(Error::Key("more than one PEM block: give one key per file"));
        }
        let key = PublicKey::from_public_key_pem(&text[start..end])
            .map_err(|_| Error::Key("not a P-256 PUBLIC KEY PEM"))?;
        let mut ids = purpose::key_id_lines(&text[..start])?;
        ids.extend(key_id);
        purpose::check_stated_ids(ids)?;
        Ok(Self::new(key))
    }

    /// The subject key of a `CERTIFICATE` PEM whose subject OU and key usages make it the
    /// COSE SIGN key (`key_id`, if given, must say 0x5002 too). The certificate's own
    /// signature and validity are not checked here: whoever passes it vouches for it.
    pub fn from_cert_pem(pem: &str, key_id: Option<u32>) -> Result<Self> {
        let cert = Certificate::from_pem(pem).map_err(|_| Error::Key("not an X.509 CERTIFICATE PEM"))?;
        let spki =
            cert.tbs_certificate.subject_public_key_info.to_der().map_err(|_| Error::Key("bad SPKI"))?;
        let key = PublicKey::from_public_key_der(&spki)
            .map_err(|_| Error::Key("the certificate's key is not P-256"))?;
        purpose::check_certificate(&cert)?;
        key_id.map(purpose::check_key_id).transpose()?;
        Ok(Self::new(key))
    }

    pub fn thumbprint(&self) -> [u8; 32] {
        self.thumbprint
    }

    /// The key as an uncompressed SEC1 point (`04 || x || y`), as the store keeps it.
    pub fn sec1(&self) -> Vec<u8> {
        self.key.to_encoded_point(false).as_bytes().to_vec()
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
