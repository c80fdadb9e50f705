//! Arena planning: each non-constant tensor lives from the first to the last operator
//! that touches it (graph inputs from the start, graph outputs to the end), and
//! tensors whose lives do not overlap may share bytes. Greedy by size, as TFLM's
//! `GreedyMemoryPlanner` does: the largest tensors are placed first, each at the lowest
//! offset that clears every already placed tensor alive at the same time.

use crate::kernels::{tensor_index, Slot};
use crate::schema::Model;
use crate::{Error, Result};

const ALIGN: u32 = 4;

#[derive(Clone, Copy, Default)]
struct Life {
    /// Operator indices (at most `u16::MAX` operators, checked below): a small `Life`
    /// keeps the planner's frame, on the stack during setup, small.
    first: u16,
    last: u16,
    /// Bytes (validated at load: at most 2^24) and offset.
    size: u32,
    used: bool,
    placed: bool,
    offset: u32,
}

/// Offsets for every tensor into `slots` (constants get an empty slot); returns the
/// arena bytes needed.
#[inline(never)]
pub fn plan<const T: usize>(model: &Model<'_>, slots: &mut [Slot; T]) -> Result<usize> {
    let n = model.tensor_count();
    if n > T {
        return Err(Error::TooLarge(why!("tensors")));
    }
    let ops = model.operator_count();
    if ops > u16::MAX as usize {
        return Err(Error::TooLarge(why!("operators")));
    }
    let mut life = [Life::default(); T];
    // Indices were validated at load (below the tensor count, at most T).
    let touch = |t: usize, at: u16, life: &mut [Life; T]| {
        let Some(l) = life.get_mut(t) else { return };
        if l.used {
            l.first = l.first.min(at);
            l.last = l.last.max(at);
        } else {
            *l = Life { first: at, last: at, used: true, ..Life::default() };
        }
    };
    for v in [model.inputs()] {
        for i in 0..v.len() {
            touch(v.i32(model.buf(), i)? as usize, 0, &mut life);
        }
    }
    for o in 0..ops {
        let op = model.operator(o)?;
        for v in [op.inputs, op.outputs] {
            for i in 0..v.len() {
                if let Some(t) = tensor_index(model, v, i)? {
                    touch(t, o as u16, &mut life);
                }
            }
        }
    }
    for i in 0..model.outputs().len() {
        touch(model.outputs().i32(model.buf(), i)? as usize, ops as u16, &mut life);
    }
    let mut info = crate::schema::TensorInfo::EMPTY;
    for (t, l) in life.iter_mut().enumerate().take(n) {
        model.read_tensor(t, &mut info)?;
        if info.data.is_some() {
            l.used = false; // constants stay in the model
        }
        l.size = info.bytes() as u32;
    }

    // Largest first, the lower index first among equals; each at the lowest offset
    // that clears every placed tensor alive at the same time (no sort, no indexing:
    // nothing here can panic).
    let mut total = 0;
    while let Some((t, me)) = life
        .iter()
        .copied()
        .enumerate()
        .take(n)
        .filter(|(_, l)| l.used && !l.placed)
        .max_by(|(a, la), (b, lb)| la.size.cmp(&lb.size).then(b.cmp(a)))
    {
        let mut offset = 0;
        // Move past every overlapping neighbour until none overlaps.
        while let Some(o) = life.iter().take(n).find(|o| {
            o.placed
                && o.first <= me.last
                && me.first <= o.last
                && offset < o.offset + o.size
                && o.offset < offset + me.size
        }) {
            offset = (o.offset + o.size).next_multiple_of(ALIGN);
        }
        let Some(l) = life.get_mut(t) else { break };
        (l.placed, l.offset) = (true, offset);
        total = total.max(offset + me.size);
    }
    for (slot, l) in slots.iter_mut().zip(&life) {
        *slot =
            if l.placed { Slot { offset: l.offset as usize, len: l.size as usize } } else { Slot::default() };
    }
    Ok(total.next_multiple_of(ALIGN) as usize)
}
