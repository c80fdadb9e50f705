//! A result in the format the caller chose: the claims map, signed by the identity
//! partition's COSE SIGN key (0x5002), or signed and then encrypted for the
//! recipient's key (docs/formats.md).

use crate::Platform;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::Aes256Gcm;
use cose_results::{encrypt, key, sign1, Claims, Ec2Key};
use hkdf::Hkdf;
use psa::Status;
use secure_api::identity as identity_api;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Room for the claims map of a one-value result (about 140 bytes with a 64-byte nonce).
const CLAIMS_MAX: usize = 192;
/// Room for the COSE_Sign1 around it.
const SIGN1_MAX: usize = 320;
/// Attempts at drawing an ephemeral scalar in [1, n - 1]; failing all four happens
/// with probability below 2^-128 unless the RNG is broken.
const SCALAR_ATTEMPTS: usize = 4;

/// The device's identity as results name it, read from the identity partition.
#[derive(Clone, Copy)]
pub struct Signer {
    pub device: [u8; 16],
    /// COSE Key Thumbprint of the COSE SIGN key.
    pub kid: [u8; 32],
}

/// Where ENCRYPT0 results go: a P-256 public key and its thumbprint.
#[derive(Clone, Copy)]
pub struct Recipient {
    key: p256::PublicKey,
    kid: [u8; 32],
}

impl Recipient {
    /// From an uncompressed SEC1 point; `None` if it is not a point of the curve.
    pub fn from_sec1(sec1: &[u8]) -> Option<Self> {
        let key = p256::PublicKey::from_sec1_bytes(sec1).ok()?;
        let point = Ec2Key::from_sec1(sec1).ok()?;
        Some(Recipient { key, kid: thumbprint(&point) })
    }

    pub fn kid(&self) -> &[u8; 32] {
        &self.kid
    }
}

pub fn thumbprint(key: &Ec2Key) -> [u8; 32] {
    Sha256::digest(key::thumbprint_input(key)).into()
}

/// Asks the identity partition for the UUID and the COSE SIGN public key.
pub fn signer(platform: &mut dyn Platform) -> Result<Signer, Status> {
    let handle = identity_api::SERVICE.handle();
    let mut device = [0u8; 16];
    platform.call(handle, identity_api::UUID, &[], &mut [&mut device])?;
    let mut public = [0u8; identity_api::PUBLIC_KEY_LEN];
    let id = identity_api::KEY_COSE_SIGN.to_le_bytes();
    platform.call(handle, identity_api::PUBLIC_KEY, &[&id], &mut [&mut public])?;
    let point = Ec2Key::from_sec1(&public).map_err(|_| Status::ERROR_COMMUNICATION_FAILURE)?;
    Ok(Signer { device, kid: thumbprint(&point) })
}

/// Writes the claims map.
pub fn cbor(claims: &Claims<'_>, out: &mut [u8]) -> Result<usize, Status> {
    claims.encode(out).map_err(|_| Status::ERROR_GENERIC_ERROR)
}

/// Writes the claims as the payload of a COSE_Sign1 that the identity partition signs.
pub fn sign1(
    platform: &mut dyn Platform,
    signer: &Signer,
    claims: &Claims<'_>,
    out: &mut [u8],
) -> Result<usize, Status> {
    let mut payload = [0u8; CLAIMS_MAX];
    let n = cbor(claims, &mut payload)?;
    let mut status = Status::ERROR_GENERIC_ERROR;
    sign1::encode(&payload[..n], &signer.kid, out, |tbs| {
        let digest: [u8; 32] = Sha256::digest(tbs).into();
        let mut signature = [0u8; sign1::SIGNATURE_LEN];
        platform
            .call(identity_api::SERVICE.handle(), identity_api::COSE_SIGN, &[&digest], &mut [&mut signature])
            .map_err(|s| {
                status = s;
                cose_results::Error::Crypto
            })?;
        Ok(signature)
    })
    .map_err(|_| status)
}

/// Signs, then encrypts the COSE_Sign1 for `recipient` (ECDH-ES + HKDF-256, A256GCM).
pub fn encrypt0(
    platform: &mut dyn Platform,
    signer: &Signer,
    recipient: &Recipient,
    claims: &Claims<'_>,
    out: &mut [u8],
) -> Result<usize, Status> {
    let mut inner = [0u8; SIGN1_MAX];
    let n = sign1(platform, signer, claims, &mut inner)?;
    let mut iv = [0u8; encrypt::IV_LEN];
    platform.generate_random(&mut iv)?;
    let (ephemeral, secret) = ephemeral_key(platform)?;
    let shared = p256::ecdh::diffie_hellman(&secret, recipient.key.as_affine());
    let mut context = [0u8; encrypt::KDF_CONTEXT_LEN];
    let mut aad = [0u8; encrypt::ENC_STRUCTURE_LEN];
    let ok = encrypt::kdf_context(&encrypt::RECIPIENT_PROTECTED, &mut context).is_ok()
        && encrypt::enc_structure(&encrypt::PROTECTED, &mut aad).is_ok();
    let mut cek = Zeroizing::new([0u8; encrypt::KEY_LEN]);
    let hkdf = Hkdf::<Sha256>::new(None, shared.raw_secret_bytes()); // no salt (RFC 9053 5.1)
    if !ok || hkdf.expand(&context, cek.as_mut()).is_err() {
        return Err(Status::ERROR_GENERIC_ERROR);
    }
    let cipher = Aes256Gcm::new(cek.as_ref().into());
    encrypt::encode(&inner[..n], &iv, &ephemeral, &recipient.kid, out, |text| {
        let tag = cipher
            .encrypt_in_place_detached(&iv.into(), &aad, text)
            .map_err(|_| cose_results::Error::Crypto)?;
        Ok(tag.into())
    })
    .map_err(|_| Status::ERROR_GENERIC_ERROR)
}

/// A fresh key pair from the platform RNG: the public half by the fixed-base comb of
/// `p256-sign`, the secret as RustCrypto's scalar for the ECDH.
fn ephemeral_key(platform: &mut dyn Platform) -> Result<(Ec2Key, p256::NonZeroScalar), Status> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    for _ in 0..SCALAR_ATTEMPTS {
        platform.generate_random(bytes.as_mut())?;
        let (Ok(comb), Some(scalar)) = (
            p256_sign::SecretKey::from_bytes(&bytes),
            Option::<p256::NonZeroScalar>::from(p256::NonZeroScalar::from_repr((*bytes).into())),
        ) else {
            continue;
        };
        let public = Ec2Key::from_sec1(&comb.public_key()).map_err(|_| Status::ERROR_GENERIC_ERROR)?;
        return Ok((public, scalar));
    }
    Err(Status::ERROR_INSUFFICIENT_ENTROPY)
}
