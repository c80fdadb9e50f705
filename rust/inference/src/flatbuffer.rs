//! A FlatBuffers reader that trusts nothing: every offset, length and index is
//! checked against the buffer before use, and a bad one is an error, never a panic or
//! an out-of-bounds read. Only what the TFLite schema needs.
//!
//! Layout reminders (flatbuffers.dev "Internals"): a buffer starts with a `u32`
//! offset to the root table. A table starts with an `i32` that, subtracted from the
//! table's position, gives its vtable: `u16` vtable size, `u16` table size, then one
//! `u16` per field (0 = absent) giving the field's offset inside the table. Fields
//! that refer to tables, vectors and strings hold a `u32` offset relative to the
//! field itself. A vector is a `u32` length followed by its elements.

use crate::{Error, Result};

#[derive(Clone, Copy, Debug)]
pub struct Buf<'a>(pub &'a [u8]);

impl<'a> Buf<'a> {
    fn bytes(&self, at: usize, n: usize) -> Result<&'a [u8]> {
        let end = at.checked_add(n).ok_or(Error::Malformed(crate::why("offset overflow")))?;
        self.0.get(at..end).ok_or(Error::Malformed(crate::why("offset past the end of the model")))
    }

    pub fn u8(&self, at: usize) -> Result<u8> {
        Ok(self.bytes(at, 1)?[0])
    }

    pub fn u16(&self, at: usize) -> Result<u16> {
        let b = self.bytes(at, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&self, at: usize) -> Result<u32> {
        let b = self.bytes(at, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&self, at: usize) -> Result<u64> {
        let b = self.bytes(at, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Follows a `u32` offset stored at `at` (relative to `at`).
    fn follow(&self, at: usize) -> Result<usize> {
        let off = self.u32(at)? as usize;
        at.checked_add(off)
            .filter(|&p| p < self.0.len())
            .ok_or(Error::Malformed(crate::why("offset past the end of the model")))
    }

    /// The root table.
    pub fn root(&self) -> Result<Table<'a>> {
        Table::at(*self, self.follow(0)?)
    }
}

/// A table whose vtable has been checked.
#[derive(Clone, Copy)]
pub struct Table<'a> {
    buf: Buf<'a>,
    pos: usize,
    vtable: usize,
    vtable_len: usize,
}

impl<'a> Table<'a> {
    fn at(buf: Buf<'a>, pos: usize) -> Result<Self> {
        let soffset = buf.u32(pos)? as i32 as i64;
        let vtable =
            (pos as i64).checked_sub(soffset).ok_or(Error::Malformed(crate::why("vtable offset")))?;
        let vtable =
            usize::try_from(vtable).map_err(|_| Error::Malformed(crate::why("vtable before the buffer")))?;
        let vtable_len = buf.u16(vtable)? as usize;
        let table_len = buf.u16(vtable + 2)? as usize;
        if vtable_len < 4 || !vtable_len.is_multiple_of(2) {
            return Err(Error::Malformed(crate::why("vtable size")));
        }
        buf.bytes(vtable, vtable_len)?;
        buf.bytes(pos, table_len.max(4))?;
        Ok(Table { buf, pos, vtable, vtable_len })
    }

    /// The position of field `id`'s value, if present.
    fn field(&self, id: usize) -> Result<Option<usize>> {
        let slot = 4 + 2 * id;
        if slot + 2 > self.vtable_len {
            return Ok(None);
        }
        match self.buf.u16(self.vtable + slot)? {
            0 => Ok(None),
            off => Ok(Some(self.pos + off as usize)),
        }
    }

    pub fn u8_or(&self, id: usize, default: u8) -> Result<u8> {
        self.field(id)?.map_or(Ok(default), |at| self.buf.u8(at))
    }

    pub fn u32_or(&self, id: usize, default: u32) -> Result<u32> {
        self.field(id)?.map_or(Ok(default), |at| self.buf.u32(at))
    }

    pub fn i32_or(&self, id: usize, default: i32) -> Result<i32> {
        Ok(self.u32_or(id, default as u32)? as i32)
    }

    pub fn bool_or(&self, id: usize, default: bool) -> Result<bool> {
        Ok(self.u8_or(id, u8::from(default))? != 0)
    }

    pub fn table(&self, id: usize) -> Result<Option<Table<'a>>> {
        match self.field(id)? {
            None => Ok(None),
            Some(at) => Ok(Some(Table::at(self.buf, self.buf.follow(at)?)?)),
        }
    }

    /// A vector of `elem`-byte scalars (or offsets).
    pub fn vector(&self, id: usize, elem: usize) -> Result<Option<Vector<'a>>> {
        match self.field(id)? {
            None => Ok(None),
            Some(at) => {
                let start = self.buf.follow(at)?;
                let len = self.buf.u32(start)?;
                let bytes =
                    (len as usize).checked_mul(elem).ok_or(Error::Malformed(crate::why("vector length")))?;
                self.buf.bytes(start + 4, bytes)?;
                // `follow` keeps positions below the buffer's length.
                let start =
                    u32::try_from(start + 4).map_err(|_| Error::Malformed(crate::why("model too large")))?;
                Ok(Some(Vector { buf: self.buf, start, len }))
            }
        }
    }
}

/// Where a checked [`Vector`] lies, without its buffer (8 bytes): what a model keeps
/// of its six top-level vectors, which share one buffer.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    start: u32,
    len: u32,
}

impl Span {
    pub const EMPTY: Span = Span { start: 0, len: 0 };

    /// The vector again, over the buffer it was read from (another buffer only
    /// makes its reads fail their checks).
    pub fn over(self, buf: &[u8]) -> Vector<'_> {
        Vector { buf: Buf(buf), start: self.start, len: self.len }
    }
}

/// A bounds-checked vector: its elements were checked to lie inside the buffer when
/// it was read. Small (16 bytes), since a model and every operator hold several.
#[derive(Clone, Copy, Debug)]
pub struct Vector<'a> {
    buf: Buf<'a>,
    /// Position of the first element.
    start: u32,
    len: u32,
}

impl<'a> Vector<'a> {
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Where it lies (see [`Span`]).
    pub fn span(&self) -> Span {
        Span { start: self.start, len: self.len }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements of a vector of bytes.
    pub fn bytes(&self) -> &'a [u8] {
        let start = self.start as usize;
        self.buf.0.get(start..start + self.len()).unwrap_or_default()
    }

    /// The position of element `i` of `elem` bytes (in range: checked when read).
    fn check(&self, i: usize, elem: usize) -> Result<usize> {
        if i < self.len() {
            Ok(self.start as usize + i * elem)
        } else {
            Err(Error::Malformed(crate::why("vector index")))
        }
    }

    pub fn i32(&self, i: usize) -> Result<i32> {
        Ok(self.buf.u32(self.check(i, 4)?)? as i32)
    }

    pub fn f32(&self, i: usize) -> Result<f32> {
        Ok(f32::from_bits(self.buf.u32(self.check(i, 4)?)?))
    }

    pub fn i64(&self, i: usize) -> Result<i64> {
        Ok(self.buf.u64(self.check(i, 8)?)? as i64)
    }

    /// Element `i` of a vector of tables.
    pub fn table(&self, i: usize) -> Result<Table<'a>> {
        let at = self.check(i, 4)?;
        Table::at(self.buf, self.buf.follow(at)?)
    }
}
