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

/// Room for the claims map of any result: up to 16 output values and one input value
/// or an input tensor's SHA-256 (which takes the room of 8 values), every text and the
/// nonce at their limits, the largest counter.
const CLAIMS_MAX: usize = cose_results::claims::max_encoded_len(secure_api::inference::MAX_OUTPUT_VALUES, 8);
/// Room for the COSE_Sign1 around it (the kid is a 32-byte thumbprint).
const SIGN1_MAX: usize = sign1::encoded_len(CLAIMS_MAX, 32);
// The longest ENCRYPT0 result fits the reply buffer; one of INFER (one value in, one
// out) fits what the non-secure publisher queues.
const _: () = assert!(encrypt::encoded_len(SIGN1_MAX, 32) <= secure_api::inference::RESULT_MAX);
const _: () = assert!(
    encrypt::encoded_len(sign1::encoded_len(cose_results::claims::max_encoded_len(1, 1), 32), 32)
        <= secure_api::inference::INFER_RESULT_MAX
);
/// The longest result in `format` (`secure_api::inference::FORMAT_*`) of `values`
/// output values and `inputs` input values (an input tensor's SHA-256 counts as 8),
/// every text and the nonce at their limits: a request whose output cannot hold it is
/// refused before the model runs or a result number is used.
pub const fn max_len(format: u32, values: usize, inputs: usize) -> usize {
    let claims = cose_results::claims::max_encoded_len(values, inputs);
    match format {
        secure_api::inference::FORMAT_CBOR => claims,
        secure_api::inference::FORMAT_SIGN1 => sign1::encoded_len(claims, 32),
        _ => encrypt::encoded_len(sign1::encoded_len(claims, 32), 32),
    }
}

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

/// Where ENCRYPT0 results go: a P-256 public key, as its comb table, and its
/// thumbprint.
#[derive(Clone, Copy)]
pub struct Recipient<'a> {
    /// The point's comb table (32 KiB, made once): each result's ECDH is then a
    /// fixed-base multiplication.
    table: &'a p256_sign::PublicKeyTable,
    kid: [u8; 32],
}

impl<'a> Recipient<'a> {
    /// From an uncompressed SEC1 point, whose comb table is made in `table`; `None`
    /// if it is not a point of the curve (the table is then left empty).
    pub fn new(sec1: &[u8], table: &'a mut p256_sign::PublicKeyTable) -> Option<Self> {
        let key: [u8; 65] = sec1.try_into().ok()?;
        let point = Ec2Key::from_sec1(sec1).ok()?;
        table.set(&key).ok()?;
        Some(Recipient { table, kid: thumbprint(&point) })
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

/// Bytes of stack overwritten below [`encrypt0`]'s frame after the encryption: the
/// frames of [`encrypt0_below`] held the ephemeral scalar, the shared secret, the
/// HKDF's HMAC states (the PRK), the content key and its AES key schedule, in copies
/// that no wipe of a variable reaches (without it, the target test
/// `sign_leaves_no_secret` finds 9 copies in the dead stack after a result: the
/// ephemeral scalar as bytes, limbs and `d R`, and the content key HKDF's HMAC
/// states; with it, none).
const ENCRYPT_STACK_WIPE: usize = 4096;

/// Signs, then encrypts the COSE_Sign1 for `recipient` (ECDH-ES + HKDF-256, A256GCM).
pub fn encrypt0(
    platform: &mut dyn Platform,
    signer: &Signer,
    recipient: &Recipient<'_>,
    claims: &Claims<'_>,
    out: &mut [u8],
) -> Result<usize, Status> {
    let mut inner = [0u8; SIGN1_MAX];
    let n = sign1(platform, signer, claims, &mut inner)?;
    let written = encrypt0_below(platform, recipient, claims.counter, inner.get(..n), out);
    zeroize::zeroize_stack::<ENCRYPT_STACK_WIPE>();
    written
}

/// The encryption of [`encrypt0`] in frames of its own, below the caller's, which
/// [`encrypt0`] then wipes.
#[inline(never)]
fn encrypt0_below(
    platform: &mut dyn Platform,
    recipient: &Recipient<'_>,
    counter: u64,
    inner: Option<&[u8]>,
    out: &mut [u8],
) -> Result<usize, Status> {
    let inner = inner.ok_or(Status::ERROR_GENERIC_ERROR)?;
    let (secret, iv) = ephemeral_key_and_iv(platform, counter)?;
    // The ephemeral public key and the x coordinate of the ephemeral scalar times the
    // recipient's point, both by p256-sign's constant-time fixed-base comb (the
    // recipient's table made once), with one inversion for the two.
    let (public, shared) =
        secret.public_key_and_diffie_hellman(recipient.table).map_err(|_| Status::ERROR_GENERIC_ERROR)?;
    drop(secret);
    let shared = Zeroizing::new(shared);
    let ephemeral = Ec2Key::from_sec1(&public).map_err(|_| Status::ERROR_GENERIC_ERROR)?;
    let mut context = [0u8; encrypt::KDF_CONTEXT_LEN];
    let mut aad = [0u8; encrypt::ENC_STRUCTURE_LEN];
    let failed = |_| Status::ERROR_GENERIC_ERROR;
    let context_len = encrypt::kdf_context(&encrypt::RECIPIENT_PROTECTED, &mut context).map_err(failed)?;
    let aad_len = encrypt::enc_structure(&encrypt::PROTECTED, &mut aad).map_err(failed)?;
    let (Some(context), Some(aad)) = (context.get(..context_len), aad.get(..aad_len)) else {
        return Err(Status::ERROR_GENERIC_ERROR);
    };
    let mut cek = Zeroizing::new([0u8; encrypt::KEY_LEN]);
    let hkdf = Hkdf::<Sha256>::new(None, shared.as_ref()); // no salt (RFC 9053 5.1)
    if hkdf.expand(context, cek.as_mut()).is_err() {
        return Err(Status::ERROR_GENERIC_ERROR);
    }
    let cipher = Aes256Gcm::new(cek.as_ref().into());
    encrypt::encode(inner, &iv, &ephemeral, &recipient.kid, out, |text| {
        let tag = cipher
            .encrypt_in_place_detached(&iv.into(), aad, text)
            .map_err(|_| cose_results::Error::Crypto)?;
        Ok(tag.into())
    })
    .map_err(|_| Status::ERROR_GENERIC_ERROR)
}

/// A fresh ephemeral scalar and IV. The RNG's bytes are hedged with the result
/// counter, which never repeats: `HKDF-SHA256(salt = counter, IKM = 32 random bytes,
/// info = "si.v1.encrypt0", 44)` gives the scalar and the IV, so that an RNG that
/// repeats itself (TF-M's dummy provisioning seeds its DRBG identically on every boot
/// under QEMU) still never reuses an ephemeral key or an AES-GCM nonce. The secret
/// (wiped when dropped) gives the public key and the ECDH at once.
fn ephemeral_key_and_iv(
    platform: &mut dyn Platform,
    counter: u64,
) -> Result<(p256_sign::SecretKey, [u8; encrypt::IV_LEN]), Status> {
    let mut seed = Zeroizing::new([0u8; 32]);
    let mut okm = Zeroizing::new([0u8; 32 + encrypt::IV_LEN]);
    for _ in 0..SCALAR_ATTEMPTS {
        platform.generate_random(seed.as_mut())?;
        Hkdf::<Sha256>::new(Some(&counter.to_le_bytes()), seed.as_ref())
            .expand(b"si.v1.encrypt0", okm.as_mut())
            .map_err(|_| Status::ERROR_GENERIC_ERROR)?;
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&okm[..32]);
        let Ok(secret) = p256_sign::SecretKey::from_bytes(&bytes) else {
            continue;
        };
        let mut iv = [0u8; encrypt::IV_LEN];
        iv.copy_from_slice(&okm[32..]);
        return Ok((secret, iv));
    }
    Err(Status::ERROR_INSUFFICIENT_ENTROPY)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RNG that repeats itself, as a DRBG seeded the same on every boot does: every
    /// byte is the one given.
    struct StuckRng(u8);

    impl Platform for StuckRng {
        fn generate_random(&mut self, out: &mut [u8]) -> Result<(), Status> {
            out.fill(self.0);
            Ok(())
        }
        fn its_get(&mut self, _: u64, _: &mut [u8]) -> Result<usize, Status> {
            Err(Status::ERROR_DOES_NOT_EXIST)
        }
        fn its_set(&mut self, _: u64, _: &[u8]) -> Result<(), Status> {
            Err(Status::ERROR_NOT_SUPPORTED)
        }
        fn call(
            &mut self,
            _: psa::Handle,
            _: i32,
            _: &[&[u8]],
            _: &mut [&mut [u8]],
        ) -> Result<psa::Reply, Status> {
            Err(Status::ERROR_NOT_SUPPORTED)
        }
    }

    #[test]
    fn a_repeating_rng_still_gives_each_result_its_own_key_and_iv() {
        let public = |(key, iv): (p256_sign::SecretKey, _)| (key.public_key(), iv);
        let (key0, iv0) = public(ephemeral_key_and_iv(&mut StuckRng(0x42), 0).unwrap());
        let (key1, iv1) = public(ephemeral_key_and_iv(&mut StuckRng(0x42), 1).unwrap());
        assert_ne!(key0, key1);
        assert_ne!(iv0, iv1);
        // The RNG's bytes count too: with the same counter, other bytes give another
        // pair (a key made from the public counter alone would be anyone's).
        let (other, other_iv) = public(ephemeral_key_and_iv(&mut StuckRng(0x43), 1).unwrap());
        assert_ne!(other, key1);
        assert_ne!(other_iv, iv1);
    }
}
