//! Arena planning: each non-constant tensor lives from the first to the last operator
//! that touches it (graph inputs from the start, graph outputs to the end), and
//! tensors whose lives do not overlap may share bytes. Greedy by size, as TFLM's
//! `GreedyMemoryPlanner` does: the largest tensors are placed first, each at the lowest
//! offset that clears every already placed tensor alive at the same time.

use crate::flatbuffer::Vector;
use crate::kernels::{tensor_index, Slot};
use crate::schema::Model;
use crate::{Error, Result};

const ALIGN: usize = 4;

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
    // When each tensor is alive: the first and last operator that touch it (graph
    // inputs from 0, graph outputs to `ops`); `first > last` for a tensor nothing
    // touches. With the placement flags below, five bytes a tensor (its size and
    // offset are kept in its slot): the planner's frame is on the stack during setup.
    let (mut first, mut last) = ([u16::MAX; T], [0u16; T]);
    // Indices were validated at load (below the tensor count, at most T): a failed
    // access below is a bug, reported, never a tensor left out of the plan.
    // Step 0: the graph's inputs (alive from operator 0); step o + 1: operator o's
    // tensors; the last step: the graph's outputs (alive to the end). One loop, so
    // that the bookkeeping above is written once.
    for step in 0..ops + 2 {
        let (lists, at) = match step {
            0 => ([model.input_list(), Vector::EMPTY], 0),
            s if s <= ops => {
                let op = model.operator_info(s - 1)?;
                ([op.inputs, op.outputs], s - 1)
            }
            _ => ([model.output_list(), Vector::EMPTY], ops),
        };
        for v in lists {
            for i in 0..v.len() {
                if let Some(t) = tensor_index(model, v, i)? {
                    let (Some(f), Some(l)) = (first.get_mut(t), last.get_mut(t)) else {
                        return Err(Error::BadTensor);
                    };
                    (*f, *l) = ((*f).min(at as u16), (*l).max(at as u16));
                }
            }
        }
    }
    // Sizes of the tensors to place: the live ones that are not constants (those stay
    // in the model). `n <= T`: the indexing below cannot fail.
    let mut info = crate::schema::TensorInfo::EMPTY;
    for t in 0..T {
        slots[t] = Slot::default();
        if t < n && first[t] <= last[t] {
            model.read_tensor(t, &mut info)?;
            if info.data.is_none() {
                slots[t].len = info.bytes();
            }
        }
    }

    // Largest first, the lower index first among equals; each at the lowest offset
    // that clears every placed tensor alive at the same time (no sort).
    let mut placed = [false; T];
    let mut total = 0;
    loop {
        // The next tensor, its size and its life.
        let (mut next, mut len, mut me) = (None, 0, (0, 0));
        for t in 0..n {
            if !placed[t] && slots[t].len > len {
                (next, len, me) = (Some(t), slots[t].len, (first[t], last[t]));
            }
        }
        let Some(next) = next else { break };
        let mut offset = 0;
        // Move past every overlapping neighbour until none overlaps.
        'search: loop {
            for o in 0..n {
                let s = slots[o];
                if placed[o]
                    && first[o] <= me.1
                    && me.0 <= last[o]
                    && offset < s.offset + s.len
                    && s.offset < offset + len
                {
                    offset = (s.offset + s.len).next_multiple_of(ALIGN);
                    continue 'search;
                }
            }
            break;
        }
        let (Some(slot), Some(p)) = (slots.get_mut(next), placed.get_mut(next)) else {
            return Err(Error::BadTensor);
        };
        (slot.offset, *p) = (offset, true);
        total = total.max(offset + len);
    }
    Ok(total.next_multiple_of(ALIGN))
}

impl Model<'_> {
    /// The arena bytes [`Interpreter::init`](crate::Interpreter::init) needs for this
    /// model, exactly: its planned tensors and its operators' prepared data. An arena
    /// of this size is accepted, one byte less is refused with
    /// [`Error::ArenaTooSmall`] naming this figure.
    ///
    /// `T` is the tensor bound of the [`Interpreter`](crate::Interpreter) that will run
    /// the model (at least [`Model::tensor_count`], else [`Error::TooLarge`]): the
    /// planner's tables, about 21 bytes a tensor, live on the stack meanwhile.
    ///
    /// ```
    /// use inference::{Interpreter, Model};
    /// # let bytes = include_bytes!("../testdata/sine_int8.tflite");
    /// let model = Model::load(bytes)?;
    /// let needed = model.arena_bytes::<16>()?;
    /// let mut arena = [0u8; 256];
    /// let interp = Interpreter::<16, 4>::new(model, &mut arena[..needed])?;
    /// assert_eq!(interp.arena_used(), needed);
    /// # Ok::<(), inference::Error>(())
    /// ```
    pub fn arena_bytes<const T: usize>(&self) -> Result<usize> {
        let mut slots = [Slot::default(); T];
        let activations = plan::<T>(self, &mut slots)?;
        let mut persist = crate::kernels::Persist::counting();
        for i in 0..self.operator_count() {
            crate::kernels::prepare(self, &self.operator_info(i)?, &mut persist)?;
        }
        activations.checked_add(persist.used).ok_or(Error::TooLarge(why!("arena bytes")))
    }
}
