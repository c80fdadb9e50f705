//! Just enough DER (X.690) to write a PKCS#10 request into a caller's buffer: lengths
//! are computed before headers are written, so nothing is built twice.

use crate::{Error, Result};

pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OID: u8 = 0x06;
pub const UTF8_STRING: u8 = 0x0C;
/// `[0]` constructed, context-specific (the request's attributes).
pub const CONTEXT_0: u8 = 0xA0;

/// Bytes of a TLV whose content has `len` bytes (lengths below 65536).
pub const fn tlv_len(len: usize) -> usize {
    1 + if len < 0x80 {
        1
    } else if len < 0x100 {
        2
    } else {
        3
    } + len
}

pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self.len + bytes.len();
        self.buf.get_mut(self.len..end).ok_or(Error::BufferTooSmall)?.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// A tag and the length of the content that the caller writes next.
    pub fn header(&mut self, tag: u8, len: usize) -> Result<()> {
        match len {
            0..=0x7f => self.put(&[tag, len as u8]),
            0x80..=0xff => self.put(&[tag, 0x81, len as u8]),
            0x100..=0xffff => self.put(&[tag, 0x82, (len >> 8) as u8, len as u8]),
            _ => Err(Error::BufferTooSmall),
        }
    }

    pub fn tlv(&mut self, tag: u8, content: &[u8]) -> Result<()> {
        self.header(tag, content.len())?;
        self.put(content)
    }
}

/// A 32-byte big-endian unsigned integer as DER INTEGER content: leading zeros
/// dropped, one zero added if the top bit is set. Returns the content's bounds.
pub fn unsigned_integer(value: &[u8; 32], out: &mut [u8; 33]) -> usize {
    let skip = value.iter().take_while(|&&b| b == 0).count().min(31);
    let digits = &value[skip..];
    let pad = usize::from(digits[0] & 0x80 != 0);
    out[..pad].fill(0);
    out[pad..pad + digits.len()].copy_from_slice(digits);
    pad + digits.len()
}
