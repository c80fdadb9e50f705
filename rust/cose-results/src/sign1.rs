//! Tagged COSE_Sign1 with ES256 (RFC 9052 section 4.2, RFC 9053 section 2.1):
//!
//! ```text
//! 18([ h'A10126' ({1: -7}), {4: kid}, payload, signature (64 bytes: r || s) ])
//! ```
//!
//! The signer is a closure over the ToBeSigned bytes, so that this crate holds no key
//! and no crypto: the secure world hashes and signs where the key lives.

use crate::cbor::{Decoder, Encoder};
use crate::header::{encode_kid_only, require_alg, Headers};
use crate::{Error, Result};

pub const TAG: u64 = 18;
/// ES256: ECDSA P-256 with SHA-256.
pub const ALG_ES256: i64 = -7;
/// The protected header, `{1: -7}`.
pub const PROTECTED: [u8; 3] = [0xa1, 0x01, 0x26];
pub const SIGNATURE_LEN: usize = 64;
const CONTEXT: &str = "Signature1";

/// A decoded COSE_Sign1; the signature is not checked yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sign1<'a> {
    pub protected: &'a [u8],
    /// The signer's key id, from the unprotected header (or the protected one): required.
    pub kid: &'a [u8],
    pub payload: &'a [u8],
    pub signature: [u8; SIGNATURE_LEN],
}

/// Writes `Sig_structure = ["Signature1", protected, h'', payload]`; returns its length.
pub fn to_be_signed(protected: &[u8], payload: &[u8], out: &mut [u8]) -> Result<usize> {
    let mut e = Encoder::new(out);
    e.array(4)?;
    e.text(CONTEXT)?;
    e.bytes(protected)?;
    e.bytes(&[])?;
    e.bytes(payload)?;
    Ok(e.len())
}

/// The length of the tagged COSE_Sign1 that [`encode`] writes for a payload of
/// `payload` bytes and a kid of `kid` bytes; `out` must also hold the ToBeSigned
/// bytes, which are shorter.
pub const fn encoded_len(payload: usize, kid: usize) -> usize {
    let s = Encoder::string_len;
    Encoder::head_len(TAG) + 1 + s(PROTECTED.len()) + 2 + s(kid) + s(payload) + s(SIGNATURE_LEN)
}

/// Signs `payload` and writes the tagged COSE_Sign1 into `out`; returns its length.
/// `sign` gets the ToBeSigned bytes and returns the raw `r || s` signature. `out`
/// doubles as the ToBeSigned buffer, so nothing else is needed.
pub fn encode(
    payload: &[u8],
    kid: &[u8],
    out: &mut [u8],
    sign: impl FnOnce(&[u8]) -> Result<[u8; SIGNATURE_LEN]>,
) -> Result<usize> {
    let n = to_be_signed(&PROTECTED, payload, out)?;
    let signature = sign(&out[..n])?;
    let mut e = Encoder::new(out);
    e.tag(TAG)?;
    e.array(4)?;
    e.bytes(&PROTECTED)?;
    encode_kid_only(&mut e, kid)?;
    e.bytes(payload)?;
    e.bytes(&signature)?;
    Ok(e.len())
}

impl<'a> Sign1<'a> {
    /// Reads a tagged COSE_Sign1 whose protected header names ES256 and that names its
    /// key by a `kid`; every CBOR head in its shortest form.
    pub fn decode(bytes: &'a [u8]) -> Result<Self> {
        let mut d = Decoder::new(bytes);
        if d.tag()? != TAG {
            return Err(Error::Unexpected("the COSE_Sign1 tag 18"));
        }
        if d.array()? != 4 {
            return Err(Error::Unexpected("a COSE_Sign1 of 4 items"));
        }
        let protected = d.bytes()?;
        let unprotected = Headers::decode(&mut d)?;
        let protected_headers = Headers::decode_protected(protected)?;
        require_alg(&protected_headers, &unprotected, ALG_ES256)?;
        if unprotected.iv.is_some() || unprotected.ephemeral.is_some() {
            return Err(Error::Unexpected("no IV or key in a COSE_Sign1"));
        }
        let kid = match (protected_headers.kid, unprotected.kid) {
            (Some(kid), None) | (None, Some(kid)) => kid,
            (Some(_), Some(_)) => return Err(Error::Unexpected("one kid")),
            (None, None) => return Err(Error::Unexpected("a kid (the signing key's thumbprint)")),
        };
        let payload = d.bytes()?;
        let signature = d.bytes()?.try_into().map_err(|_| Error::Unexpected("a 64-byte ES256 signature"))?;
        d.finish()?;
        Ok(Sign1 { protected, kid, payload, signature })
    }

    /// The bytes the signature covers.
    pub fn to_be_signed(&self, out: &mut [u8]) -> Result<usize> {
        to_be_signed(self.protected, self.payload, out)
    }
}
