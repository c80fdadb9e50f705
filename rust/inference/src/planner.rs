//! Arena planning: each non-constant tensor lives from the first to the last operator
//! that touches it (graph inputs from the start, graph outputs to the end), and
//! tensors whose lives do not overlap may share bytes. Greedy by size, as TFLM's
//! `GreedyMemoryPlanner` does: the largest tensors are placed first, each at the lowest
//! offset that clears every already placed tensor alive at the same time.

use crate::kernels::{tensor_index, Slot};
use crate::schema::Model;
use crate::{Error, Result};

const ALIGN: usize = 4;

#[derive(Clone, Copy, Default)]
struct Life {
    first: usize,
    last: usize,
    size: usize,
    used: bool,
}

/// Offsets for every tensor (constants get an empty slot) and the arena bytes needed.
pub fn plan<const T: usize>(model: &Model<'_>) -> Result<([Slot; T], usize)> {
    let n = model.tensor_count();
    if n > T {
        return Err(Error::TooLarge("tensors"));
    }
    let ops = model.operator_count();
    let mut life = [Life::default(); T];
    let touch = |t: usize, at: usize, life: &mut [Life; T]| {
        let l = &mut life[t];
        if l.used {
            l.first = l.first.min(at);
            l.last = l.last.max(at);
        } else {
            *l = Life { first: at, last: at, size: 0, used: true };
        }
    };
    for v in [model.inputs()] {
        for i in 0..v.len() {
            touch(v.i32(i)? as usize, 0, &mut life);
        }
    }
    for o in 0..ops {
        let op = model.operator(o)?;
        for v in [op.inputs, op.outputs] {
            for i in 0..v.len() {
                if let Some(t) = tensor_index(v, i)? {
                    touch(t, o, &mut life);
                }
            }
        }
    }
    for i in 0..model.outputs().len() {
        touch(model.outputs().i32(i)? as usize, ops, &mut life);
    }
    for (t, l) in life.iter_mut().enumerate().take(n) {
        let info = model.tensor(t)?;
        if info.data.is_some() {
            l.used = false; // constants stay in the model
        }
        l.size = info.bytes();
    }

    let mut order = [0usize; T];
    for (i, o) in order.iter_mut().enumerate() {
        *o = i;
    }
    order[..n].sort_unstable_by(|&a, &b| life[b].size.cmp(&life[a].size).then(a.cmp(&b)));

    let mut slots = [Slot::default(); T];
    let mut placed = [false; T];
    let mut total = 0;
    for &t in &order[..n] {
        if !life[t].used {
            continue;
        }
        let size = life[t].size;
        let mut offset = 0;
        // Move past every overlapping neighbour until none overlaps.
        loop {
            let clash = (0..n).find(|&o| {
                placed[o]
                    && life[o].first <= life[t].last
                    && life[t].first <= life[o].last
                    && offset < slots[o].offset + slots[o].len
                    && slots[o].offset < offset + size
            });
            match clash {
                Some(o) => offset = (slots[o].offset + slots[o].len).next_multiple_of(ALIGN),
                None => break,
            }
        }
        slots[t] = Slot { offset, len: size };
        placed[t] = true;
        total = total.max(offset + size);
    }
    Ok((slots, total.next_multiple_of(ALIGN)))
}
