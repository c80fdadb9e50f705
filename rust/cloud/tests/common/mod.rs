//! Genuine results, made the way the secure partition makes them: the cose-results
//! encoders with a real ES256 signature (RustCrypto, SHA-256 of the ToBeSigned) and a
//! real ECDH-ES + HKDF-256 / A256GCM encryption with a random ephemeral key and IV.
// Each test file uses its own part of these helpers.
#![allow(dead_code)]

use std::path::PathBuf;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

use cose_results::{encrypt, sign1, Claims, Ec2Key, Error};

pub const UUID: [u8; 16] =
    [0x30, 0x84, 0xb3, 0x38, 0xc3, 0x9e, 0x4c, 0x23, 0x90, 0x50, 0xfc, 0xb9, 0x63, 0x0a, 0xfc, 0xd0];
pub const UUID_TEXT: &str = "3084b338-c39e-4c23-9050-fcb9630afcd0";
pub const VALUES: [f32; 2] = [0.5, -0.25];
pub const NONCE: &[u8] = b"nonce-0123456789";

/// The input of the result with `counter`: a quarter per counter, as a sweep of
/// angles (exact in binary, so its JSON is short).
pub fn input(counter: u64) -> f32 {
    counter as f32 * 0.25
}

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The committed demo recipient key pair (keys/README.md).
pub fn demo_recipient() -> SecretKey {
    let pem = std::fs::read_to_string(workspace().join("keys/demo-recipient.pem")).unwrap();
    p256::pkcs8::DecodePrivateKey::from_pkcs8_pem(&pem).unwrap()
}

pub fn device_key() -> SigningKey {
    SigningKey::random(&mut OsRng)
}

pub fn public(key: &SigningKey) -> PublicKey {
    PublicKey::from(key.verifying_key())
}

pub fn sec1_hex(key: &SigningKey) -> String {
    hex::encode(public(key).to_encoded_point(false).as_bytes())
}

pub fn claims_bytes(counter: u64, nonce: Option<&[u8]>) -> Vec<u8> {
    let values: Vec<u8> = VALUES.iter().flat_map(|v| v.to_le_bytes()).collect();
    let claims = Claims {
        values: &values,
        inputs: &input(counter).to_le_bytes(),
        input_sha256: None,
        engine: "si 0.1.0",
        model_sha256: [0xab; 32],
        model: "sine",
        counter,
        device: UUID,
        nonce,
    };
    let mut out = [0u8; 256];
    let n = claims.encode(&mut out).unwrap();
    out[..n].to_vec()
}

/// A COSE_Sign1 of `payload` by `key` with `kid`.
pub fn sign1_with_kid(payload: &[u8], key: &SigningKey, kid: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; payload.len() + 200];
    let n = sign1::encode(payload, kid, &mut out, |tbs| {
        let signature: Signature = key.sign(tbs);
        Ok(signature.to_bytes().into())
    })
    .unwrap();
    out.truncate(n);
    out
}

/// A `SIGN1` result by `key`, with its thumbprint as kid.
pub fn sign1(key: &SigningKey, counter: u64, nonce: Option<&[u8]>) -> Vec<u8> {
    sign1_with_kid(&claims_bytes(counter, nonce), key, &cloud::thumbprint(&public(key)))
}

/// A COSE_Encrypt of `plaintext` for `recipient`.
pub fn encrypt(plaintext: &[u8], recipient: &PublicKey) -> Vec<u8> {
    let ephemeral = SecretKey::random(&mut OsRng);
    let point = ephemeral.public_key().to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(ephemeral.to_nonzero_scalar(), recipient.as_affine());
    let mut iv = [0u8; encrypt::IV_LEN];
    OsRng.fill_bytes(&mut iv);
    let mut context = [0u8; encrypt::KDF_CONTEXT_LEN];
    encrypt::kdf_context(&encrypt::RECIPIENT_PROTECTED, &mut context).unwrap();
    let mut cek = [0u8; encrypt::KEY_LEN];
    Hkdf::<Sha256>::new(None, shared.raw_secret_bytes()).expand(&context, &mut cek).unwrap();
    let mut aad = [0u8; encrypt::ENC_STRUCTURE_LEN];
    encrypt::enc_structure(&encrypt::PROTECTED, &mut aad).unwrap();
    let kid = cloud::thumbprint(recipient);
    let mut out = vec![0u8; plaintext.len() + 300];
    let ephemeral = Ec2Key::from_sec1(point.as_bytes()).unwrap();
    let n = encrypt::encode(plaintext, &iv, &ephemeral, &kid, &mut out, |text| {
        let tag = Aes256Gcm::new(&cek.into())
            .encrypt_in_place_detached(Nonce::from_slice(&iv), &aad, text)
            .map_err(|_| Error::Crypto)?;
        Ok(tag.into())
    })
    .unwrap();
    out.truncate(n);
    out
}

/// An `ENCRYPT0` result: a `SIGN1` by `key`, encrypted for `recipient`.
pub fn encrypt0(key: &SigningKey, recipient: &PublicKey, counter: u64) -> Vec<u8> {
    encrypt(&sign1(key, counter, Some(NONCE)), recipient)
}
