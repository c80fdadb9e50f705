//! Inference results as CBOR claims (RFC 8949), signed as COSE_Sign1 and encrypted as
//! COSE_Encrypt (RFC 9052/9053); `no_std`, sans-IO, no crypto dependency: encoders
//! write into the caller's buffer and take the signature and the sealing as closures,
//! decoders are total functions over untrusted bytes. docs/formats.md has the CDDL.
//!
//! A result in the `CBOR` format is the claims map alone ([`Claims`]); `SIGN1` is the
//! claims map as the payload of a [`sign1`]; `ENCRYPT0` is that COSE_Sign1 as the
//! plaintext of an [`encrypt`] (sign, then encrypt).
#![no_std]
#![forbid(unsafe_code)]

mod cbor;
pub mod claims;
pub mod encrypt;
pub mod header;
pub mod key;
pub mod sign1;
#[cfg(test)]
mod tests;

pub use cbor::{Decoder, Encoder};
pub use claims::Claims;
pub use encrypt::Encrypted;
pub use key::Ec2Key;
pub use sign1::Sign1;

/// Errors of this crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The output buffer is too small.
    BufferTooSmall,
    /// The input ended inside an item.
    Truncated,
    /// Well-formed CBOR, but not what this format expects at this point.
    Unexpected(&'static str),
    /// A CBOR head longer than its argument needs (RFC 8949 section 4.2.1): the
    /// formats take the preferred serialization only, so that no one can re-encode a
    /// signed result into another valid one.
    NonPreferred,
    /// Bytes left over after the item.
    TrailingBytes,
    /// The signing or sealing closure failed.
    Crypto,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::BufferTooSmall => f.write_str("output buffer too small"),
            Error::Truncated => f.write_str("truncated CBOR"),
            Error::Unexpected(what) => write!(f, "malformed: expected {what}"),
            Error::NonPreferred => {
                f.write_str("a CBOR head longer than needed (not the preferred serialization)")
            }
            Error::TrailingBytes => f.write_str("bytes after the end of the item"),
            Error::Crypto => f.write_str("signing or encryption failed"),
        }
    }
}

pub type Result<T> = core::result::Result<T, Error>;

/// The shape of an encoded result, told by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The claims map.
    Cbor,
    /// Tag 18.
    Sign1,
    /// Tag 96 (`ENCRYPT0` in the shell).
    Encrypt,
}

impl Format {
    /// The format of `bytes`, by their first CBOR head only; decode to be sure.
    pub fn detect(bytes: &[u8]) -> Result<Format> {
        let mut d = Decoder::new(bytes);
        match d.peek_major()? {
            cbor::MAP => Ok(Format::Cbor),
            cbor::TAG => match d.tag()? {
                sign1::TAG => Ok(Format::Sign1),
                encrypt::TAG => Ok(Format::Encrypt),
                _ => Err(Error::Unexpected("tag 18 or 96")),
            },
            _ => Err(Error::Unexpected("a claims map or a COSE tag")),
        }
    }
}
