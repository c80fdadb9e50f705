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
    if n > T || n > usize::from(u16::MAX) {
        return Err(Error::TooLarge(why!("tensors")));
    }
    let ops = model.operator_count();
    if ops > u16::MAX as usize {
        return Err(Error::TooLarge(why!("operators")));
    }
    // When each tensor is alive: the first and last operator that touch it (graph
    // inputs from 0, graph outputs to `ops`); `first > last` for a tensor nothing
    // touches. With the placement order below, ten bytes a tensor (its size and
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
    // in the model), listed in `order` largest first, the lower index first among
    // equals (an insertion sort, stable: `order` fills in index order). Each entry is
    // the tensor's index and its life; its size and offset are in its slot.
    let mut info = crate::schema::TensorInfo::EMPTY;
    let mut order = [(0u16, 0u16, 0u16); T];
    let mut m: usize = 0;
    for (t, (&f, &l)) in first.iter().zip(&last).enumerate() {
        let Some(slot) = slots.get_mut(t) else { return Err(Error::BadTensor) };
        *slot = Slot::default();
        if t >= n || f > l || model.is_constant(t)? {
            continue;
        }
        model.read_tensor(t, &mut info)?;
        let len = info.bytes();
        if len == 0 {
            continue;
        }
        slot.len = len;
        // `m <= t < n`, which fits in a u16 (checked above).
        let mut at = m;
        while let Some(&before) = at.checked_sub(1).and_then(|b| order.get(b)) {
            if slot_len(slots, before.0)? >= len {
                break;
            }
            *order.get_mut(at).ok_or(Error::BadTensor)? = before;
            at -= 1;
        }
        *order.get_mut(at).ok_or(Error::BadTensor)? = (t as u16, f, l);
        m += 1;
    }

    // In that order, each at the lowest offset that clears every tensor placed before
    // it and alive at the same time: moving past an overlapping one never skips a free
    // offset (every free offset lies past its end), so the order in which they are
    // tried does not change the result.
    let mut total = 0;
    for k in 0..m {
        let (placed, rest) = order.split_at(k);
        let Some(&(me, from, to)) = rest.first() else { return Err(Error::BadTensor) };
        let len = slot_len(slots, me)?;
        let mut offset = 0;
        'search: loop {
            for &(o, f, l) in placed {
                let s = slots.get(usize::from(o)).copied().unwrap_or_default();
                if f <= to && from <= l && offset < s.offset + s.len && s.offset < offset + len {
                    offset = (s.offset + s.len).next_multiple_of(ALIGN);
                    continue 'search;
                }
            }
            break;
        }
        slots.get_mut(usize::from(me)).ok_or(Error::BadTensor)?.offset = offset;
        total = total.max(offset + len);
    }
    Ok(total.next_multiple_of(ALIGN))
}

/// The size in tensor `t`'s slot.
fn slot_len(slots: &[Slot], t: u16) -> Result<usize> {
    slots.get(usize::from(t)).map(|s| s.len).ok_or(Error::BadTensor)
}

impl Model<'_> {
    /// The arena bytes [`Interpreter::init`](crate::Interpreter::init) needs for this
    /// model, exactly: its planned tensors and its operators' prepared data. An arena
    /// of this size is accepted, one byte less is refused with
    /// [`Error::ArenaTooSmall`] naming this figure.
    ///
    /// `T` is the tensor bound of the [`Interpreter`](crate::Interpreter) that will run
    /// the model (at least [`Model::tensor_count`], else [`Error::TooLarge`]): the
    /// planner's tables, about 26 bytes a tensor, live on the stack meanwhile.
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
