//! MEAN over constant axes, f32 and int8, as TFLM computes it (`reduce_common.cc`:
//! `reference_ops::Mean` for f32, `reference_ops::QuantizedMeanOrSum` for int8 —
//! TFLM has no other int8 path).
//!
//! f32: each output sums its inputs in the input's order, from zero, then divides by
//! the count. int8: each output sums its raw inputs in int32, subtracts the input
//! zero point times the count, and rescales by input scale / output scale with the
//! 1/count folded into the multiplier (`QuantizedMeanOrSum`'s readapted multiplier).
//!
//! Preparation splits the input's dimensions into kept and reduced ones, folding
//! neighbours of the same kind; invoke walks the kept ones in output order and, for
//! each output, the reduced ones in input order. That is the order in which TFLM's
//! single pass over the input adds into each output, so float sums agree exactly.

use super::{f32_at, required, separate_io, Io, Slot};
use crate::quant::{quantize_multiplier, Requant};
use crate::schema::{DType, Model, OperatorInfo, MAX_DIMS};
use crate::{Error, Result};

const REDUCER_OPTIONS: u8 = 27;

#[derive(Clone, Copy, Debug)]
pub struct Mean {
    input: usize,
    output: usize,
    kept: Walk,
    reduced: Walk,
    in_elements: usize,
    out_elements: usize,
    kind: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    F32 {
        count: f32,
    },
    I8 {
        /// Input zero point times the count, as TFLM subtracts it (wrapped to int32).
        offset: i32,
        requant: Requant,
        output_zp: i32,
    },
}

/// Nested loops over element offsets: `sizes[i]` steps of `strides[i]` elements,
/// outermost first.
#[derive(Clone, Copy, Debug)]
struct Walk {
    n: usize,
    sizes: [usize; MAX_DIMS],
    strides: [usize; MAX_DIMS],
}

impl Walk {
    const EMPTY: Walk = Walk { n: 0, sizes: [1; MAX_DIMS], strides: [0; MAX_DIMS] };

    /// Adds a dimension inside the others; folds it into the innermost one when
    /// that one steps over exactly this dimension.
    fn push(&mut self, size: usize, stride: usize) {
        if size == 1 {
            return;
        }
        if let Some(last) = self.n.checked_sub(1) {
            if self.strides[last] == size * stride {
                self.sizes[last] *= size;
                self.strides[last] = stride;
                return;
            }
        }
        self.sizes[self.n] = size;
        self.strides[self.n] = stride;
        self.n += 1;
    }

    /// Calls `f` with `base` plus every offset, in row-major order of the loops.
    #[inline(always)]
    fn each(&self, base: usize, mut f: impl FnMut(usize)) {
        let Some(inner) = self.n.checked_sub(1) else {
            f(base);
            return;
        };
        let (size, stride) = (self.sizes[inner], self.strides[inner]);
        let mut index = [0usize; MAX_DIMS];
        let mut start = base;
        loop {
            for k in 0..size {
                f(start + k * stride);
            }
            // Next position of the outer loops.
            let mut d = inner;
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                index[d] += 1;
                start += self.strides[d];
                if index[d] < self.sizes[d] {
                    break;
                }
                start -= index[d] * self.strides[d];
                index[d] = 0;
            }
        }
    }
}

pub fn prepare(model: &Model<'_>, op: &OperatorInfo) -> Result<Mean> {
    let bad = |why| Error::InvalidOperator(op.code, why);
    if op.inputs.len() != 2 || op.outputs.len() != 1 {
        return Err(bad(why!("needs input, axes and one output")));
    }
    let mut keep_dims = false;
    if let Some(options) = op.options {
        if op.options_type != REDUCER_OPTIONS {
            return Err(bad(why!("options of another operator")));
        }
        keep_dims = options.bool_or(model.buf(), 0, false)?;
    }
    let (input, in_t) = required(model, op.inputs, 0, op.code)?;
    let (_, axes_t) = required(model, op.inputs, 1, op.code)?;
    let (output, out_t) = required(model, op.outputs, 0, op.code)?;
    separate_io(op.code, &in_t, &out_t)?;
    if in_t.dtype != out_t.dtype {
        return Err(bad(why!("input and output differ in type")));
    }
    let axes = axes_t.data.ok_or(bad(why!("axes must be constant")))?;
    if axes_t.dtype != DType::I32 {
        return Err(bad(why!("axes must be int32")));
    }

    // TFLM's ResolveAxis: negative axes count from the end, repeats count once; a
    // scalar input ignores the axes.
    let rank = in_t.rank();
    let mut reduce = [false; MAX_DIMS];
    if rank > 0 {
        for a in axes.chunks_exact(4) {
            let a = i32::from_le_bytes([a[0], a[1], a[2], a[3]]);
            let resolved = if a < 0 { a as i64 + rank as i64 } else { a as i64 };
            if !(0..rank as i64).contains(&resolved) {
                return Err(bad(why!("axis out of range")));
            }
            reduce[resolved as usize] = true;
        }
    }

    let mut expected = [1i32; MAX_DIMS];
    let mut out_rank = 0;
    let mut count = 1usize;
    for (&reduced, &size) in reduce.iter().zip(in_t.dims().iter()) {
        if !reduced || keep_dims {
            expected[out_rank] = if reduced { 1 } else { size };
            out_rank += 1;
        }
        if reduced {
            count *= size as usize;
        }
    }
    if *out_t.dims() != expected[..out_rank] {
        return Err(bad(why!("output shape does not match the input reduced over the axes")));
    }

    let (mut kept, mut reduced) = (Walk::EMPTY, Walk::EMPTY);
    let mut stride = in_t.elements();
    for (&reduced_here, &size) in reduce.iter().zip(in_t.dims().iter()) {
        let size = size as usize;
        stride /= size;
        if reduced_here {
            reduced.push(size, stride);
        } else {
            kept.push(size, stride);
        }
    }

    let kind = match in_t.dtype {
        DType::F32 => Kind::F32 { count: count as f32 },
        DType::I8 => {
            // PrepareMeanOrSumHelper's multiplier (the scales' ratio in double) ...
            let (m, s) = quantize_multiplier(in_t.scale as f64 / out_t.scale as f64);
            // ... readapted as QuantizedMeanOrSum does: 1/count enters the multiplier
            // by a shift of floor(log2(count)), kept <= 32 and the shift >= -31.
            let log2 = (usize::BITS - 1 - count.leading_zeros()) as i32;
            let shift = log2.min(32).min(31 + s);
            let multiplier = (((m as i64) << shift) / count as i64) as i32;
            let shift = s - shift;
            if shift > 30 {
                return Err(bad(why!("requantization scale out of range")));
            }
            let offset = (in_t.zero_point as i64 * count as i64) as i32;
            Kind::I8 { offset, requant: Requant::new(multiplier, shift), output_zp: out_t.zero_point }
        }
        _ => return Err(bad(why!("f32 or int8 only"))),
    };
    Ok(Mean {
        input,
        output,
        kept,
        reduced,
        in_elements: in_t.elements(),
        out_elements: out_t.elements(),
        kind,
    })
}

impl Mean {
    pub fn eval(&self, slots: &[Slot], io: &mut Io<'_>) -> Result<()> {
        let slot = |t: usize| super::slot(slots, t);
        let (input, output) = io.split(slot(self.input)?, slot(self.output)?)?;
        let size = match self.kind {
            Kind::F32 { .. } => 4,
            Kind::I8 { .. } => 1,
        };
        if input.len() != self.in_elements * size || output.len() != self.out_elements * size {
            return Err(Error::BadTensor);
        }
        // The walks reach offsets below in_elements by construction, and the kept
        // walk visits exactly out_elements positions.
        let mut out = output.chunks_exact_mut(size);
        match self.kind {
            Kind::F32 { count } => self.kept.each(0, |base| {
                let mut sum = 0.0f32;
                self.reduced.each(base, |at| sum += f32_at(input, at));
                if let Some(o) = out.next() {
                    o.copy_from_slice(&(sum / count).to_le_bytes());
                }
            }),
            Kind::I8 { offset, requant, output_zp } => self.kept.each(0, |base| {
                let mut sum = 0i32;
                self.reduced.each(base, |at| sum = sum.wrapping_add(input[at] as i8 as i32));
                let v = requant.apply(sum.wrapping_sub(offset)).wrapping_add(output_zp);
                if let Some(o) = out.next() {
                    o[0] = v.clamp(-128, 127) as i8 as u8;
                }
            }),
        }
        Ok(())
    }
}
