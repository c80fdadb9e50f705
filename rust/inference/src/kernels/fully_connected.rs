//! FULLY_CONNECTED, int8 (per-tensor or per-channel weights, int32 bias) and f32, as
//! TFLM's reference kernels compute it (`reference_integer_ops::FullyConnected`,
//! `reference_ops::FullyConnected`).

use super::{checked_multiplier, dot_i8, f32_at, required, Io, Persist, Slot};
use crate::quant::{Activation, Requant};
use crate::scale::{multiplier_f32_product, multiplier_f64_product};
use crate::schema::{DType, Model, OpCode, OperatorInfo};
use crate::{Error, Result};

const OP: OpCode = OpCode::FULLY_CONNECTED;
const FULLY_CONNECTED_OPTIONS: u8 = 8;

#[derive(Clone, Copy, Debug)]
pub struct FullyConnected<'m> {
    input: usize,
    output: usize,
    filter: &'m [u8],
    out_depth: usize,
    accum_depth: usize,
    kind: Kind<'m>,
}

#[derive(Clone, Copy, Debug)]
enum Kind<'m> {
    Float { bias: Option<&'m [u8]>, min: f32, max: f32 },
    Int8(Int8),
}

/// `folded` (persistent, one i32 per unit): bias + input offset x sum of the unit's
/// weights, so that invoke computes only sum(w x), as CMSIS-NN's kernel sums do.
/// Exact: it is the same sum regrouped, in the same wrapping int32 arithmetic.
#[derive(Clone, Copy, Debug)]
struct Int8 {
    folded: usize,
    /// Per-channel weights: one prepared [`Requant`] per unit (12 bytes each) in the
    /// arena's persistent part; per-tensor ones use `requant`.
    per_channel: Option<usize>,
    requant: [u8; 12],
    output_offset: i32,
    act_min: i32,
    act_max: i32,
}

pub fn prepare<'m>(
    model: &Model<'m>,
    op: &OperatorInfo<'m>,
    persist: &mut Persist<'_>,
) -> Result<FullyConnected<'m>> {
    let bad = |why| Error::InvalidOperator(OP, why);
    if op.outputs.len() != 1 || !(2..=3).contains(&op.inputs.len()) {
        return Err(bad("needs input, weights, optional bias and one output"));
    }
    let mut activation = Activation::None;
    if let Some(options) = op.options {
        if op.options_type != FULLY_CONNECTED_OPTIONS {
            return Err(bad("options of another operator"));
        }
        activation =
            Activation::from_schema(options.u8_or(0, 0)?).ok_or(bad("unsupported fused activation"))?;
        if options.u8_or(1, 0)? != 0 {
            return Err(bad("shuffled weights format"));
        }
        if options.bool_or(3, false)? {
            return Err(bad("hybrid (asymmetric_quantize_inputs) is not supported"));
        }
    }
    let (input, in_t) = required(model, op.inputs, 0, OP)?;
    let (_, filter_t) = required(model, op.inputs, 1, OP)?;
    let (output, out_t) = required(model, op.outputs, 0, OP)?;
    if in_t.data.is_some() {
        return Err(bad("a constant input is not supported"));
    }
    let filter = filter_t.data.ok_or(bad("weights must be constant"))?;
    if filter_t.rank != 2 {
        return Err(bad("weights must have rank 2"));
    }
    let (out_depth, accum_depth) = (filter_t.dims[0] as usize, filter_t.dims[1] as usize);
    if !in_t.elements().is_multiple_of(accum_depth) {
        return Err(bad("input size is not a multiple of the weights' depth"));
    }
    let batches = in_t.elements() / accum_depth; // accum_depth >= 1: validated dimensions
    if out_t.elements() != batches * out_depth || out_t.dims().last().copied() != Some(out_depth as i32) {
        return Err(bad("output shape does not match batches x units"));
    }
    let kind = match (in_t.dtype, filter_t.dtype, out_t.dtype) {
        (DType::F32, DType::F32, DType::F32) => {
            let bias = super::bias(model, op, out_depth, DType::F32)?;
            let (min, max) = activation.float_range();
            Kind::Float { bias, min, max }
        }
        (DType::I8, DType::I8, DType::I8) => {
            let bias = super::bias(model, op, out_depth, DType::I32)?;
            if filter_t.zero_point != 0 {
                return Err(bad("int8 weights must be symmetric (zero point 0)"));
            }
            let (requant, per_channel) = match filter_t.channel_scales {
                None => {
                    // TFLM: the product of the float scales in float, the quotient in double.
                    let ms = multiplier_f32_product(in_t.scale, filter_t.scale, out_t.scale);
                    let (m, s) = checked_multiplier(ms, OP)?;
                    (Requant::new(m, s).to_bytes(), None)
                }
                Some(scales) => {
                    if filter_t.quantized_dimension != 0 {
                        return Err(bad("per-channel weights must be quantized along the units"));
                    }
                    let at = persist.alloc(12 * out_depth)?;
                    for c in 0..out_depth {
                        let ms = multiplier_f64_product(in_t.scale, scales.f32(c)?, out_t.scale);
                        let (m, s) = checked_multiplier(ms, OP)?;
                        for (i, b) in Requant::new(m, s).to_bytes().chunks_exact(4).enumerate() {
                            persist
                                .put_i32(at + 12 * c + 4 * i, i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                        }
                    }
                    ([0; 12], Some(at))
                }
            };
            let (act_min, act_max) = activation
                .int8_range(out_t.scale, out_t.zero_point)
                .ok_or(bad("activation range overflows"))?;
            let folded = persist.alloc(4 * out_depth)?;
            let input_offset = in_t.zero_point.wrapping_neg();
            for (c, w) in filter.chunks_exact(accum_depth).enumerate() {
                let sum = w.iter().fold(0i32, |acc, &v| acc.wrapping_add(v as i8 as i32));
                let b = bias.map_or(0, |b| super::i32_at(b, 4 * c));
                persist.put_i32(folded + 4 * c, b.wrapping_add(input_offset.wrapping_mul(sum)));
            }
            let output_offset = out_t.zero_point;
            Kind::Int8(Int8 { folded, per_channel, requant, output_offset, act_min, act_max })
        }
        _ => return Err(bad("types must be all f32 or all int8")),
    };
    Ok(FullyConnected { input, output, filter, out_depth, accum_depth, kind })
}

impl FullyConnected<'_> {
    pub fn eval(&self, slots: &[Slot], io: &mut Io<'_>) -> Result<()> {
        let persistent = io.persistent;
        let (input, output) = io.split(slots[self.input], slots[self.output])?;
        let (depth, units) = (self.accum_depth, self.out_depth);
        // Validated at preparation (dimensions are at least 1): keeps invoke panic-free.
        if depth == 0 || units == 0 {
            return Err(Error::BadTensor);
        }
        let filter = self.filter;
        match self.kind {
            Kind::Int8(ref p) => {
                let folded = persistent.get(p.folded..p.folded + 4 * units).ok_or(Error::BadTensor)?;
                let (table, stride) = match p.per_channel {
                    None => (&p.requant[..], 0),
                    Some(at) => (persistent.get(at..at + 12 * units).ok_or(Error::BadTensor)?, 12),
                };
                let batches = input.len() / depth;
                for b in 0..batches {
                    let x = input.get(b * depth..b * depth + depth).ok_or(Error::BadTensor)?;
                    let out = output.get_mut(b * units..b * units + units).ok_or(Error::BadTensor)?;
                    int8_batch(x, (filter, folded, table, stride), out, p)?;
                }
            }
            Kind::Float { bias, min, max } => {
                if input.len() % 4 != 0 || output.len() % 4 != 0 || bias.is_some_and(|b| b.len() < 4 * units)
                {
                    return Err(Error::BadTensor);
                }
                for (x, out) in input.chunks_exact(4 * depth).zip(output.chunks_exact_mut(4 * units)) {
                    let rows = filter.chunks_exact(4 * depth);
                    for (c, (o, w)) in out.chunks_exact_mut(4).zip(rows).enumerate() {
                        let mut total = 0.0f32;
                        for (a, b) in x.chunks_exact(4).zip(w.chunks_exact(4)) {
                            total += f32_from(a) * f32_from(b);
                        }
                        let t = total + bias.map_or(0.0, |bias| f32_at(bias, c));
                        let v = if t < min {
                            min
                        } else if t > max {
                            max
                        } else {
                            t
                        };
                        o.copy_from_slice(&v.to_le_bytes());
                    }
                }
            }
        }
        Ok(())
    }
}

/// One batch of int8 FULLY_CONNECTED: for each unit, the folded sum plus its row of
/// weights times `x`, requantized, offset and clamped; 8 units at a time, first their
/// sums ([`accumulate`]), then their outputs ([`requantize`]). Each of the two loops is
/// a function of its own, so that each keeps its values in registers.
fn int8_batch(
    x: &[u8],
    (mut rows, mut sums, mut table, stride): (&[u8], &[u8], &[u8], usize),
    out: &mut [u8],
    p: &Int8,
) -> Result<()> {
    let mut acc = [0i32; 8];
    for out in out.chunks_mut(8) {
        let acc = acc.get_mut(..out.len()).ok_or(Error::BadTensor)?;
        (rows, sums) = accumulate(x, rows, sums, acc).ok_or(Error::BadTensor)?;
        table = requantize(acc, out, table, stride, p).ok_or(Error::BadTensor)?;
    }
    Ok(())
}

/// `acc[c] = folded[c] + rows[c] . x`, walking `rows` and `sums`, two rows at a time
/// (each value of `x` loaded once for both); what is left of them after `acc.len()`
/// units.
#[inline(never)]
fn accumulate<'r>(
    x: &[u8],
    mut rows: &'r [u8],
    mut sums: &'r [u8],
    mut acc: &mut [i32],
) -> Option<(&'r [u8], &'r [u8])> {
    let folded = |f: &[u8; 4]| i32::from_le_bytes(*f);
    while let [a0, a1, acc_rest @ ..] = acc {
        let (w0, next_rows) = rows.split_at_checked(x.len())?;
        let (w1, next_rows) = next_rows.split_at_checked(x.len())?;
        let (f0, next_sums) = sums.split_first_chunk::<4>()?;
        let (f1, next_sums) = next_sums.split_first_chunk::<4>()?;
        let (d0, d1) = dot2_i8(w0, w1, x);
        *a0 = folded(f0).wrapping_add(d0);
        *a1 = folded(f1).wrapping_add(d1);
        (rows, sums, acc) = (next_rows, next_sums, acc_rest);
    }
    if let [a] = acc {
        let (w, next_rows) = rows.split_at_checked(x.len())?;
        let (f, next_sums) = sums.split_first_chunk::<4>()?;
        *a = folded(f).wrapping_add(dot_i8(w, x));
        (rows, sums) = (next_rows, next_sums);
    }
    Some((rows, sums))
}

/// `(w0 . x, w1 . x)` over int8 values in wrapping int32 (over the shortest slice),
/// four values of `x` at a time.
#[inline(always)]
fn dot2_i8(mut w0: &[u8], mut w1: &[u8], mut x: &[u8]) -> (i32, i32) {
    let v = |b: &u8| *b as i8 as i32;
    let (mut s0, mut s1) = (0i32, 0i32);
    while let ([p0, p1, p2, p3, p_rest @ ..], [q0, q1, q2, q3, q_rest @ ..], [x0, x1, x2, x3, x_rest @ ..]) =
        (w0, w1, x)
    {
        let (x0, x1, x2, x3) = (v(x0), v(x1), v(x2), v(x3));
        s0 = s0
            .wrapping_add(v(p0) * x0)
            .wrapping_add(v(p1) * x1)
            .wrapping_add(v(p2) * x2)
            .wrapping_add(v(p3) * x3);
        s1 = s1
            .wrapping_add(v(q0) * x0)
            .wrapping_add(v(q1) * x1)
            .wrapping_add(v(q2) * x2)
            .wrapping_add(v(q3) * x3);
        (w0, w1, x) = (p_rest, q_rest, x_rest);
    }
    while let ([p, p_rest @ ..], [q, q_rest @ ..], [xv, x_rest @ ..]) = (w0, w1, x) {
        let xv = v(xv);
        s0 = s0.wrapping_add(v(p) * xv);
        s1 = s1.wrapping_add(v(q) * xv);
        (w0, w1, x) = (p_rest, q_rest, x_rest);
    }
    (s0, s1)
}

/// The outputs of `acc`: requantized (one table entry for all, `stride` 0, or one
/// each), offset and clamped (max then min, as TFLM clamps, and no panic path for a
/// bad range). What is left of the table.
#[inline(never)]
fn requantize<'t>(acc: &[i32], out: &mut [u8], table: &'t [u8], stride: usize, p: &Int8) -> Option<&'t [u8]> {
    let (offset, min, max) = (p.output_offset, p.act_min, p.act_max);
    if stride == 0 {
        let rq = Requant::from_bytes(table.first_chunk::<12>()?);
        for (o, &a) in out.iter_mut().zip(acc) {
            *o = rq.apply(a).wrapping_add(offset).max(min).min(max) as i8 as u8;
        }
        return Some(table);
    }
    let mut table = table;
    for (o, &a) in out.iter_mut().zip(acc) {
        let (q, rest) = table.split_first_chunk::<12>()?;
        *o = Requant::from_bytes(q).apply(a).wrapping_add(offset).max(min).min(max) as i8 as u8;
        table = rest;
    }
    Some(table)
}

fn f32_from(b: &[u8]) -> f32 {
    f32::from_le_bytes([b[0], b[1], b[2], b[3]])
}
