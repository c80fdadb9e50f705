//! The strictness coset leaves to its caller: coset reads CBOR with ciborium, which
//! accepts any head length and indefinite lengths, so a result with a head written
//! longer (the tag 18 as `d8 12`, a 32-byte kid as `59 0020`) would decode to the same
//! message, and the unsigned heads around the signed parts would let anyone make a second
//! valid copy. docs/formats.md ("Strict decoding and malleability") promises the
//! preferred serialization only (RFC 8949 section 4.2.1): this walk over the raw bytes
//! refuses every head not in its shortest form, indefinite lengths, what is not
//! well-formed, and bytes after the item, before coset sees them.
//!
//! Written here rather than taken from cose-results' decoder, so that the verifier's
//! check does not share code with the device's encoder.

use crate::Malformed;

/// Nesting the formats never reach (the deepest: tag, COSE_Encrypt, recipients,
/// recipient, header, COSE_Key, six levels).
const DEPTH_MAX: usize = 16;

const NON_PREFERRED: Malformed =
    Malformed::Cbor("a CBOR head longer than needed (not the preferred serialization)");
const TRUNCATED: Malformed = Malformed::Cbor("truncated CBOR");

/// Checks that `bytes` are exactly one well-formed CBOR item in preferred serialization.
pub(crate) fn check(bytes: &[u8]) -> Result<(), Malformed> {
    let mut walk = Walk { bytes, at: 0 };
    walk.item(0)?;
    if walk.at != bytes.len() {
        return Err(Malformed::Cbor("bytes after the end of the item"));
    }
    Ok(())
}

struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Walk<'_> {
    fn take(&mut self, n: u64) -> Result<&[u8], Malformed> {
        let n = usize::try_from(n).map_err(|_| TRUNCATED)?;
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len()).ok_or(TRUNCATED)?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    /// One head: its major type and argument, the argument in its shortest form.
    fn head(&mut self) -> Result<(u8, u64), Malformed> {
        let initial = self.take(1)?[0];
        let (major, info) = (initial >> 5, initial & 0x1f);
        if major == 7 {
            // false, true, null, undefined; the formats carry no float and no other
            // simple value (their floats travel as bytes).
            return match info {
                20..=23 => Ok((7, u64::from(info))),
                _ => Err(Malformed::Cbor("a CBOR float or simple value, which these formats do not use")),
            };
        }
        let (argument, least) = match info {
            0..=23 => return Ok((major, u64::from(info))),
            24 => (u64::from(self.take(1)?[0]), 24),
            25 => (u64::from(u16::from_be_bytes(self.fixed()?)), 0x100),
            26 => (u64::from(u32::from_be_bytes(self.fixed()?)), 0x1_0000),
            27 => (u64::from_be_bytes(self.fixed()?), 0x1_0000_0000),
            31 => return Err(Malformed::Cbor("an indefinite length (not the preferred serialization)")),
            _ => return Err(Malformed::Cbor("a well-formed CBOR head (additional information 28 to 30)")),
        };
        if argument < least {
            return Err(NON_PREFERRED);
        }
        Ok((major, argument))
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64)?);
        Ok(out)
    }

    fn item(&mut self, depth: usize) -> Result<(), Malformed> {
        if depth > DEPTH_MAX {
            return Err(Malformed::Cbor("CBOR nested deeper than these formats"));
        }
        match self.head()? {
            (0 | 1 | 7, _) => Ok(()),
            (2, len) => self.take(len).map(|_| ()),
            (3, len) => {
                let text = self.take(len)?;
                std::str::from_utf8(text).map(|_| ()).map_err(|_| Malformed::Cbor("a text string in UTF-8"))
            }
            (4, count) => self.items(count, depth),
            (5, pairs) => self.items(pairs.checked_mul(2).ok_or(TRUNCATED)?, depth),
            _ => self.item(depth + 1), // 6, a tag: its content
        }
    }

    fn items(&mut self, count: u64, depth: usize) -> Result<(), Malformed> {
        // Each item takes at least a byte: a count beyond what is left is a cut item,
        // refused before looping over it.
        if count > (self.bytes.len() - self.at) as u64 {
            return Err(TRUNCATED);
        }
        for _ in 0..count {
            self.item(depth + 1)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
