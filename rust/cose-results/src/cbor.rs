//! The CBOR subset the results need, on `minicbor` (no heap): unsigned and negative
//! integers, byte and text strings, arrays, maps, tags and `null`, definite lengths
//! only. `minicbor` writes every head in its shortest form (RFC 8949 section 4.2.1,
//! "preferred serialization") but reads longer ones too, so [`Decoder`] keeps a
//! shortest-head check of its own after each item (docs/formats.md, "Strict decoding
//! and malleability"). The sizes ([`Encoder::head_len`]) are ours too: `const`, for
//! buffer lengths known at compile time.

use minicbor::encode::write::{Cursor, EndOfSlice};

use crate::{Error, Result};

type MiniResult<T> = core::result::Result<T, minicbor::decode::Error>;

pub(crate) const MAP: u8 = 5;
pub(crate) const TAG: u8 = 6;
const TEXT: u8 = 3;

/// `minicbor`'s only failure over a slice is running out of it. (A function, not a
/// `From` impl, so that `minicbor` stays out of this crate's public API.)
fn fits<T>(r: core::result::Result<T, minicbor::encode::Error<EndOfSlice>>) -> Result<()> {
    r.map(|_| ()).map_err(|_| Error::BufferTooSmall)
}

/// Writes CBOR items into a caller's buffer.
pub struct Encoder<'a> {
    e: minicbor::Encoder<Cursor<&'a mut [u8]>>,
}

impl<'a> Encoder<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Encoder { e: minicbor::Encoder::new(Cursor::new(buf)) }
    }

    pub fn len(&self) -> usize {
        self.e.writer().position()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn written(&self) -> &[u8] {
        &self.e.writer().get_ref()[..self.len()]
    }

    pub fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        minicbor::encode::Write::write_all(self.e.writer_mut(), bytes).map_err(|_| Error::BufferTooSmall)
    }

    /// Bytes of an item's head with argument `arg` (what the encoder writes).
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

    pub fn uint(&mut self, v: u64) -> Result<()> {
        fits(self.e.u64(v))
    }

    pub fn int(&mut self, v: i64) -> Result<()> {
        fits(self.e.i64(v))
    }

    pub fn bytes(&mut self, b: &[u8]) -> Result<()> {
        fits(self.e.bytes(b))
    }

    pub fn text(&mut self, s: &str) -> Result<()> {
        fits(self.e.str(s))
    }

    pub fn array(&mut self, n: u64) -> Result<()> {
        fits(self.e.array(n))
    }

    pub fn map(&mut self, n: u64) -> Result<()> {
        fits(self.e.map(n))
    }

    pub fn tag(&mut self, t: u64) -> Result<()> {
        fits(self.e.tag(minicbor::data::Tag::new(t)))
    }

    /// The simple value `null` (COSE's `nil`).
    pub fn null(&mut self) -> Result<()> {
        fits(self.e.null())
    }

    /// A byte string of `len` bytes whose content `fill` writes in place (encryption
    /// without a second buffer).
    pub fn bytes_with(&mut self, len: usize, fill: impl FnOnce(&mut [u8]) -> Result<()>) -> Result<()> {
        fits(self.e.bytes_len(len as u64))?;
        let w = self.e.writer_mut();
        let start = w.position();
        let end = start.checked_add(len).ok_or(Error::BufferTooSmall)?;
        fill(w.get_mut().get_mut(start..end).ok_or(Error::BufferTooSmall)?)?;
        w.set_position(end);
        Ok(())
    }
}

/// Reads CBOR items from untrusted bytes; every read is bounds-checked, and every
/// head must be in its shortest form ([`Error::NonPreferred`] otherwise), so that an
/// item has one encoding only. The check follows `minicbor`'s read of the item, so an
/// item both too long and of another type (or cut short) is refused for the latter.
pub struct Decoder<'a> {
    d: minicbor::Decoder<'a>,
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Decoder { d: minicbor::Decoder::new(buf) }
    }

    /// Runs one `minicbor` read from the current position; returns its value and the
    /// bytes it took. Its errors become ours: the end of the input is [`Error::Truncated`],
    /// anything else (another type, an indefinite length, a reserved head, a value out
    /// of range) is `Unexpected(what)`.
    fn read<T>(
        &mut self,
        what: &'static str,
        read: impl FnOnce(&mut minicbor::Decoder<'a>) -> MiniResult<T>,
    ) -> Result<(T, usize)> {
        let start = self.d.position();
        match read(&mut self.d) {
            Ok(v) => Ok((v, self.d.position() - start)),
            Err(e) if e.is_end_of_input() => Err(Error::Truncated),
            Err(_) => Err(Error::Unexpected(what)),
        }
    }

    /// The shortest-head check `minicbor` does not make: a head of `head` bytes for an
    /// argument `arg` that a shorter head would hold is a second encoding of the same
    /// item, which a strict decoder refuses.
    fn preferred(arg: u64, head: usize) -> Result<()> {
        if Encoder::head_len(arg) == head {
            Ok(())
        } else {
            Err(Error::NonPreferred)
        }
    }

    /// A head-only item (integer, array, map, tag); returns its argument.
    fn head(
        &mut self,
        what: &'static str,
        read: fn(&mut minicbor::Decoder<'a>) -> MiniResult<u64>,
    ) -> Result<u64> {
        let (arg, len) = self.read(what, read)?;
        Self::preferred(arg, len)?;
        Ok(arg)
    }

    /// The major type of the next item, without consuming it.
    pub fn peek_major(&self) -> Result<u8> {
        self.d.input().get(self.d.position()).map(|b| b >> 5).ok_or(Error::Truncated)
    }

    pub fn uint(&mut self) -> Result<u64> {
        self.head("an unsigned integer", |d| d.u64())
    }

    pub fn int(&mut self) -> Result<i64> {
        let (v, len) = self.read("an integer", |d| d.i64())?;
        // A negative integer's argument is -1 - v, its bits' complement.
        Self::preferred(if v < 0 { !(v as u64) } else { v as u64 }, len)?;
        Ok(v)
    }

    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let (b, len) = self.read("a byte string", |d| d.bytes())?;
        Self::preferred(b.len() as u64, len - b.len())?;
        Ok(b)
    }

    pub fn text(&mut self) -> Result<&'a str> {
        let what = if self.peek_major() == Ok(TEXT) { "UTF-8 text" } else { "a text string" };
        let (s, len) = self.read(what, |d| d.str())?;
        Self::preferred(s.len() as u64, len - s.len())?;
        Ok(s)
    }

    pub fn array(&mut self) -> Result<u64> {
        self.head("an array", |d| d.array()?.ok_or_else(|| minicbor::decode::Error::message("indefinite")))
    }

    pub fn map(&mut self) -> Result<u64> {
        self.head("a map", |d| d.map()?.ok_or_else(|| minicbor::decode::Error::message("indefinite")))
    }

    pub fn tag(&mut self) -> Result<u64> {
        self.head("a tag", |d| d.tag().map(u64::from))
    }

    /// Fails if bytes remain.
    pub fn finish(&self) -> Result<()> {
        if self.d.position() == self.d.input().len() {
            Ok(())
        } else {
            Err(Error::TrailingBytes)
        }
    }
}
