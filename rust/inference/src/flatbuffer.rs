//! A FlatBuffers reader that trusts nothing: every offset, length and index is
//! checked against the buffer before use, and a bad one is an error, never a panic or
//! an out-of-bounds read. Only what the TFLite schema needs.
//!
//! [`Table`] and [`Vector`] read the model's root for the loader and an operator's
//! options for its preparation, and everything in a build without convolutions (the
//! sine model's image: less flash). [`Reader`] reads tensors and operators, inlined:
//! with `CHECK`, every offset, vtable and vector, as [`Table`] checks them (what the
//! loader does once for each); without, only that each byte read lies in the buffer,
//! for the many reads that follow the loader's.
//!
//! Layout reminders (flatbuffers.dev "Internals"): a buffer starts with a `u32`
//! offset to the root table. A table starts with an `i32` that, subtracted from the
//! table's position, gives its vtable: `u16` vtable size, `u16` table size, then one
//! `u16` per field (0 = absent) giving the field's offset inside the table. Fields
//! that refer to tables, vectors and strings hold a `u32` offset relative to the
//! field itself. A vector is a `u32` length followed by its elements.
//!
//! [`Table`] and [`Vector`] are 8-byte positions that do not hold the buffer (the
//! reader passes it in; a model keeps it once), and a defect is the empty [`Bad`]:
//! so a handle, or a scalar, and its error fit in two registers, which is how the
//! Arm procedure call standard returns up to 8 bytes (anything larger goes through
//! the stack, which made the loader's code and frames large).

use core::num::NonZeroU32;

/// A structural defect: an offset, length, index or vtable outside the buffer.
// Reachable only through its `From` into `Error`, which `?` uses inside the crate: no
// user can make one.
#[allow(unnameable_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bad;

impl From<Bad> for crate::Error {
    #[inline(always)]
    fn from(_: Bad) -> Self {
        crate::Error::Malformed(why!("an offset, length, index or vtable lies outside the model"))
    }
}

/// What the reader returns.
pub type Fb<T> = core::result::Result<T, Bad>;

#[derive(Clone, Copy, Debug)]
pub struct Buf<'a>(pub &'a [u8]);

impl<'a> Buf<'a> {
    fn array<const N: usize>(self, at: usize) -> Fb<[u8; N]> {
        self.0.get(at..).and_then(|b| b.first_chunk::<N>()).copied().ok_or(Bad)
    }

    fn u16(self, at: usize) -> Fb<u16> {
        self.array(at).map(u16::from_le_bytes)
    }

    fn u32(self, at: usize) -> Fb<u32> {
        self.array(at).map(u32::from_le_bytes)
    }

    /// Follows a `u32` offset stored at `at` (relative to `at`).
    fn follow(self, at: usize) -> Fb<usize> {
        let off = self.u32(at)? as usize;
        at.checked_add(off).filter(|&p| p < self.0.len()).ok_or(Bad)
    }

    /// The root table.
    pub fn root(self) -> Fb<Table> {
        Table::at(self, self.follow(0)?)
    }

    /// The elements of a vector of bytes read from this buffer.
    pub fn bytes(self, v: Vector) -> &'a [u8] {
        self.bytes_of(v, 1)
    }

    /// The elements of a vector of `elem`-byte scalars, as bytes.
    /// (Empty if `elem` is not the size the vector was read with and the bytes do not
    /// fit: never a panic.)
    pub fn bytes_of(self, v: Vector, elem: usize) -> &'a [u8] {
        let start = v.start.get() as usize;
        let end = v.len().checked_mul(elem).and_then(|n| start.checked_add(n));
        end.and_then(|end| self.0.get(start..end)).unwrap_or_default()
    }
}

/// A table whose vtable and inline part were checked to lie inside the buffer.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    /// Never 0: the root offset is there.
    pos: NonZeroU32,
    vtable: u32,
}

impl Table {
    fn at(buf: Buf<'_>, pos: usize) -> Fb<Self> {
        let soffset = buf.u32(pos)? as i32 as i64;
        let vtable = usize::try_from((pos as i64).checked_sub(soffset).ok_or(Bad)?).map_err(|_| Bad)?;
        let vtable_len = buf.u16(vtable)? as usize;
        let table_len = buf.u16(vtable + 2)? as usize;
        if vtable_len < 4 || !vtable_len.is_multiple_of(2) {
            return Err(Bad);
        }
        // Both below the buffer's length plus 2^16: no overflow.
        buf.0.get(vtable..vtable + vtable_len).ok_or(Bad)?;
        buf.0.get(pos..pos + table_len.max(4)).ok_or(Bad)?;
        let pos = NonZeroU32::new(u32::try_from(pos).map_err(|_| Bad)?).ok_or(Bad)?;
        Ok(Table { pos, vtable: u32::try_from(vtable).map_err(|_| Bad)? })
    }

    /// The position of field `id`'s value, if present.
    fn field(self, buf: Buf<'_>, id: usize) -> Fb<Option<usize>> {
        let (vtable, slot) = (self.vtable as usize, 4 + 2 * id);
        if slot + 2 > buf.u16(vtable)? as usize {
            return Ok(None);
        }
        Ok(match buf.u16(vtable + slot)? {
            0 => None,
            off => Some(self.pos.get() as usize + off as usize),
        })
    }

    pub fn u8_or(self, buf: Buf<'_>, id: usize, default: u8) -> Fb<u8> {
        match self.field(buf, id)? {
            None => Ok(default),
            Some(at) => buf.0.get(at).copied().ok_or(Bad),
        }
    }

    pub fn u32_or(self, buf: Buf<'_>, id: usize, default: u32) -> Fb<u32> {
        match self.field(buf, id)? {
            None => Ok(default),
            Some(at) => buf.u32(at),
        }
    }

    pub fn i32_or(self, buf: Buf<'_>, id: usize, default: i32) -> Fb<i32> {
        Ok(self.u32_or(buf, id, default as u32)? as i32)
    }

    #[allow(dead_code)] // only FULLY_CONNECTED and MEAN read a boolean option
    pub fn bool_or(self, buf: Buf<'_>, id: usize, default: bool) -> Fb<bool> {
        Ok(self.u8_or(buf, id, u8::from(default))? != 0)
    }

    pub fn table(self, buf: Buf<'_>, id: usize) -> Fb<Option<Table>> {
        match self.field(buf, id)? {
            None => Ok(None),
            Some(at) => Ok(Some(Table::at(buf, buf.follow(at)?)?)),
        }
    }

    /// A vector of `elem`-byte scalars (or offsets); an absent one is empty.
    pub fn vector(self, buf: Buf<'_>, id: usize, elem: usize) -> Fb<Vector> {
        let Some(at) = self.field(buf, id)? else { return Ok(Vector::EMPTY) };
        let start = buf.follow(at)?;
        let len = buf.u32(start)?;
        let bytes = (len as usize).checked_mul(elem).ok_or(Bad)?;
        // `follow` keeps `start` below the buffer's length.
        buf.0.get(start + 4..).filter(|rest| rest.len() >= bytes).ok_or(Bad)?;
        let start = NonZeroU32::new(u32::try_from(start + 4).map_err(|_| Bad)?).ok_or(Bad)?;
        Ok(Vector { start, len })
    }
}

/// A vector whose elements were checked to lie inside the buffer when it was read.
#[derive(Clone, Copy, Debug)]
pub struct Vector {
    /// Position of the first element (never 0: a length precedes it).
    start: NonZeroU32,
    len: u32,
}

impl Vector {
    pub const EMPTY: Vector = Vector { start: NonZeroU32::MIN, len: 0 };

    pub fn len(self) -> usize {
        self.len as usize
    }

    pub fn is_empty(self) -> bool {
        self.len == 0
    }

    /// The position of element `i` of `elem` bytes (in range: checked when read).
    fn check(self, i: usize, elem: usize) -> Fb<usize> {
        if i < self.len() {
            Ok(self.start.get() as usize + i * elem)
        } else {
            Err(Bad)
        }
    }

    pub fn i32(self, buf: Buf<'_>, i: usize) -> Fb<i32> {
        Ok(buf.u32(self.check(i, 4)?)? as i32)
    }

    pub fn f32(self, buf: Buf<'_>, i: usize) -> Fb<f32> {
        Ok(f32::from_bits(buf.u32(self.check(i, 4)?)?))
    }

    pub fn i64(self, buf: Buf<'_>, i: usize) -> Fb<i64> {
        buf.array(self.check(i, 8)?).map(i64::from_le_bytes)
    }

    /// Element `i` of a vector of tables.
    pub fn table(self, buf: Buf<'_>, i: usize) -> Fb<Table> {
        let at = self.check(i, 4)?;
        Table::at(buf, buf.follow(at)?)
    }
}

/// A reader for the setup's hot paths, a tensor's or an operator's description, with
/// each read inlined: a compare and a load. `CHECK`: every offset, vtable and vector
/// checked as [`Table`] and [`Vector`] check them (what [`crate::Model::load`] does once
/// for each tensor and operator). Without: only that each byte read lies in the buffer
/// (a read outside is `None`, never a panic or a value from outside the buffer), for
/// the reads that follow the loader's (the setup reads each tensor's description about
/// four times: the loader's operator checks, the planner, each preparation).
#[derive(Clone, Copy)]
pub struct Reader<'a, const CHECK: bool>(&'a [u8]);

/// A table as [`Reader`] reads it: its position, its vtable and the vtable's length.
#[derive(Clone, Copy)]
pub struct ReadTable {
    pos: usize,
    vtable: usize,
    vtable_len: usize,
}

impl<'a, const CHECK: bool> Reader<'a, CHECK> {
    #[inline(always)]
    pub fn new(buf: &'a [u8]) -> Self {
        Reader(buf)
    }

    #[inline(always)]
    pub fn array<const N: usize>(self, at: usize) -> Option<[u8; N]> {
        self.0.get(at..)?.first_chunk().copied()
    }

    #[inline(always)]
    pub fn u32(self, at: usize) -> Option<u32> {
        self.array(at).map(u32::from_le_bytes)
    }

    #[inline(always)]
    fn u16(self, at: usize) -> Option<usize> {
        self.array(at).map(|b| u16::from_le_bytes(b) as usize)
    }

    /// `len` bytes at `at`.
    #[inline(always)]
    pub fn bytes(self, at: usize, len: usize) -> Option<&'a [u8]> {
        self.0.get(at..at.checked_add(len)?)
    }

    /// Follows the `u32` offset stored at `at` (`CHECK`: to a position in the buffer).
    #[inline(always)]
    fn follow(self, at: usize) -> Option<usize> {
        let off = self.u32(at)? as usize;
        match CHECK {
            true => at.checked_add(off).filter(|&p| p < self.0.len()),
            false => Some(at.wrapping_add(off)),
        }
    }

    /// The table at `pos` (`CHECK`: as [`Table::at`] checks it).
    #[inline(always)]
    fn table_at(self, pos: usize) -> Option<ReadTable> {
        if !CHECK {
            let vtable = pos.wrapping_sub(self.u32(pos)? as i32 as isize as usize);
            return Some(ReadTable { pos, vtable, vtable_len: self.u16(vtable)? });
        }
        let soffset = self.u32(pos)? as i32 as isize;
        let vtable = usize::try_from((pos as isize).checked_sub(soffset)?).ok()?;
        let (vtable_len, table_len) = (self.u16(vtable)?, self.u16(vtable + 2)?);
        // `vtable` and `pos` lie in the buffer (read above): no overflow.
        let fits = |at: usize, len: usize| len <= self.0.len() - at;
        if vtable_len < 4
            || !vtable_len.is_multiple_of(2)
            || !fits(vtable, vtable_len)
            || !fits(pos, table_len.max(4))
            || pos == 0
            || u32::try_from(pos).is_err()
        {
            return None;
        }
        Some(ReadTable { pos, vtable, vtable_len })
    }

    /// Element `i` of a vector of tables (`i` checked against its length).
    #[inline(always)]
    pub fn table_of(self, v: Vector, i: usize) -> Option<ReadTable> {
        if i >= v.len() {
            return None;
        }
        self.table_at(self.follow(v.start.get() as usize + 4 * i)?)
    }

    /// The position of field `id`'s value, 0 if absent (a field never lies at 0).
    #[inline(always)]
    fn field(self, t: ReadTable, id: usize) -> Option<usize> {
        let slot = 4 + 2 * id;
        if slot + 2 > t.vtable_len {
            return Some(0);
        }
        Some(match self.u16(t.vtable.wrapping_add(slot))? {
            0 => 0,
            off => t.pos.wrapping_add(off),
        })
    }

    #[inline(always)]
    pub fn u8_or(self, t: ReadTable, id: usize, default: u8) -> Option<u8> {
        match self.field(t, id)? {
            0 => Some(default),
            at => self.0.get(at).copied(),
        }
    }

    #[inline(always)]
    pub fn u32_or(self, t: ReadTable, id: usize, default: u32) -> Option<u32> {
        match self.field(t, id)? {
            0 => Some(default),
            at => self.u32(at),
        }
    }

    /// A table field, if present (`Some(None)`: absent).
    #[inline(always)]
    pub fn table(self, t: ReadTable, id: usize) -> Option<Option<ReadTable>> {
        match self.field(t, id)? {
            0 => Some(None),
            at => self.table_at(self.follow(at)?).map(Some),
        }
    }

    /// A table field as a [`Table`] (`Some(None)`: absent), for readers that take one
    /// (an operator's options).
    #[inline(always)]
    pub fn table_handle(self, t: ReadTable, id: usize) -> Option<Option<Table>> {
        let Some(t) = self.table(t, id)? else { return Some(None) };
        let pos = NonZeroU32::new(u32::try_from(t.pos).ok()?)?;
        Some(Some(Table { pos, vtable: u32::try_from(t.vtable).ok()? }))
    }

    /// A vector field of `elem`-byte elements as a [`Vector`] (empty when absent).
    #[inline(always)]
    pub fn vector_handle(self, t: ReadTable, id: usize, elem: usize) -> Option<Vector> {
        match self.vector(t, id, elem)? {
            (_, 0) => Some(Vector::EMPTY),
            (start, len) => {
                let start = NonZeroU32::new(u32::try_from(start).ok()?)?;
                Some(Vector { start, len: u32::try_from(len).ok()? })
            }
        }
    }

    /// A vector field of `elem`-byte elements: the position of its first element and
    /// its length ((0, 0) when absent). `CHECK`: its elements lie in the buffer (as
    /// [`Table::vector`] checks).
    #[inline(always)]
    pub fn vector(self, t: ReadTable, id: usize, elem: usize) -> Option<(usize, usize)> {
        match self.field(t, id)? {
            0 => Some((0, 0)),
            at => {
                let start = self.follow(at)?;
                let len = self.u32(start)? as usize;
                // `follow` keeps `start` below the buffer's length (and `u32` read 4 bytes).
                if CHECK
                    && (len.checked_mul(elem)? > self.0.len() - (start + 4)
                        || u32::try_from(start + 4).is_err())
                {
                    return None;
                }
                Some((start.wrapping_add(4), len))
            }
        }
    }
}
