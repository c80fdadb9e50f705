//! SOFTMAX along the last axis, f32 and int8 -> int8, as TFLM's reference kernels
//! compute it (`reference_ops::Softmax`). int8 is gemmlowp fixed point with no table:
//! input differences from the row's maximum, scaled by beta into Q5.26, through
//! `exp_on_negative_values`; the sum in Q12.19; one reciprocal per row.

use super::fixed_point::{exp_on_negative_values, reciprocal};
use super::float_math::exp_f32;
use super::{required, Io, Slot};
use crate::quant::{
    quantize_multiplier, rounding_divide_by_pot, saturating_rounding_doubling_high_mul, Requant,
};
use crate::schema::{DType, Model, OpCode, OperatorInfo};
use crate::{Error, Result};

const OP: OpCode = OpCode::SOFTMAX;
const SOFTMAX_OPTIONS: u8 = 9;
/// Integer bits of the scaled differences (Q5.26) and of the sum of exponentials.
const DIFF_INTEGER_BITS: u32 = 5;
const SUM_INTEGER_BITS: i32 = 12;

#[derive(Clone, Copy, Debug)]
pub struct Softmax {
    input: usize,
    output: usize,
    /// Rows and the length of each (the last axis).
    rows: usize,
    depth: usize,
    kind: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    F32 {
        beta: f32,
    },
    /// `multiplier`/`shift` scale a difference (in input steps) by beta into Q5.26;
    /// differences below `diff_min` give exactly 0 (their exponential is negligible).
    Int8 {
        multiplier: i32,
        shift: i32,
        diff_min: i32,
    },
}

pub fn prepare(model: &Model<'_>, op: &OperatorInfo) -> Result<Softmax> {
    let bad = |why| Error::InvalidOperator(OP, why);
    if op.inputs.len() != 1 || op.outputs.len() != 1 {
        return Err(bad(why!("needs one input and one output")));
    }
    // TFLM leaves beta 0 without options.
    let mut beta = 0.0f32;
    if let Some(options) = op.options {
        if op.options_type != SOFTMAX_OPTIONS {
            return Err(bad(why!("options of another operator")));
        }
        beta = f32::from_bits(options.u32_or(model.buf(), 0, 0)?);
    }
    let (input, in_t) = required(model, op.inputs, 0, OP)?;
    let (output, out_t) = required(model, op.outputs, 0, OP)?;
    if out_t.data.is_some() {
        return Err(bad(why!("output is a constant")));
    }
    if in_t.rank() == 0 || !in_t.same_shape(&out_t) {
        return Err(bad(why!("input and output must have the same shape, of rank 1 or more")));
    }
    let depth = (in_t.last_dim() as usize).max(1);
    let rows = in_t.elements() / depth;
    let kind = match (in_t.dtype, out_t.dtype) {
        (DType::F32, DType::F32) => Kind::F32 { beta },
        (DType::I8, DType::I8) => {
            if out_t.zero_point != -128 || out_t.scale != 1.0 / 256.0 {
                return Err(bad(why!("int8 output must have scale 1/256 and zero point -128")));
            }
            // TFLite's PreprocessSoftmaxScaling (double-rounding build), then its
            // QuantizeMultiplierGreaterThanOne, whose check aborts TFLM.
            let scaled = beta as f64 * in_t.scale as f64 * (1u64 << (31 - DIFF_INTEGER_BITS)) as f64;
            let real = if scaled > 2147483647.0 { 2147483647.0 } else { scaled };
            if real.is_nan() || real <= 1.0 {
                return Err(bad(why!("beta x input scale is too small for the fixed-point path")));
            }
            let (multiplier, shift) = quantize_multiplier(real);
            // CalculateInputRadius: the largest difference that does not overflow Q5.26.
            let radius = ((1u64 << DIFF_INTEGER_BITS) - 1) as f64 * (1u64 << (31 - DIFF_INTEGER_BITS)) as f64
                / (1u64 << shift.clamp(0, 62)) as f64;
            Kind::Int8 { multiplier, shift, diff_min: -(radius as i32) }
        }
        _ => return Err(bad(why!("f32 -> f32 or int8 -> int8 only"))),
    };
    Ok(Softmax { input, output, rows, depth, kind })
}

impl Softmax {
    pub fn eval(&self, slots: &[Slot], io: &mut Io<'_>) -> Result<()> {
        let input_slot = super::slot(slots, self.input)?;
        let output_slot = super::slot(slots, self.output)?;
        let (input, output) = io.split(input_slot, output_slot)?;
        let depth = self.depth;
        match self.kind {
            Kind::F32 { beta } => {
                let n = 4 * depth;
                for (x, o) in input.chunks_exact(n).zip(output.chunks_exact_mut(n)).take(self.rows) {
                    softmax_f32(x, o, beta);
                }
            }
            Kind::Int8 { multiplier, shift, diff_min } => {
                let scale = Requant::new(multiplier, shift);
                for (x, o) in input.chunks_exact(depth).zip(output.chunks_exact_mut(depth)).take(self.rows) {
                    softmax_i8(x, o, scale, diff_min)?;
                }
            }
        }
        Ok(())
    }
}

fn f32_le(c: &[u8]) -> f32 {
    c.get(..4).and_then(|c| <[u8; 4]>::try_from(c).ok()).map_or(0.0, f32::from_le_bytes)
}

/// One row: maximum, e^((x - max) beta) into the output and summed in order, then
/// each divided by the sum; all in f32, as TFLM.
fn softmax_f32(x: &[u8], out: &mut [u8], beta: f32) {
    let mut max = f32::MIN;
    for v in x.chunks_exact(4).map(f32_le) {
        max = if max < v { v } else { max };
    }
    let mut sum = 0.0f32;
    for (v, o) in x.chunks_exact(4).map(f32_le).zip(out.chunks_exact_mut(4)) {
        let e = exp_f32((v - max) * beta);
        o.copy_from_slice(&e.to_le_bytes());
        sum += e;
    }
    for o in out.chunks_exact_mut(4) {
        let v = f32_le(o) / sum;
        o.copy_from_slice(&v.to_le_bytes());
    }
}

/// One int8 row. The exponentials are computed twice (for the sum, then for the
/// output), as TFLM does, rather than kept in a scratch buffer.
fn softmax_i8(x: &[u8], out: &mut [u8], scale: Requant, diff_min: i32) -> Result<()> {
    let max = x.iter().fold(i8::MIN, |m, &v| m.max(v as i8)) as i32;
    let exp_of = |v: u8| -> Option<i32> {
        let diff = v as i8 as i32 - max;
        // MultiplyByQuantizedMultiplierGreaterThanOne: the left shift, then the
        // high multiply (Requant's rounding shift is 0 here).
        (diff >= diff_min).then(|| exp_on_negative_values(scale.apply(diff), DIFF_INTEGER_BITS))
    };
    let mut sum = 0i32;
    for &v in x {
        if let Some(e) = exp_of(v) {
            // Rescale Q0.31 to Q12.19.
            sum = sum.wrapping_add(rounding_divide_by_pot(e, SUM_INTEGER_BITS));
        }
    }
    let (inverse, bits_over_unit) = reciprocal(sum, SUM_INTEGER_BITS);
    let exponent = bits_over_unit + 31 - 8;
    if !(0..=31).contains(&exponent) {
        // TFLM's TFLITE_CHECK aborts here: the sum reached 512.
        return Err(Error::InvalidOperator(OP, why!("sum of exponentials overflows TFLM's int8 path")));
    }
    for (&v, o) in x.iter().zip(out.iter_mut()) {
        *o = match exp_of(v) {
            Some(e) => {
                let unsaturated =
                    rounding_divide_by_pot(saturating_rounding_doubling_high_mul(inverse, e), exponent);
                unsaturated.wrapping_sub(128).clamp(-128, 127) as i8 as u8
            }
            None => i8::MIN as u8,
        };
    }
    Ok(())
}
