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
    /// Plans `arena` for `model` and prepares every operator: [`Interpreter::empty`]
    /// then [`Interpreter::init`].
    pub fn new(model: Model<'m>, arena: &'a mut [u8]) -> Result<Self> {
        let mut interp = Self::empty(arena);
        interp.init(model)?;
        Ok(interp)
    }

    /// An interpreter of no model over `arena`, to [`Interpreter::init`] in place: the
    /// caller owns its storage, so nothing large is returned by value afterwards.
    /// Not inlined: it then writes straight into the caller's storage, whose frame
    /// keeps no temporary copy.
    #[inline(never)]
    pub const fn empty(arena: &'a mut [u8]) -> Self {
        Interpreter {
            model: Model::EMPTY,
            arena,
            activations: 0,
            persistent: 0,
            slots: [Slot { offset: 0, len: 0 }; T],
            ops: [None; O],
        }
    }

    /// Plans the arena for `model` and prepares every operator, in place. The arena
    /// must hold [`Model::arena_bytes`] (else [`Error::ArenaTooSmall`] says how many
    /// bytes, that same figure). After an error the interpreter holds no operator
    /// (invoke then computes nothing).
    pub fn init(&mut self, model: Model<'m>) -> Result<()> {
        let result = self.plan_and_prepare(model);
        if result.is_err() {
            self.ops.iter_mut().for_each(|op| *op = None);
            (self.activations, self.persistent) = (0, 0);
        }
        result
    }

    fn plan_and_prepare(&mut self, model: Model<'m>) -> Result<()> {
        let n_ops = model.operator_count();
        if n_ops > O {
            return Err(Error::TooLarge(why!("operators")));
        }
        self.model = model;
        // Stored now, not kept live across the loop (the setup's stack peak is below).
        self.activations = crate::planner::plan::<T>(&self.model, &mut self.slots)?;
        // Operators are prepared even when the plan alone does not fit (their data
        // then goes nowhere), so that a refusal gives the whole size needed.
        let (_, rest) = self.arena.split_at_mut(self.activations.min(self.arena.len()));
        let mut persist = Persist::new(rest);
        for (i, slot) in self.ops.iter_mut().enumerate() {
            *slot = match i < n_ops {
                true => Some(kernels::prepare(&self.model, &self.model.operator_info(i)?, &mut persist)?),
                false => None,
            };
        }
        let persistent = persist.used;
        // Saturating: a sum past the address space is refused as too large for any arena.
        let needed = self.activations.saturating_add(persistent);
        if needed > self.arena.len() {
            return Err(Error::ArenaTooSmall { needed });
        }
        self.persistent = persistent;
        Ok(())
    }

    /// Arena bytes in use: planned tensors plus persistent operator data.
    pub fn arena_used(&self) -> usize {
        self.activations + self.persistent
    }

    /// Gives back the arena bytes past [`Interpreter::arena_used`], for other uses (the
    /// next model's interpreter, say); the interpreter keeps only what its plan needs.
    /// After a failed [`Interpreter::init`] that is the whole arena.
    pub fn release_unused(&mut self) -> &'a mut [u8] {
        let arena = core::mem::take(&mut self.arena);
        let (used, rest) = arena.split_at_mut(self.arena_used().min(arena.len()));
        self.arena = used;
        rest
    }

    /// Graph tensor `i` of `list` (the graph's inputs or outputs), by index.
    fn graph_index(&self, list: crate::flatbuffer::Vector, i: usize) -> Result<usize> {
        if i >= list.len() {
            return Err(Error::BadTensor);
        }
        Ok(list.i32(self.model.buf(), i)? as usize)
    }

    /// Where graph tensor `i` of `list` lives in the arena.
    fn graph_slot(&self, list: crate::flatbuffer::Vector, i: usize) -> Result<Slot> {
        self.slots.get(self.graph_index(list, i)?).copied().ok_or(Error::BadTensor)
    }

    /// Graph input `i`'s description (type, shape, quantization).
    pub fn input_info(&self, i: usize) -> Result<TensorInfo<'m>> {
        self.model.tensor(self.graph_index(self.model.input_list(), i)?)
    }

    pub fn output_info(&self, i: usize) -> Result<TensorInfo<'m>> {
        self.model.tensor(self.graph_index(self.model.output_list(), i)?)
    }

    /// Graph input `i`'s bytes, to fill before every [`Interpreter::invoke`] (which may
    /// overwrite them).
    pub fn input(&mut self, i: usize) -> Result<&mut [u8]> {
        let slot = self.graph_slot(self.model.input_list(), i)?;
        self.arena.get_mut(slot.offset..slot.offset + slot.len).ok_or(Error::BadTensor)
    }

    /// Graph output `i`'s bytes after [`Interpreter::invoke`].
    pub fn output(&self, i: usize) -> Result<&[u8]> {
        let slot = self.graph_slot(self.model.output_list(), i)?;
        self.arena.get(slot.offset..slot.offset + slot.len).ok_or(Error::BadTensor)
    }

    /// Runs every operator in order; the outputs are then in [`Interpreter::output`].
    ///
    /// It may overwrite the inputs: tensors share arena bytes once their lives no
    /// longer overlap (as in TFLM), and a graph input lives only until the last
    /// operator that reads it. Fill every input again before the next `invoke`.
    ///
    /// ```
    /// use inference::{Interpreter, Model};
    /// # let bytes = include_bytes!("../testdata/sine_int8.tflite");
    /// let model = Model::load(bytes)?;
    /// let mut arena = [0u8; 256];
    /// let mut interp = Interpreter::<16, 4>::new(model, &mut arena)?;
    /// for x in [-100i8, 0, 100] {
    ///     interp.input(0)?[0] = x as u8; // every time: invoke may have used its bytes
    ///     interp.invoke()?;
    ///     let y = interp.output(0)?[0] as i8;
    ///     # let _ = y;
    /// }
    /// # Ok::<(), inference::Error>(())
    /// ```
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
