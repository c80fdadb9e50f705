//! Bytes and keys in, claims out: the checks in the order a result needs them.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::Signature;
use p256::elliptic_curve::zeroize::Zeroizing;
use p256::PublicKey;
use serde::Serialize;
use sha2::Sha256;

use cose_results::Claims;

use crate::cose::{Encrypt, Sign1, KEY_LEN};
use crate::preferred;
use crate::{uuid_string, DeviceKey, Error, Malformed, RecipientKey, Result};

/// What the caller asks of a result beyond its signature.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The nonce the result must carry (EAT `eat_nonce`).
    pub nonce: Option<Vec<u8>>,
    /// Accept a plain `CBOR` result (no signature: for debugging only).
    pub allow_unsigned: bool,
}

/// The claims of an accepted result, in the shape `cloud verify` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verified {
    /// `CBOR`, `SIGN1` or `ENCRYPT0`.
    pub format: &'static str,
    /// The device UUID, 8-4-4-4-12.
    pub device: String,
    pub counter: u64,
    pub model: String,
    pub model_sha256: String,
    pub engine: String,
    /// The model's inputs (`-80005`: for the sine models the angle in radians); empty
    /// for a model that took a tensor.
    pub inputs: Vec<f32>,
    /// The SHA-256 of the input tensor (`-80006`, hex), for a model that took one
    /// (keyword spotting's features). Left out of the JSON when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_sha256: Option<String>,
    /// Its outputs (`-80000`).
    pub values: Vec<f32>,
    pub nonce: Option<String>,
    /// The signer's kid in hex; `None` for `CBOR`.
    pub kid: Option<String>,
    #[serde(skip)]
    pub device_id: [u8; 16],
}

/// Verifies (and, for `ENCRYPT0`, first decrypts) one result.
pub fn verify(
    bytes: &[u8],
    device: &DeviceKey,
    recipient: Option<&RecipientKey>,
    options: &Options,
) -> Result<Verified> {
    let (name, kid, payload) = match format(bytes)? {
        Format::Cbor if options.allow_unsigned => ("CBOR", None, bytes.to_vec()),
        Format::Cbor => return Err(Error::Unsigned),
        Format::Sign1 => {
            let (kid, payload) = verify_sign1(bytes, device)?;
            ("SIGN1", Some(kid), payload)
        }
        Format::Encrypt => {
            let inner = decrypt(bytes, recipient.ok_or(Error::NoRecipientKey)?)?;
            if !inner.starts_with(&[SIGN1_TAG]) {
                return Err(Error::NotSign1Inside);
            }
            let (kid, payload) = verify_sign1(&inner, device)?;
            ("ENCRYPT0", Some(kid), payload)
        }
    };
    // The claims: cose-results' decoder, the format's reference (docs/cloud.md, "Decoding").
    let claims = Claims::decode(&payload).map_err(Malformed::Claims)?;
    if let Some(expected) = &options.nonce {
        if claims.nonce != Some(expected.as_slice()) {
            return Err(Error::Nonce);
        }
    }
    Ok(Verified {
        format: name,
        device: uuid_string(&claims.device),
        counter: claims.counter,
        model: claims.model.into(),
        model_sha256: hex::encode(claims.model_sha256),
        engine: claims.engine.into(),
        inputs: claims.inputs().collect(),
        input_sha256: claims.input_sha256.map(hex::encode),
        values: claims.values().collect(),
        nonce: claims.nonce.map(hex::encode),
        kid: kid.map(hex::encode),
        device_id: claims.device,
    })
}

/// The tag 18 head, `d2` (and the tag 96 head, `d8 60`): the only heads of these tags in
/// preferred serialization, which every decoder here requires.
const SIGN1_TAG: u8 = 0xd2;

enum Format {
    Cbor,
    Sign1,
    Encrypt,
}

/// The format of `bytes` by their first head, once all their heads are known to be
/// in preferred serialization (which makes the first head the only spelling of its tag).
fn format(bytes: &[u8]) -> Result<Format> {
    preferred::check(bytes)?;
    match bytes {
        [SIGN1_TAG, ..] => Ok(Format::Sign1),
        [0xd8, 0x60, ..] => Ok(Format::Encrypt),
        [0xa0..=0xbf, ..] => Ok(Format::Cbor),
        [0xc0..=0xdb, ..] => Err(Malformed::Unexpected("tag 18 or 96").into()),
        _ => Err(Malformed::Unexpected("a claims map or a COSE tag").into()),
    }
}

/// Checks a COSE_Sign1 against the device key; returns its kid and payload.
fn verify_sign1(bytes: &[u8], device: &DeviceKey) -> Result<(Vec<u8>, Vec<u8>)> {
    let sign1 = Sign1::decode(bytes)?;
    if sign1.kid != device.thumbprint {
        return Err(Error::WrongKid(sign1.kid, device.thumbprint));
    }
    let signature = Signature::from_slice(&sign1.message.signature).map_err(|_| Error::BadSignature)?;
    device.key.verify(&sign1.to_be_signed(), &signature).map_err(|_| Error::BadSignature)?;
    Ok((sign1.kid, sign1.payload))
}

/// Decrypts a COSE_Encrypt for the recipient key; returns the plaintext.
fn decrypt(bytes: &[u8], recipient: &RecipientKey) -> Result<Vec<u8>> {
    let e = Encrypt::decode(bytes)?;
    if e.recipient_kid != recipient.thumbprint {
        return Err(Error::WrongRecipient(e.recipient_kid, recipient.thumbprint));
    }
    let ephemeral = PublicKey::from_sec1_bytes(&e.ephemeral).map_err(|_| Error::BadEphemeralKey)?;
    let shared = p256::ecdh::diffie_hellman(recipient.secret.to_nonzero_scalar(), ephemeral.as_affine());
    // The content key is wiped when dropped, as the shared secret is (SharedSecret).
    let mut cek = Zeroizing::new([0u8; KEY_LEN]);
    Hkdf::<Sha256>::new(None, shared.raw_secret_bytes())
        .expand(&e.kdf_context()?, cek.as_mut())
        .map_err(|_| Error::Decrypt)?;
    let cipher = Aes256Gcm::new(cek.as_ref().into());
    cipher
        .decrypt(Nonce::from_slice(&e.iv), Payload { msg: e.ciphertext(), aad: &e.enc_structure() })
        .map_err(|_| Error::Decrypt)
}
