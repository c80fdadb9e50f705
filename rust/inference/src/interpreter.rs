//! The interpreter: a validated model, the caller's arena, and prepared operators.

use crate::kernels::{self, OpData, Persist, Slot};
use crate::schema::{Model, TensorInfo};
use crate::{Error, Result};

/// Runs one model. `T` and `O` bound the tensors and operators it holds (no heap):
/// a sine-only image uses small bounds and pays for no more.
pub struct Interpreter<'m, 'a, const T: usize, const O: usize> {
    model: Model<'m>,
    /// Planned tensors, then what preparation stored.
    arena: &'a mut [u8],
    activations: usize,
    persistent: usize,
    slots: [Slot; T],
    ops: [Option<OpData<'m>>; O],
}

impl<'m, 'a, const T: usize, const O: usize> Interpreter<'m, 'a, T, O> {
    /// Plans `arena` for `model` and prepares every operator.
    pub fn new(model: Model<'m>, arena: &'a mut [u8]) -> Result<Self> {
        let n_ops = model.operator_count();
        if n_ops > O {
            return Err(Error::TooLarge(crate::why("operators")));
        }
        let (slots, activations) = crate::planner::plan::<T>(&model)?;
        if activations > arena.len() {
            return Err(Error::ArenaTooSmall { needed: activations });
        }
        let mut ops: [Option<OpData<'m>>; O] = [None; O];
        let (_, rest) = arena.split_at_mut(activations);
        let mut persist = Persist::new(rest);
        for (i, slot) in ops.iter_mut().enumerate().take(n_ops) {
            *slot = Some(kernels::prepare(&model, &model.operator(i)?, &mut persist)?);
        }
        let persistent = persist.used;
        Ok(Interpreter { model, arena, activations, persistent, slots, ops })
    }

    /// Arena bytes in use: planned tensors plus persistent operator data.
    pub fn arena_used(&self) -> usize {
        self.activations + self.persistent
    }

    fn graph_tensor(&self, list: crate::flatbuffer::Vector<'m>, i: usize) -> Result<(Slot, TensorInfo<'m>)> {
        if i >= list.len() {
            return Err(Error::BadTensor);
        }
        let t = list.i32(i)? as usize;
        let slot = self.slots.get(t).copied().ok_or(Error::BadTensor)?;
        Ok((slot, self.model.tensor(t)?))
    }

    /// Graph input `i`'s description (type, shape, quantization).
    pub fn input_info(&self, i: usize) -> Result<TensorInfo<'m>> {
        Ok(self.graph_tensor(self.model.inputs(), i)?.1)
    }

    pub fn output_info(&self, i: usize) -> Result<TensorInfo<'m>> {
        Ok(self.graph_tensor(self.model.outputs(), i)?.1)
    }

    /// Graph input `i`'s bytes, to fill before [`Interpreter::invoke`].
    pub fn input(&mut self, i: usize) -> Result<&mut [u8]> {
        let (slot, _) = self.graph_tensor(self.model.inputs(), i)?;
        self.arena.get_mut(slot.offset..slot.offset + slot.len).ok_or(Error::BadTensor)
    }

    /// Graph output `i`'s bytes after [`Interpreter::invoke`].
    pub fn output(&self, i: usize) -> Result<&[u8]> {
        let (slot, _) = self.graph_tensor(self.model.outputs(), i)?;
        self.arena.get(slot.offset..slot.offset + slot.len).ok_or(Error::BadTensor)
    }

    /// Runs every operator in order.
    pub fn invoke(&mut self) -> Result<()> {
        let (activations, rest) =
            self.arena.split_at_mut_checked(self.activations).ok_or(Error::BadTensor)?;
        let persistent = rest.get(..self.persistent).ok_or(Error::BadTensor)?;
        for op in self.ops.iter().flatten() {
            kernels::eval(op, &self.slots, activations, persistent)?;
        }
        Ok(())
    }
}
