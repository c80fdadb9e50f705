//! COSE_Key for P-256 public keys (RFC 9053 section 7.1.1) and the input of their
//! COSE Key Thumbprint (RFC 9679), which identifies a key as a `kid`.

use crate::cbor::{Decoder, Encoder};
use crate::{Error, Result};

/// `kty`: EC2.
pub const KTY_EC2: i64 = 2;
/// `crv`: P-256.
pub const CRV_P256: i64 = 1;
const KTY: i64 = 1;
const CRV: i64 = -1;
const X: i64 = -2;
const Y: i64 = -3;

/// Bytes of [`thumbprint_input`].
pub const THUMBPRINT_INPUT_LEN: usize = 75;

/// An uncompressed P-256 public key as its two coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ec2Key {
    pub x: [u8; 32],
    pub y: [u8; 32],
}

impl Ec2Key {
    /// From SEC1 uncompressed form, `04 || x || y`.
    pub fn from_sec1(point: &[u8]) -> Result<Self> {
        match point {
            [0x04, xy @ ..] if xy.len() == 64 => {
                let mut key = Ec2Key { x: [0; 32], y: [0; 32] };
                key.x.copy_from_slice(&xy[..32]);
                key.y.copy_from_slice(&xy[32..]);
                Ok(key)
            }
            _ => Err(Error::Unexpected("an uncompressed P-256 point")),
        }
    }

    pub fn to_sec1(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[0] = 0x04;
        out[1..33].copy_from_slice(&self.x);
        out[33..].copy_from_slice(&self.y);
        out
    }

    /// `{1: 2, -1: 1, -2: x, -3: y}` in deterministic order: the required parameters
    /// only, as both the ephemeral-key header and RFC 9679 use them.
    pub fn encode(&self, e: &mut Encoder<'_>) -> Result<()> {
        e.map(4)?;
        e.int(KTY)?;
        e.int(KTY_EC2)?;
        e.int(CRV)?;
        e.int(CRV_P256)?;
        e.int(X)?;
        e.bytes(&self.x)?;
        e.int(Y)?;
        e.bytes(&self.y)
    }

    /// Reads an EC2 P-256 COSE_Key; parameters in any order, `kid` and `alg` allowed
    /// and ignored, anything else refused.
    pub fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let entries = d.map()?;
        let (mut kty, mut crv, mut x, mut y) = (None, None, None, None);
        for _ in 0..entries {
            let coordinate = |d: &mut Decoder<'_>| -> Result<[u8; 32]> {
                d.bytes()?.try_into().map_err(|_| Error::Unexpected("a 32-byte coordinate"))
            };
            let duplicate = match d.int()? {
                KTY => kty.replace(d.int()?).is_some(),
                CRV => crv.replace(d.int()?).is_some(),
                X => x.replace(coordinate(d)?).is_some(),
                Y => y.replace(coordinate(d)?).is_some(),
                2 => d.bytes().map(|_| false)?, // kid
                3 => d.int().map(|_| false)?,   // alg
                _ => return Err(Error::Unexpected("a known COSE_Key parameter")),
            };
            if duplicate {
                return Err(Error::Unexpected("each key parameter once"));
            }
        }
        if kty != Some(KTY_EC2) || crv != Some(CRV_P256) {
            return Err(Error::Unexpected("an EC2 P-256 key"));
        }
        match (x, y) {
            (Some(x), Some(y)) => Ok(Ec2Key { x, y }),
            _ => Err(Error::Unexpected("both coordinates")),
        }
    }
}

/// The bytes whose SHA-256 is the key's COSE Key Thumbprint (RFC 9679 section 3).
pub fn thumbprint_input(key: &Ec2Key) -> [u8; THUMBPRINT_INPUT_LEN] {
    let mut out = [0u8; THUMBPRINT_INPUT_LEN];
    let mut e = Encoder::new(&mut out);
    // 75 bytes always fit: the length is fixed by the key's fixed-size coordinates.
    let _ = key.encode(&mut e);
    out
}
