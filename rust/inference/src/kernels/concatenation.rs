//! CONCATENATION of up to ten tensors along one axis (TFLM `concatenation.cc`,
//! `reference_ops::Concatenation`): a copy of bytes. TFLM's int8 kernel does not
//! rescale: it requires every input to share the output's scale and zero point, and
//! so does this one. No fused activation (TFLM refuses one). Inputs may be constants
//! of the model.

use super::{required, Io, Slot};
use crate::schema::{DType, Model, OperatorInfo, TensorInfo};
use crate::{Error, Result};

const CONCATENATION_OPTIONS: u8 = 10;
/// TFLM's `kMaxInputNum`.
const MAX_INPUTS: usize = 10;

#[derive(Clone, Copy, Debug)]
pub struct Concatenation<'m> {
    inputs: [Operand<'m>; MAX_INPUTS],
    count: usize,
    output: usize,
    /// Bytes each input gives per step over the dimensions before the axis.
    runs: [usize; MAX_INPUTS],
    /// Steps over the dimensions before the axis.
    outer: usize,
    out_bytes: usize,
}

/// An input: a planned tensor or a constant of the model.
#[derive(Clone, Copy, Debug)]
enum Operand<'m> {
    Arena(usize),
    Constant(&'m [u8]),
}

pub fn prepare<'m>(model: &Model<'m>, op: &OperatorInfo) -> Result<Concatenation<'m>> {
    let bad = |why| Error::InvalidOperator(op.code, why);
    let count = op.inputs.len();
    if !(1..=MAX_INPUTS).contains(&count) || op.outputs.len() != 1 {
        return Err(bad(why!("needs one to ten inputs and one output")));
    }
    let mut axis = 0;
    if let Some(options) = op.options {
        if op.options_type != CONCATENATION_OPTIONS {
            return Err(bad(why!("options of another operator")));
        }
        axis = options.i32_or(model.buf(), 0, 0)?;
        if options.u8_or(model.buf(), 1, 0)? != 0 {
            return Err(bad(why!("fused activations are not supported")));
        }
    }
    let (output, out_t) = required(model, op.outputs, 0, op.code)?;
    if out_t.data.is_some() {
        return Err(bad(why!("output is a constant")));
    }
    // Every element type the engine knows concatenates as bytes, as in TFLM.
    let rank = out_t.rank() as i32;
    let axis = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&axis) {
        return Err(bad(why!("axis out of range")));
    }
    let axis = axis as usize;
    let size = out_t.dtype.size();
    let outer: usize = (0..axis).map(|d| out_t.dim(d) as usize).product();
    let inner: usize = (axis + 1..out_t.rank()).map(|d| out_t.dim(d) as usize).product();

    let mut inputs = [Operand::Constant(&[]); MAX_INPUTS];
    let mut runs = [0usize; MAX_INPUTS];
    let mut along = 0i64;
    for i in 0..count {
        let (index, t) = required(model, op.inputs, i, op.code)?;
        check_input(&t, &out_t, axis).map_err(bad)?;
        along += t.dim(axis) as i64;
        runs[i] = t.dim(axis) as usize * inner * size;
        inputs[i] = match t.data {
            Some(data) => Operand::Constant(data),
            None => Operand::Arena(index),
        };
    }
    if along != out_t.dim(axis) as i64 {
        return Err(bad(why!("output size along the axis is not the inputs' sum")));
    }
    Ok(Concatenation { inputs, count, output, runs, outer, out_bytes: out_t.bytes() })
}

/// An input against the output: type, quantization and shape off the axis.
fn check_input(
    t: &TensorInfo<'_>,
    out: &TensorInfo<'_>,
    axis: usize,
) -> core::result::Result<(), crate::Why> {
    if t.dtype != out.dtype {
        return Err(why!("inputs and output differ in type"));
    }
    if t.dtype == DType::I8 && (t.scale != out.scale || t.zero_point != out.zero_point) {
        return Err(why!("int8 inputs must share the output's scale and zero point"));
    }
    if t.rank() != out.rank() || (0..out.rank()).any(|d| d != axis && t.dim(d) != out.dim(d)) {
        return Err(why!("input shape differs from the output's off the axis"));
    }
    Ok(())
}

impl Concatenation<'_> {
    pub fn eval(&self, slots: &[Slot], io: &mut Io<'_>) -> Result<()> {
        let slot = |t: usize| super::slot(slots, t);
        let mut in_slots = [Slot::default(); MAX_INPUTS];
        for (s, operand) in in_slots.iter_mut().zip(&self.inputs[..self.count]) {
            if let Operand::Arena(t) = *operand {
                *s = slot(t)?;
            }
        }
        let (views, output) = io.inputs_and_output(in_slots, slot(self.output)?)?;
        let mut sources: [&[u8]; MAX_INPUTS] = [&[]; MAX_INPUTS];
        for (((src, operand), view), &run) in
            sources.iter_mut().zip(&self.inputs).zip(views).zip(&self.runs).take(self.count)
        {
            *src = match *operand {
                Operand::Arena(_) => view,
                Operand::Constant(data) => data,
            };
            if src.len() != self.outer * run {
                return Err(Error::BadTensor);
            }
        }
        if output.len() != self.out_bytes {
            return Err(Error::BadTensor);
        }
        let mut rest = &mut output[..];
        for k in 0..self.outer {
            for (src, &run) in sources.iter().zip(&self.runs[..self.count]) {
                let (dst, tail) =
                    core::mem::take(&mut rest).split_at_mut_checked(run).ok_or(Error::BadTensor)?;
                dst.copy_from_slice(&src[k * run..(k + 1) * run]);
                rest = tail;
            }
        }
        Ok(())
    }
}
