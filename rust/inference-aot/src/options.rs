//! The little of the flatbuffer that `inference` does not expose: an operator's
//! builtin options (its fused activation). The model was validated by
//! `inference::Model::load` first; every read here is still bounds-checked.

use crate::{Error, Result};

/// Field numbers of `tensorflow/lite/schema/schema.fbs`.
const MODEL_SUBGRAPHS: usize = 2;
const SUBGRAPH_OPERATORS: usize = 3;
const OPERATOR_OPTIONS_TYPE: usize = 3;
const OPERATOR_OPTIONS: usize = 4;

struct Fb<'a>(&'a [u8]);

impl Fb<'_> {
    fn u32_at(&self, at: usize) -> Result<usize> {
        let b = self.0.get(at..at + 4).ok_or(Error::Malformed)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    fn u16_at(&self, at: usize) -> Result<usize> {
        let b = self.0.get(at..at + 2).ok_or(Error::Malformed)?;
        Ok(u16::from_le_bytes([b[0], b[1]]) as usize)
    }

    /// The position of a table's field, if present.
    fn field(&self, table: usize, field: usize) -> Result<Option<usize>> {
        let soffset = self.u32_at(table)? as i32;
        let vtable = (table as i64 - i64::from(soffset)).try_into().map_err(|_| Error::Malformed)?;
        let vtable_len = self.u16_at(vtable)?;
        let entry = 4 + 2 * field;
        if entry + 2 > vtable_len {
            return Ok(None);
        }
        match self.u16_at(vtable + entry)? {
            0 => Ok(None),
            off => Ok(Some(table + off)),
        }
    }

    /// The table or vector an offset field points to.
    fn indirect(&self, at: usize) -> Result<usize> {
        Ok(at + self.u32_at(at)?)
    }

    /// Element `i` of a vector of tables at `vector`.
    fn table_in(&self, vector: usize, i: usize) -> Result<usize> {
        if i >= self.u32_at(vector)? {
            return Err(Error::Malformed);
        }
        self.indirect(vector + 4 + 4 * i)
    }
}

/// Operator `op` of the first subgraph's builtin options: their type code and table
/// position (`None` where the operator has none).
fn options(model: &[u8], op: usize) -> Result<Option<(u8, usize)>> {
    let fb = Fb(model);
    let root = fb.indirect(0)?;
    let subgraphs = fb.indirect(fb.field(root, MODEL_SUBGRAPHS)?.ok_or(Error::Malformed)?)?;
    let graph = fb.table_in(subgraphs, 0)?;
    let operators = fb.indirect(fb.field(graph, SUBGRAPH_OPERATORS)?.ok_or(Error::Malformed)?)?;
    let operator = fb.table_in(operators, op)?;
    let Some(table) = fb.field(operator, OPERATOR_OPTIONS)? else { return Ok(None) };
    let kind = match fb.field(operator, OPERATOR_OPTIONS_TYPE)? {
        Some(at) => *model.get(at).ok_or(Error::Malformed)?,
        None => 0,
    };
    Ok(Some((kind, fb.indirect(table)?)))
}

/// A byte field of operator `op`'s options of type `kind` (`default` where the
/// operator has no options or the field is absent).
pub fn u8_field(model: &[u8], op: usize, kind: u8, field: usize, default: u8) -> Result<u8> {
    let Some((found, table)) = options(model, op)? else { return Ok(default) };
    if found != kind {
        return Err(Error::Malformed);
    }
    match Fb(model).field(table, field)? {
        Some(at) => model.get(at).copied().ok_or(Error::Malformed),
        None => Ok(default),
    }
}

/// A 4-byte little-endian field of operator `op`'s options of type `kind` (`default`
/// where the operator has no options or the field is absent): int32 and float32
/// fields (strides, filter sizes, a float's bits).
pub fn u32_field(model: &[u8], op: usize, kind: u8, field: usize, default: u32) -> Result<u32> {
    let Some((found, table)) = options(model, op)? else { return Ok(default) };
    if found != kind {
        return Err(Error::Malformed);
    }
    match Fb(model).field(table, field)? {
        Some(at) => Ok(Fb(model).u32_at(at)? as u32),
        None => Ok(default),
    }
}

/// [`u32_field`] of an int32 field.
pub fn i32_field(model: &[u8], op: usize, kind: u8, field: usize, default: i32) -> Result<i32> {
    Ok(u32_field(model, op, kind, field, default as u32)? as i32)
}
