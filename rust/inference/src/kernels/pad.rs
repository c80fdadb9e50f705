//! PAD: constant padding of up to five dimensions (TFLM `pad.cc`, `pad_common.cc`,
//! `reference_ops::Pad`), f32, int8 and int32. The paddings come from a constant int32
//! `[rank, 2]` tensor; the value is zero, which for int8 is the output's zero point,
//! or an optional third input, a constant scalar.
//!
//! Preparation works in bytes and folds every dimension that is not padded into the
//! one before it, so that invoke fills the output with the value and copies the input
//! in runs of contiguous bytes.

use super::{required, separate_io, tensor_index, Io, Slot};
use crate::schema::{DType, Model, OperatorInfo};
use crate::{Error, Result};

const PAD_OPTIONS: u8 = 22;
/// TFLM's `PadKernelMaxDimensionCount`.
const MAX_RANK: usize = 5;

#[derive(Clone, Copy, Debug)]
pub struct Pad {
    input: usize,
    output: usize,
    /// Folded dimensions in bytes, outermost first; the last is contiguous.
    rank: usize,
    in_dims: [usize; MAX_RANK],
    /// Output strides in bytes.
    out_strides: [usize; MAX_RANK],
    /// Output offset in bytes of input element 0.
    start: usize,
    in_bytes: usize,
    out_bytes: usize,
    /// The padding value's bytes (little-endian), `size` of them.
    value: [u8; 4],
    size: usize,
}

pub fn prepare(model: &Model<'_>, op: &OperatorInfo) -> Result<Pad> {
    let bad = |why| Error::InvalidOperator(op.code, why);
    if !(2..=3).contains(&op.inputs.len()) || op.outputs.len() != 1 {
        return Err(bad(why!("needs input, paddings, optional value and one output")));
    }
    if op.options.is_some() && op.options_type != PAD_OPTIONS {
        return Err(bad(why!("options of another operator")));
    }
    let (input, in_t) = required(model, op.inputs, 0, op.code)?;
    let (_, pad_t) = required(model, op.inputs, 1, op.code)?;
    let (output, out_t) = required(model, op.outputs, 0, op.code)?;
    separate_io(op.code, &in_t, &out_t)?;
    if in_t.dtype != out_t.dtype {
        return Err(bad(why!("input and output differ in type")));
    }
    let rank = in_t.rank();
    if rank > MAX_RANK || out_t.rank() != rank {
        return Err(bad(why!("input and output must have the same rank, at most 5")));
    }
    // TFLM reads the paddings in preparation, from the model: they must be constant.
    let paddings = pad_t.data.ok_or(bad(why!("paddings must be constant")))?;
    if pad_t.dtype != DType::I32 || pad_t.elements() != 2 * rank {
        return Err(bad(why!("paddings must be int32, two per dimension")));
    }
    let padding = |i: usize| {
        i32::from_le_bytes([paddings[4 * i], paddings[4 * i + 1], paddings[4 * i + 2], paddings[4 * i + 3]])
    };

    match in_t.dtype {
        DType::F32 | DType::I8 | DType::I32 => {}
        _ => return Err(bad(why!("f32, int8 or int32 only"))),
    }
    let size = in_t.dtype.size();
    let mut value = [0u8; 4];
    match tensor_index(model, op.inputs, 2)? {
        Some(v) => {
            let v_t = model.tensor(v)?;
            let data = v_t.data.ok_or(bad(why!("the padding value must be constant")))?;
            if v_t.dtype != in_t.dtype || v_t.elements() != 1 {
                return Err(bad(why!("the padding value must be a scalar of the input's type")));
            }
            if v_t.dtype == DType::I8 && (v_t.zero_point != out_t.zero_point || v_t.scale != out_t.scale) {
                return Err(bad(why!("the int8 padding value must share the output's quantization")));
            }
            value[..size].copy_from_slice(data.get(..size).ok_or(bad(why!("padding value size")))?);
        }
        None => {
            if in_t.dtype == DType::I8 {
                value[0] = out_t.zero_point as i8 as u8;
            }
        }
    }

    // Dimensions, before and after paddings, in elements; a scalar is one element.
    let mut dims = [1usize; MAX_RANK];
    let mut before = [0usize; MAX_RANK];
    let mut after = [0usize; MAX_RANK];
    for d in 0..rank {
        let (b, a) = (padding(2 * d), padding(2 * d + 1));
        if b < 0 || a < 0 {
            return Err(bad(why!("negative paddings are not supported")));
        }
        if in_t.dim(d) as i64 + b as i64 + a as i64 != out_t.dim(d) as i64 {
            return Err(bad(why!("output shape is not the input's plus the paddings")));
        }
        (dims[d], before[d], after[d]) = (in_t.dim(d) as usize, b as usize, a as usize);
    }
    let mut n = rank.max(1);
    // In bytes, then fold each unpadded dimension into the one before.
    dims[n - 1] *= size;
    before[n - 1] *= size;
    after[n - 1] *= size;
    while n > 1 && before[n - 1] == 0 && after[n - 1] == 0 {
        let inner = dims[n - 1];
        n -= 1;
        dims[n - 1] *= inner;
        before[n - 1] *= inner;
        after[n - 1] *= inner;
    }
    let mut out_strides = [0usize; MAX_RANK];
    let mut stride = 1;
    let mut start = 0;
    for d in (0..n).rev() {
        out_strides[d] = stride;
        start += before[d] * stride;
        stride *= before[d] + dims[d] + after[d];
    }
    Ok(Pad {
        input,
        output,
        rank: n,
        in_dims: dims,
        out_strides,
        start,
        in_bytes: in_t.bytes(),
        out_bytes: out_t.bytes(),
        value,
        size,
    })
}

impl Pad {
    pub fn eval(&self, slots: &[Slot], io: &mut Io<'_>) -> Result<()> {
        let slot = |t: usize| super::slot(slots, t);
        let (input, output) = io.split(slot(self.input)?, slot(self.output)?)?;
        if input.len() != self.in_bytes || output.len() != self.out_bytes {
            return Err(Error::BadTensor);
        }
        for o in output.chunks_exact_mut(self.size) {
            o.copy_from_slice(&self.value[..self.size]);
        }
        let n = self.rank;
        let run = self.in_dims[n - 1];
        // Walk the input's runs in order, counting positions over the outer dimensions.
        let mut index = [0usize; MAX_RANK];
        for src in input.chunks_exact(run) {
            let at = self.start
                + index.iter().zip(&self.out_strides).take(n - 1).map(|(i, s)| i * s).sum::<usize>();
            output.get_mut(at..at + run).ok_or(Error::BadTensor)?.copy_from_slice(src);
            for d in (0..n - 1).rev() {
                index[d] += 1;
                if index[d] < self.in_dims[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        Ok(())
    }
}
