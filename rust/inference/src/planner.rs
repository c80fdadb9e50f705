//! Arena planning: each non-constant tensor lives from the first to the last operator
//! that touches it (graph inputs from the start, graph outputs to the end), and
//! tensors whose lives do not overlap may share bytes. Greedy by size, as TFLM's
//! `GreedyMemoryPlanner` does: the largest tensors are placed first, each at the lowest
//! offset that clears every already placed tensor alive at the same time.

use crate::flatbuffer::Vector;
use crate::kernels::{tensor_index, Slot};
use crate::schema::{Model, FAST_SETUP};
use crate::{Error, Result};

const ALIGN: usize = 4;

/// Offsets for every tensor into `slots` (constants get an empty slot); returns the
/// arena bytes needed.
#[inline(never)]
pub fn plan<const T: usize>(model: &Model<'_>, slots: &mut [Slot; T]) -> Result<usize> {
    plan_with::<T, FAST_SETUP>(model, slots)
}

/// [`plan`], placing as [`FAST_SETUP`] does (`SORTED`) or as the build without it
/// does: the same plan either way (a test compares them).
#[inline(always)]
pub fn plan_with<const T: usize, const SORTED: bool>(
    model: &Model<'_>,
    slots: &mut [Slot; T],
) -> Result<usize> {
    let n = model.tensor_count();
    if n > T || (FAST_SETUP && n > usize::from(u16::MAX)) {
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
    let total = match SORTED {
        true => place_sorted(model, n, slots, &first, &last)?,
        false => place_scanning(model, n, slots, &first, &last)?,
    };
    Ok(total.next_multiple_of(ALIGN))
}

/// The placement with [`FAST_SETUP`] of the model's `n` tensors, alive from `first`
/// to `last`: only the tensors placed read whole. Returns the end of the last byte
/// placed.
#[inline(always)]
fn place_sorted<const T: usize>(
    model: &Model<'_>,
    n: usize,
    slots: &mut [Slot; T],
    first: &[u16; T],
    last: &[u16; T],
) -> Result<usize> {
    // Sizes of the tensors to place: the live ones that are not constants (those stay
    // in the model), listed in `order` largest first, the lower index first among
    // equals (an insertion sort, stable: `order` fills in index order). Each entry is
    // the tensor's index and its life; its size and offset are in its slot.
    let mut info = crate::schema::TensorInfo::EMPTY;
    let mut order = [(0u16, 0u16, 0u16); T];
    let mut m: usize = 0;
    for (t, (&f, &l)) in first.iter().zip(last).enumerate() {
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
    Ok(total)
}

/// The placement of the build without [`FAST_SETUP`] (less flash, more instructions):
/// every tensor read whole, and for each placement a scan of every tensor for the
/// largest left and another for its neighbours. The same plan, the same arguments.
#[inline(always)]
fn place_scanning<const T: usize>(
    model: &Model<'_>,
    n: usize,
    slots: &mut [Slot; T],
    first: &[u16; T],
    last: &[u16; T],
) -> Result<usize> {
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
    Ok(total)
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
