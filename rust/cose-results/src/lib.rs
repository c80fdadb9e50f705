//! Inference results as CBOR (RFC 8949), `no_std`, sans-IO: encoders write into the
//! caller's buffer, decoders are total functions over untrusted bytes.
//!
//! The plain result is the original sample's: a one-entry map whose key is the
//! private-use label -80000 and whose value is the model's output, a float32 as a
//! 4-byte little-endian byte string — so the original's decoder reads it:
//!
//! ```text
//! A1                # map(1)
//!    3A 0001387F    # negative(79999) = -80000
//!    44 xx xx xx xx # bytes(4): the f32, little-endian
//! ```
#![no_std]
#![forbid(unsafe_code)]

mod cbor;

pub use cbor::{Decoder, Encoder};

/// The claim label of the model's output value.
pub const LABEL_VALUE: i64 = -80000;
/// Bytes of a plain result.
pub const PLAIN_LEN: usize = 11;

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
    /// Bytes left over after the item.
    TrailingBytes,
}

pub type Result<T> = core::result::Result<T, Error>;

/// Writes the plain result `{-80000: h'<f32 LE>'}`; returns its length.
pub fn encode_plain(value: f32, out: &mut [u8]) -> Result<usize> {
    let mut e = Encoder::new(out);
    e.map(1)?;
    e.int(LABEL_VALUE)?;
    e.bytes(&value.to_le_bytes())?;
    Ok(e.len())
}

/// Reads a plain result.
pub fn decode_plain(bytes: &[u8]) -> Result<f32> {
    let mut d = Decoder::new(bytes);
    if d.map()? != 1 {
        return Err(Error::Unexpected("a map of one claim"));
    }
    if d.int()? != LABEL_VALUE {
        return Err(Error::Unexpected("the value label -80000"));
    }
    let value: [u8; 4] = d.bytes()?.try_into().map_err(|_| Error::Unexpected("a 4-byte float"))?;
    d.finish()?;
    Ok(f32::from_le_bytes(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_result_is_the_original_samples_layout() {
        let mut out = [0u8; 16];
        let n = encode_plain(1.0, &mut out).unwrap();
        assert_eq!(&out[..n], &[0xA1, 0x3A, 0x00, 0x01, 0x38, 0x7F, 0x44, 0x00, 0x00, 0x80, 0x3F]);
        assert_eq!(n, PLAIN_LEN);
        assert_eq!(decode_plain(&out[..n]), Ok(1.0));
    }

    #[test]
    fn decoding_refuses_everything_else() {
        let good = [0xA1, 0x3A, 0x00, 0x01, 0x38, 0x7F, 0x44, 0x00, 0x00, 0x80, 0x3F];
        for cut in 0..good.len() {
            assert!(decode_plain(&good[..cut]).is_err(), "cut {cut}");
        }
        let mut long = good.to_vec();
        long.push(0);
        assert_eq!(decode_plain(&long), Err(Error::TrailingBytes));
        let mut other_label = good;
        other_label[5] = 0x7E;
        assert!(matches!(decode_plain(&other_label), Err(Error::Unexpected(_))));
        let mut three_bytes = good;
        three_bytes[6] = 0x43;
        assert!(decode_plain(&three_bytes[..10]).is_err());
        assert_eq!(encode_plain(0.5, &mut [0u8; 10]), Err(Error::BufferTooSmall));
    }
}
