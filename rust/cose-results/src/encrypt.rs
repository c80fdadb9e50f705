//! A result encrypted for one recipient's P-256 key: tagged COSE_Encrypt with one
//! recipient using direct key agreement ECDH-ES + HKDF-256 (RFC 9052 sections 5.1
//! and 8.5.4, RFC 9053 section 6.3) and AES-256-GCM for the content:
//!
//! ```text
//! 96([ h'A10103' ({1: 3}), {5: iv}, ciphertext || tag,
//!      [ [ h'A1013818' ({1: -25}), {-1: ephemeral COSE_Key, 4: recipient kid}, h'' ] ] ])
//! ```
//!
//! COSE_Encrypt0 cannot carry a key agreement (it has no recipients), so the
//! original's name `ENCRYPT0` names this structure in the shell, and the format
//! documentation says so. The content key is
//! `HKDF-SHA256(salt = none, ikm = ECDH x-coordinate, info = COSE_KDF_Context, 32)`
//! with the context of RFC 9053 section 5.2 ([`kdf_context`]); the AAD is
//! `Enc_structure = ["Encrypt", protected, h'']`.

use crate::cbor::{Decoder, Encoder};
use crate::header::{require_alg, Headers, EPHEMERAL_KEY, IV, KID, KID_MAX};
use crate::key::Ec2Key;
use crate::{Error, Result};

pub const TAG: u64 = 96;
/// A256GCM.
pub const ALG_A256GCM: i64 = 3;
/// ECDH-ES + HKDF-256.
pub const ALG_ECDH_ES_HKDF_256: i64 = -25;
/// The protected header of the content layer, `{1: 3}`.
pub const PROTECTED: [u8; 3] = [0xa1, 0x01, 0x03];
/// The protected header of the recipient layer, `{1: -25}`.
pub const RECIPIENT_PROTECTED: [u8; 4] = [0xa1, 0x01, 0x38, 0x18];
pub const IV_LEN: usize = 12;
pub const GCM_TAG_LEN: usize = 16;
pub const KEY_LEN: usize = 32;
/// Bytes of [`kdf_context`] and of [`enc_structure`] for the headers above.
pub const KDF_CONTEXT_LEN: usize = 19;
pub const ENC_STRUCTURE_LEN: usize = 14;

/// A decoded COSE_Encrypt; nothing is decrypted yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encrypted<'a> {
    pub protected: &'a [u8],
    pub iv: [u8; IV_LEN],
    /// Ciphertext followed by the 16-byte GCM tag.
    pub ciphertext: &'a [u8],
    pub recipient_protected: &'a [u8],
    pub ephemeral: Ec2Key,
    /// The recipient key's id: required, so that a result names the key it is for.
    pub recipient_kid: &'a [u8],
}

/// `COSE_KDF_Context = [AlgorithmID 3, PartyUInfo [nil, nil, nil], PartyVInfo [nil,
/// nil, nil], SuppPubInfo [256, recipient protected]]`; returns its length.
pub fn kdf_context(recipient_protected: &[u8], out: &mut [u8]) -> Result<usize> {
    let mut e = Encoder::new(out);
    e.array(4)?;
    e.int(ALG_A256GCM)?;
    for _party in 0..2 {
        e.array(3)?;
        e.null()?;
        e.null()?;
        e.null()?;
    }
    e.array(2)?;
    e.uint(8 * KEY_LEN as u64)?;
    e.bytes(recipient_protected)?;
    Ok(e.len())
}

/// `Enc_structure = ["Encrypt", protected, h'']`, the GCM additional data.
pub fn enc_structure(protected: &[u8], out: &mut [u8]) -> Result<usize> {
    let mut e = Encoder::new(out);
    e.array(3)?;
    e.text("Encrypt")?;
    e.bytes(protected)?;
    e.bytes(&[])?;
    Ok(e.len())
}

/// The length of the tagged COSE_Encrypt that [`encode`] writes for `plaintext`
/// bytes and a recipient kid of `kid` bytes.
pub const fn encoded_len(plaintext: usize, kid: usize) -> usize {
    let s = Encoder::string_len;
    // The ephemeral COSE_Key: {1: 2, -1: 1, -2: x, -3: y}.
    let key = 1 + 2 + 2 + 1 + s(32) + 1 + s(32);
    Encoder::head_len(TAG)
        + 1
        + s(PROTECTED.len())
        + 2
        + s(IV_LEN)
        + s(plaintext + GCM_TAG_LEN)
        + 1
        + 1
        + s(RECIPIENT_PROTECTED.len())
        + 1
        + 1
        + key
        + 1
        + s(kid)
        + 1
}

/// Writes the tagged COSE_Encrypt of `plaintext` into `out`; returns its length.
/// `seal` gets the plaintext in place (the ciphertext's room in `out`) and returns
/// the GCM tag; it derives the content key with [`kdf_context`] and authenticates
/// [`enc_structure`] of [`PROTECTED`].
pub fn encode(
    plaintext: &[u8],
    iv: &[u8; IV_LEN],
    ephemeral: &Ec2Key,
    recipient_kid: &[u8],
    out: &mut [u8],
    seal: impl FnOnce(&mut [u8]) -> Result<[u8; GCM_TAG_LEN]>,
) -> Result<usize> {
    if recipient_kid.len() > KID_MAX {
        return Err(Error::Unexpected("a kid of at most 64 bytes"));
    }
    let mut e = Encoder::new(out);
    e.tag(TAG)?;
    e.array(4)?;
    e.bytes(&PROTECTED)?;
    e.map(1)?;
    e.int(IV)?;
    e.bytes(iv)?;
    e.bytes_with(plaintext.len() + GCM_TAG_LEN, |room| {
        let (text, tag) = room.split_at_mut(plaintext.len());
        text.copy_from_slice(plaintext);
        tag.copy_from_slice(&seal(text)?);
        Ok(())
    })?;
    e.array(1)?;
    e.array(3)?;
    e.bytes(&RECIPIENT_PROTECTED)?;
    e.map(2)?;
    e.int(EPHEMERAL_KEY)?;
    ephemeral.encode(&mut e)?;
    e.int(KID)?;
    e.bytes(recipient_kid)?;
    e.bytes(&[])?;
    Ok(e.len())
}

impl<'a> Encrypted<'a> {
    /// Reads a tagged COSE_Encrypt with one ECDH-ES + HKDF-256 recipient that names
    /// its key by a `kid`, and A256GCM; every CBOR head in its shortest form.
    pub fn decode(bytes: &'a [u8]) -> Result<Self> {
        let mut d = Decoder::new(bytes);
        if d.tag()? != TAG {
            return Err(Error::Unexpected("the COSE_Encrypt tag 96"));
        }
        if d.array()? != 4 {
            return Err(Error::Unexpected("a COSE_Encrypt of 4 items"));
        }
        let protected = d.bytes()?;
        let unprotected = Headers::decode(&mut d)?;
        require_alg(&Headers::decode_protected(protected)?, &unprotected, ALG_A256GCM)?;
        let iv = unprotected.iv.and_then(|iv| iv.try_into().ok()).ok_or(Error::Unexpected("a 12-byte IV"))?;
        if unprotected.ephemeral.is_some() {
            return Err(Error::Unexpected("the ephemeral key in the recipient"));
        }
        let ciphertext = d.bytes()?;
        if ciphertext.len() < GCM_TAG_LEN {
            return Err(Error::Unexpected("a ciphertext with its 16-byte tag"));
        }
        if d.array()? != 1 || d.array()? != 3 {
            return Err(Error::Unexpected("one recipient of 3 items"));
        }
        let recipient_protected = d.bytes()?;
        let recipient = Headers::decode(&mut d)?;
        let recipient_protected_headers = Headers::decode_protected(recipient_protected)?;
        require_alg(&recipient_protected_headers, &recipient, ALG_ECDH_ES_HKDF_256)?;
        let ephemeral = recipient.ephemeral.ok_or(Error::Unexpected("the ephemeral key"))?;
        let recipient_kid = recipient.kid.ok_or(Error::Unexpected("the recipient's kid"))?;
        if recipient.iv.is_some() || recipient_protected_headers.kid.is_some() {
            return Err(Error::Unexpected("a recipient with only the ephemeral key and kid"));
        }
        if !d.bytes()?.is_empty() {
            return Err(Error::Unexpected("an empty recipient ciphertext (direct key agreement)"));
        }
        d.finish()?;
        Ok(Encrypted { protected, iv, ciphertext, recipient_protected, ephemeral, recipient_kid })
    }

    pub fn kdf_context(&self, out: &mut [u8]) -> Result<usize> {
        kdf_context(self.recipient_protected, out)
    }

    pub fn enc_structure(&self, out: &mut [u8]) -> Result<usize> {
        enc_structure(self.protected, out)
    }
}
