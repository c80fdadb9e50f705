//! The CBOR subset the results need: unsigned and negative integers, byte and text
//! strings, arrays, maps, tags and simple values, definite lengths only, shortest
//! argument encoding (RFC 8949 section 4.2.1, "preferred serialization").

use crate::{Error, Result};

pub(crate) const UNSIGNED: u8 = 0;
pub(crate) const NEGATIVE: u8 = 1;
pub(crate) const BYTES: u8 = 2;
const TEXT: u8 = 3;
const ARRAY: u8 = 4;
pub(crate) const MAP: u8 = 5;
pub(crate) const TAG: u8 = 6;
const NULL: u8 = 0xf6;

/// Writes CBOR items into a caller's buffer.
pub struct Encoder<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Encoder<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Encoder { buf, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self.len + bytes.len();
        self.buf.get_mut(self.len..end).ok_or(Error::BufferTooSmall)?.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Bytes of an item's head with argument `arg` (what [`Encoder::head`] writes).
    pub const fn head_len(arg: u64) -> usize {
        match arg {
            0..=23 => 1,
            24..=0xff => 2,
            0x100..=0xffff => 3,
            0x1_0000..=0xffff_ffff => 5,
            _ => 9,
        }
    }

    /// Bytes of a byte or text string of `n` bytes.
    pub const fn string_len(n: usize) -> usize {
        Self::head_len(n as u64) + n
    }

    fn head(&mut self, major: u8, arg: u64) -> Result<()> {
        let m = major << 5;
        match arg {
            0..=23 => self.raw(&[m | arg as u8]),
            24..=0xff => self.raw(&[m | 24, arg as u8]),
            0x100..=0xffff => {
                self.raw(&[m | 25])?;
                self.raw(&(arg as u16).to_be_bytes())
            }
            0x1_0000..=0xffff_ffff => {
                self.raw(&[m | 26])?;
                self.raw(&(arg as u32).to_be_bytes())
            }
            _ => {
                self.raw(&[m | 27])?;
                self.raw(&arg.to_be_bytes())
            }
        }
    }

    pub fn uint(&mut self, v: u64) -> Result<()> {
        self.head(UNSIGNED, v)
    }

    pub fn int(&mut self, v: i64) -> Result<()> {
        if v >= 0 {
            self.head(UNSIGNED, v as u64)
        } else {
            self.head(NEGATIVE, !(v as u64))
        }
    }

    pub fn bytes(&mut self, b: &[u8]) -> Result<()> {
        self.head(BYTES, b.len() as u64)?;
        self.raw(b)
    }

    pub fn text(&mut self, s: &str) -> Result<()> {
        self.head(TEXT, s.len() as u64)?;
        self.raw(s.as_bytes())
    }

    pub fn array(&mut self, n: u64) -> Result<()> {
        self.head(ARRAY, n)
    }

    pub fn map(&mut self, n: u64) -> Result<()> {
        self.head(MAP, n)
    }

    pub fn tag(&mut self, t: u64) -> Result<()> {
        self.head(TAG, t)
    }

    /// The simple value `null` (COSE's `nil`).
    pub fn null(&mut self) -> Result<()> {
        self.raw(&[NULL])
    }

    /// A byte string of `len` bytes whose content `fill` writes in place (encryption
    /// without a second buffer).
    pub fn bytes_with(&mut self, len: usize, fill: impl FnOnce(&mut [u8]) -> Result<()>) -> Result<()> {
        self.head(BYTES, len as u64)?;
        let end = self.len.checked_add(len).ok_or(Error::BufferTooSmall)?;
        fill(self.buf.get_mut(self.len..end).ok_or(Error::BufferTooSmall)?)?;
        self.len = end;
        Ok(())
    }
}

/// Reads CBOR items from untrusted bytes; every read is bounds-checked, and every
/// head must be in its shortest form ([`Error::NonPreferred`] otherwise), so that an
/// item has one encoding only.
pub struct Decoder<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Decoder { buf, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).ok_or(Error::Truncated)?;
        let s = self.buf.get(self.at..end).ok_or(Error::Truncated)?;
        self.at = end;
        Ok(s)
    }

    /// Reads a head; refuses one longer than its argument needs.
    fn head(&mut self) -> Result<(u8, u64)> {
        let start = self.at;
        let b = self.take(1)?[0];
        let (major, info) = (b >> 5, b & 0x1f);
        let arg = match info {
            0..=23 => info as u64,
            24 => self.take(1)?[0] as u64,
            25 => u16::from_be_bytes([self.take(1)?[0], self.take(1)?[0]]) as u64,
            26 => {
                let s = self.take(4)?;
                u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as u64
            }
            27 => {
                let s = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(s);
                u64::from_be_bytes(a)
            }
            _ => return Err(Error::Unexpected("indefinite length or reserved")),
        };
        // Preferred serialization: an argument the next shorter head would hold is a
        // second encoding of the same item, which a strict decoder refuses.
        if Encoder::head_len(arg) != self.at - start {
            return Err(Error::NonPreferred);
        }
        Ok((major, arg))
    }

    fn expect(&mut self, major: u8, what: &'static str) -> Result<u64> {
        let (m, arg) = self.head()?;
        if m != major {
            return Err(Error::Unexpected(what));
        }
        Ok(arg)
    }

    /// The major type of the next item, without consuming it.
    pub fn peek_major(&self) -> Result<u8> {
        self.buf.get(self.at).map(|b| b >> 5).ok_or(Error::Truncated)
    }

    pub fn uint(&mut self) -> Result<u64> {
        self.expect(UNSIGNED, "an unsigned integer")
    }

    pub fn int(&mut self) -> Result<i64> {
        match self.head()? {
            (UNSIGNED, v) if v <= i64::MAX as u64 => Ok(v as i64),
            (NEGATIVE, v) if v <= i64::MAX as u64 => Ok(!(v as i64)),
            _ => Err(Error::Unexpected("an integer")),
        }
    }

    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.expect(BYTES, "a byte string")?;
        self.take(usize::try_from(n).map_err(|_| Error::Truncated)?)
    }

    pub fn text(&mut self) -> Result<&'a str> {
        let n = self.expect(TEXT, "a text string")?;
        let b = self.take(usize::try_from(n).map_err(|_| Error::Truncated)?)?;
        core::str::from_utf8(b).map_err(|_| Error::Unexpected("UTF-8 text"))
    }

    pub fn array(&mut self) -> Result<u64> {
        self.expect(ARRAY, "an array")
    }

    pub fn map(&mut self) -> Result<u64> {
        self.expect(MAP, "a map")
    }

    pub fn tag(&mut self) -> Result<u64> {
        self.expect(TAG, "a tag")
    }

    /// Fails if bytes remain.
    pub fn finish(&self) -> Result<()> {
        if self.at == self.buf.len() {
            Ok(())
        } else {
            Err(Error::TrailingBytes)
        }
    }
}
