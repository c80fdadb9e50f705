//! COSE header maps (RFC 9052 section 3): the parameters these formats use, with
//! everything else refused (a verifier must not ignore, say, `crit`).

use crate::cbor::{Decoder, Encoder};
use crate::key::Ec2Key;
use crate::{Error, Result};

pub const ALG: i64 = 1;
pub const KID: i64 = 4;
pub const IV: i64 = 5;
/// `ephemeral key` (RFC 9053 section 6.3.1).
pub const EPHEMERAL_KEY: i64 = -1;

/// The longest `kid` accepted.
pub const KID_MAX: usize = 64;

/// The parameters of one header map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Headers<'a> {
    pub alg: Option<i64>,
    pub kid: Option<&'a [u8]>,
    pub iv: Option<&'a [u8]>,
    pub ephemeral: Option<Ec2Key>,
}

impl<'a> Headers<'a> {
    pub fn decode(d: &mut Decoder<'a>) -> Result<Self> {
        let mut h = Headers::default();
        for _ in 0..d.map()? {
            let duplicate = match d.int()? {
                ALG => h.alg.replace(d.int()?).is_some(),
                KID => {
                    let kid = d.bytes()?;
                    if kid.len() > KID_MAX {
                        return Err(Error::Unexpected("a kid of at most 64 bytes"));
                    }
                    h.kid.replace(kid).is_some()
                }
                IV => h.iv.replace(d.bytes()?).is_some(),
                EPHEMERAL_KEY => h.ephemeral.replace(Ec2Key::decode(d)?).is_some(),
                _ => return Err(Error::Unexpected("a known header parameter")),
            };
            if duplicate {
                return Err(Error::Unexpected("each header parameter once"));
            }
        }
        Ok(h)
    }

    /// Decodes a protected header's byte string, which must hold exactly one map.
    pub fn decode_protected(bytes: &'a [u8]) -> Result<Self> {
        let mut d = Decoder::new(bytes);
        let h = Headers::decode(&mut d)?;
        d.finish()?;
        Ok(h)
    }
}

/// Writes a map holding only `kid`.
pub(crate) fn encode_kid_only(e: &mut Encoder<'_>, kid: &[u8]) -> Result<()> {
    if kid.len() > KID_MAX {
        return Err(Error::Unexpected("a kid of at most 64 bytes"));
    }
    e.map(1)?;
    e.int(KID)?;
    e.bytes(kid)
}

/// The protected header bytes must carry exactly this algorithm and may carry a `kid`.
pub(crate) fn require_alg(protected: &Headers<'_>, unprotected: &Headers<'_>, alg: i64) -> Result<()> {
    if protected.alg != Some(alg) || unprotected.alg.is_some() {
        return Err(Error::Unexpected("the algorithm of this format in the protected header"));
    }
    if protected.iv.is_some() || protected.ephemeral.is_some() {
        return Err(Error::Unexpected("no IV or key in the protected header"));
    }
    Ok(())
}
