//! Arena planning: each non-constant tensor lives from the first to the last operator
//! that touches it (graph inputs from the start, graph outputs to the end), and
//! tensors whose lives do not overlap may share bytes. Greedy by size, as TFLM's
//! `GreedyMemoryPlanner` does: the largest tensors are placed first, each at the lowest
//! offset that clears every already placed tensor alive at the same time.

use crate::kernels::{tensor_index, Slot};
use crate::schema::Model;
use crate::{Error, Result};

const ALIGN: usize = 4;

/// When a tensor is alive: the first and last operator that touch it (at most
/// `u16::MAX` operators, checked below). Its size and, once placed, its offset are
/// kept in its [`Slot`]: the planner's own tables are 7 bytes a tensor, since its
/// frame is on the stack during setup.
#[derive(Clone, Copy)]
struct Life {
    first: u16,
    last: u16,
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
    // `None`: not touched by any operator (nor a graph input or output).
    let mut life: [Option<Life>; T] = [None; T];
    // Indices were validated at load (below the tensor count, at most T): a failed
    // access here is a bug, reported, never a tensor left out of the plan.
    let touch = |t: usize, at: u16, life: &mut [Option<Life>; T]| -> Result<()> {
        let l = life.get_mut(t).ok_or(Error::BadTensor)?;
        *l = Some(match *l {
            Some(Life { first, last }) => Life { first: first.min(at), last: last.max(at) },
            None => Life { first: at, last: at },
        });
        Ok(())
    };
    let buf = model.buf();
    for i in 0..model.inputs().len() {
        touch(model.inputs().i32(buf, i)? as usize, 0, &mut life)?;
    }
    for o in 0..ops {
        let op = model.operator(o)?;
        for v in [op.inputs, op.outputs] {
            for i in 0..v.len() {
                if let Some(t) = tensor_index(model, v, i)? {
                    touch(t, o as u16, &mut life)?;
                }
            }
        }
    }
    for i in 0..model.outputs().len() {
        touch(model.outputs().i32(buf, i)? as usize, ops as u16, &mut life)?;
    }
    // Sizes of the tensors to place (constants stay in the model: no bytes).
    let mut info = crate::schema::TensorInfo::EMPTY;
    for (t, (slot, l)) in slots.iter_mut().zip(&life).enumerate() {
        *slot = Slot::default();
        if t < n && l.is_some() {
            model.read_tensor(t, &mut info)?;
            if info.data.is_none() {
                slot.len = info.bytes();
            }
        }
    }

    // Largest first, the lower index first among equals; each at the lowest offset
    // that clears every placed tensor alive at the same time (no sort; checked
    // accesses: nothing here can panic).
    let mut placed = [false; T];
    let mut total = 0;
    loop {
        let mut next: Option<usize> = None;
        for t in 0..n {
            let (Some(s), Some(false), Some(Some(_))) = (slots.get(t), placed.get(t), life.get(t)) else {
                continue;
            };
            if s.len > 0 && next.and_then(|b| slots.get(b)).is_none_or(|b| s.len > b.len) {
                next = Some(t);
            }
        }
        let Some(t) = next else { break };
        let (Some(&Some(me)), Some(&Slot { len, .. })) = (life.get(t), slots.get(t)) else {
            return Err(Error::BadTensor);
        };
        let mut offset = 0;
        // Move past every overlapping neighbour until none overlaps.
        'search: loop {
            for o in 0..n {
                let (Some(true), Some(&Some(l)), Some(s)) = (placed.get(o), life.get(o), slots.get(o)) else {
                    continue;
                };
                if l.first <= me.last
                    && me.first <= l.last
                    && offset < s.offset + s.len
                    && s.offset < offset + len
                {
                    offset = (s.offset + s.len).next_multiple_of(ALIGN);
                    continue 'search;
                }
            }
            break;
        }
        let (Some(slot), Some(p)) = (slots.get_mut(t), placed.get_mut(t)) else {
            return Err(Error::BadTensor);
        };
        (slot.offset, *p) = (offset, true);
        total = total.max(offset + len);
    }
    Ok(total.next_multiple_of(ALIGN))
}
