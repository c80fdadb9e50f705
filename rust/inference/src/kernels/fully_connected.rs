//! FULLY_CONNECTED, int8 (per-tensor or per-channel weights, int32 bias) and f32, as
//! TFLM's reference kernels compute it (`reference_integer_ops::FullyConnected`,
//! `reference_ops::FullyConnected`).

#[cfg(feature = "op-fully-connected")]
use super::f32_at;
use super::{checked_multiplier, dot4_i8, dot_i8, required_into, slot, Io, Persist, Slot};
#[cfg(fc_offset_in_loop)]
use super::{dot4_offset, dot_offset, FOLD_MAX};
use crate::quant::{Activation, Requant};
use crate::scale::multiplier;
use crate::schema::{DType, Model, OpCode, OperatorInfo, TensorInfo};
use crate::{Error, Result};

const OP: OpCode = OpCode::FULLY_CONNECTED;
const FULLY_CONNECTED_OPTIONS: u8 = 8;

#[derive(Clone, Copy, Debug)]
pub struct FullyConnected<'m> {
    /// Tensor indices (checked to fit): a smaller interpreter.
    input: u16,
    output: u16,
    filter: &'m [u8],
    out_depth: usize,
    accum_depth: usize,
    kind: Kind<'m>,
    /// An int8 layer's sums' start, the bias as the model holds it, when there is
    /// nothing to fold into it (the input offset added in the loop): read in place,
    /// not copied into the arena. Empty when `Int8::folded` holds them.
    #[cfg(fc_offset_in_loop)]
    bias_in_model: &'m [u8],
}

#[derive(Clone, Copy, Debug)]
enum Kind<'m> {
    #[cfg(feature = "op-fully-connected")]
    Float {
        bias: Option<&'m [u8]>,
        min: f32,
        max: f32,
    },
    Int8(Int8),
    /// Keeps the lifetime used in an int8-only build.
    #[cfg(not(feature = "op-fully-connected"))]
    _Model(core::marker::PhantomData<&'m ()>),
}

/// Offsets into the arena's persistent part, where preparation stored:
/// `folded`, one i32 per unit: bias + input offset x sum of the unit's weights, so
/// that invoke computes only sum(w x), as CMSIS-NN's kernel sums do (exact: the same
/// sum regrouped, in the same wrapping int32 arithmetic); `requant`, one prepared
/// [`Requant`] for all units or one per unit (`per_channel` weights). The output
/// offset and activation bounds are int8 values (an int8 zero point; bounds clamped
/// to the int8 range): 12 bytes, since the interpreter holds one per operator.
#[derive(Clone, Copy, Debug)]
struct Int8 {
    folded: usize,
    requant: usize,
    per_channel: bool,
    output_offset: i8,
    act_min: i8,
    act_max: i8,
    /// The input offset invoke adds to each input value (0 when preparation folded it
    /// into `folded`, as it does for a layer of at most [`FOLD_MAX`] weights).
    #[cfg(fc_offset_in_loop)]
    input_offset: i16,
}

pub fn prepare<'m>(
    model: &Model<'m>,
    op: &OperatorInfo,
    persist: &mut Persist<'_>,
) -> Result<FullyConnected<'m>> {
    let bad = |why| Error::InvalidOperator(OP, why);
    if op.outputs.len() != 1 || !(2..=3).contains(&op.inputs.len()) {
        return Err(bad(why!("needs input, weights, optional bias and one output")));
    }
    let mut activation = Activation::None;
    if let Some(options) = op.options {
        if op.options_type != FULLY_CONNECTED_OPTIONS {
            return Err(bad(why!("options of another operator")));
        }
        activation = Activation::from_schema(options.u8_or(model.buf(), 0, 0)?)
            .ok_or(bad(why!("unsupported fused activation")))?;
        if options.u8_or(model.buf(), 1, 0)? != 0 {
            return Err(bad(why!("shuffled weights format")));
        }
        if options.bool_or(model.buf(), 3, false)? {
            return Err(bad(why!("hybrid (asymmetric_quantize_inputs) is not supported")));
        }
    }
    let (mut in_t, mut filter_t, mut out_t) = (TensorInfo::EMPTY, TensorInfo::EMPTY, TensorInfo::EMPTY);
    #[cfg(fc_offset_in_loop)]
    let bias_in_model: &'m [u8];
    let input = required_into(model, op.inputs, 0, OP, &mut in_t)?;
    required_into(model, op.inputs, 1, OP, &mut filter_t)?;
    let output = required_into(model, op.outputs, 0, OP, &mut out_t)?;
    if in_t.data.is_some() {
        return Err(bad(why!("a constant input is not supported")));
    }
    let filter = filter_t.data.ok_or(bad(why!("weights must be constant")))?;
    if filter_t.rank() != 2 {
        return Err(bad(why!("weights must have rank 2")));
    }
    let (out_depth, accum_depth) = (filter_t.dim(0) as usize, filter_t.dim(1) as usize);
    if !in_t.elements().is_multiple_of(accum_depth) {
        return Err(bad(why!("input size is not a multiple of the weights' depth")));
    }
    // accum_depth >= 1: validated dimensions.
    let batches = in_t.elements().checked_div(accum_depth).ok_or(bad(why!("weights of depth 0")))?;
    if Some(out_t.elements()) != batches.checked_mul(out_depth)
        || out_t.rank() == 0
        || out_t.last_dim() != out_depth as i32
    {
        return Err(bad(why!("output shape does not match batches x units")));
    }
    let kind = match (in_t.dtype, filter_t.dtype, out_t.dtype) {
        #[cfg(feature = "op-fully-connected")]
        (DType::F32, DType::F32, DType::F32) => {
            let bias = super::bias(model, op, out_depth, DType::F32, &mut in_t)?;
            let (min, max) = activation.float_range();
            #[cfg(fc_offset_in_loop)]
            {
                bias_in_model = &[];
            }
            Kind::Float { bias, min, max }
        }
        (DType::I8, DType::I8, DType::I8) => {
            if filter_t.zero_point != 0 {
                return Err(bad(why!("int8 weights must be symmetric (zero point 0)")));
            }
            let per_channel = filter_t.is_per_channel();
            if per_channel && filter_t.quantized_dimension != 0 {
                return Err(bad(why!("per-channel weights must be quantized along the units")));
            }
            // One entry for per-tensor weights, whose scale product TFLM computes in
            // float and the quotient in double; one per unit for per-channel ones, with
            // the product in double too.
            let entries = if per_channel { out_depth } else { 1 };
            let requant = persist.alloc(Requant::BYTES * entries)?;
            for c in 0..entries {
                let ms = multiplier(in_t.scale, filter_t.scale_of(c), out_t.scale, !per_channel);
                let (m, s) = checked_multiplier(ms, OP)?;
                persist.put(requant + Requant::BYTES * c, &Requant::new(m, s).to_bytes());
            }
            let (act_min, act_max) = activation
                .int8_range(out_t.scale, out_t.zero_point)
                .ok_or(bad(why!("activation range overflows")))?;
            let int8 = |v: i32| i8::try_from(v).map_err(|_| bad(why!("activation range outside int8")));
            let (act_min, act_max) = (int8(act_min)?, int8(act_max)?);
            // Validated at load: an int8 zero point.
            let output_offset = int8(out_t.zero_point)?;
            let input_offset = in_t.zero_point.wrapping_neg();
            // The input's description is read no more: the bias's goes into its storage
            // (one `TensorInfo` less on the stack).
            let bias = super::bias(model, op, out_depth, DType::I32, &mut in_t)?;
            // A large layer keeps its bias as it is and adds the offset at invoke (an
            // int8 zero point: the offset fits an i16).
            #[cfg(fc_offset_in_loop)]
            let (input_offset, loop_offset) = match filter.len() > FOLD_MAX {
                true => (0, input_offset as i16),
                false => (input_offset, 0),
            };
            // Nothing to fold: the sums are the bias, read where the model holds it
            // (validated: one i32 per unit), with no copy and no arena.
            #[cfg(fc_offset_in_loop)]
            {
                bias_in_model = match (input_offset, bias) {
                    (0, Some(b)) => b.get(..4 * out_depth).ok_or(bad(why!("bias shorter than its shape")))?,
                    _ => &[],
                };
            }
            #[cfg(fc_offset_in_loop)]
            let in_arena = bias_in_model.is_empty();
            #[cfg(not(fc_offset_in_loop))]
            let in_arena = true;
            let folded = if in_arena { persist.alloc(4 * out_depth)? } else { 0 };
            // A pass over every weight: only when the sums are stored (not at load).
            let stored = if persist.counting_only() || !in_arena { &[][..] } else { filter };
            for (c, w) in stored.chunks_exact(accum_depth).enumerate() {
                // A word at a time where CONV_2D links that sum already; byte by byte
                // (less flash) in a build without it, such as the sine model's.
                #[cfg(feature = "op-conv-2d")]
                let sum = match input_offset {
                    0 => 0,
                    _ => super::conv::sum_i8(w),
                };
                #[cfg(not(feature = "op-conv-2d"))]
                let sum = w.iter().fold(0i32, |acc, &v| acc.wrapping_add(v as i8 as i32));
                let b = bias.map_or(0, |b| super::i32_at(b, 4 * c));
                let v = b.wrapping_add(input_offset.wrapping_mul(sum));
                // Word stores, no call per unit, where CONV_2D links them already.
                #[cfg(feature = "op-conv-2d")]
                persist.put_array(folded + 4 * c, v.to_le_bytes());
                #[cfg(not(feature = "op-conv-2d"))]
                persist.put_i32(folded + 4 * c, v);
            }
            Kind::Int8(Int8 {
                folded,
                requant,
                per_channel,
                output_offset,
                act_min,
                act_max,
                #[cfg(fc_offset_in_loop)]
                input_offset: loop_offset,
            })
        }
        #[cfg(not(feature = "op-fully-connected"))]
        (DType::F32, DType::F32, DType::F32) => {
            return Err(bad(why!("f32 is not in this build (int8 only)")))
        }
        _ => return Err(bad(why!("types must be all f32 or all int8"))),
    };
    let index = |t: usize| u16::try_from(t).map_err(|_| Error::TooLarge(why!("tensors")));
    let (input, output) = (index(input)?, index(output)?);
    Ok(FullyConnected {
        input,
        output,
        filter,
        out_depth,
        accum_depth,
        kind,
        #[cfg(fc_offset_in_loop)]
        bias_in_model,
    })
}

impl FullyConnected<'_> {
    pub fn eval(&self, slots: &[Slot], io: &mut Io<'_>) -> Result<()> {
        let persistent = io.persistent;
        let (input, output) =
            io.split(slot(slots, self.input as usize)?, slot(slots, self.output as usize)?)?;
        // Both at least 1 (validated dimensions); the kernels refuse a depth of 0, so
        // the batches below always advance and no chunk is empty.
        let (depth, units) = (self.accum_depth, self.out_depth);
        let filter = self.filter;
        match self.kind {
            Kind::Int8(ref p) => {
                #[cfg(fc_offset_in_loop)]
                let in_model = (!self.bias_in_model.is_empty()).then_some(self.bias_in_model);
                #[cfg(not(fc_offset_in_loop))]
                let in_model = None;
                let folded = in_model
                    .or_else(|| persistent.get(p.folded..p.folded + 4 * units))
                    .ok_or(Error::BadTensor)?;
                let table = persistent.get(p.requant..).ok_or(Error::BadTensor)?;
                let (mut input, mut output) = (input, output);
                while let (Some((x, next_input)), Some((out, next_output))) =
                    (input.split_at_checked(depth), output.split_at_mut_checked(units))
                {
                    int8_batch(x, filter, folded, table, out, p).ok_or(Error::BadTensor)?;
                    (input, output) = (next_input, next_output);
                }
            }
            #[cfg(feature = "op-fully-connected")]
            Kind::Float { bias, min, max } => {
                if depth == 0
                    || units == 0
                    || input.len() % 4 != 0
                    || output.len() % 4 != 0
                    || bias.is_some_and(|b| b.len() < 4 * units)
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
            #[cfg(not(feature = "op-fully-connected"))]
            Kind::_Model(_) => {}
        }
        Ok(())
    }
}

/// One batch of int8 FULLY_CONNECTED: four units at a time, their sums (the folded
/// sum plus the row of weights times `x`, each value of `x` loaded once for the four
/// rows) requantized, offset and clamped as soon as they are known, in registers;
/// then the units left over one at a time.
#[inline(never)]
fn int8_batch(x: &[u8], filter: &[u8], folded: &[u8], table: &[u8], out: &mut [u8], p: &Int8) -> Option<()> {
    let depth = x.len();
    if depth == 0 {
        return None; // the caller's batches are never empty: keeps the chunks below panic-free
    }
    let c = Clamp::of(p);
    #[cfg(fc_offset_in_loop)]
    let offset = i32::from(p.input_offset);
    #[cfg(not(fc_offset_in_loop))]
    let offset = 0;
    let mut out4 = out.chunks_exact_mut(4);
    let mut rows4 = filter.chunks_exact(depth.checked_mul(4)?);
    let mut sums4 = folded.chunks_exact(16);
    let mut table = table;
    for ((o, w), f) in (&mut out4).zip(&mut rows4).zip(&mut sums4) {
        let (Some(o), Some(f)) = (o.first_chunk_mut::<4>(), f.first_chunk::<16>()) else { return None };
        let word = |i: usize| i32::from_le_bytes([f[i], f[i + 1], f[i + 2], f[i + 3]]);
        let sums = [word(0), word(4), word(8), word(12)];
        let acc = match (x, w) {
            // Depth 1 (a first layer's single input): one product per unit, no loop.
            ([x], [w0, w1, w2, w3]) => {
                let (x, v) = (*x as i8 as i32 + offset, |w: &u8| *w as i8 as i32);
                let [s0, s1, s2, s3] = sums;
                let p = |s: i32, w| s.wrapping_add(v(w) * x);
                [p(s0, w0), p(s1, w1), p(s2, w2), p(s3, w3)]
            }
            _ => {
                let (w0, w) = w.split_at_checked(depth)?;
                let (w1, w) = w.split_at_checked(depth)?;
                let (w2, w3) = w.split_at_checked(depth)?;
                #[cfg(fc_offset_in_loop)]
                match offset {
                    0 => dot4_i8(sums, w0, w1, w2, w3, x),
                    128 => dot4_offset::<true>(sums, w0, w1, w2, w3, x, offset),
                    _ => dot4_offset::<false>(sums, w0, w1, w2, w3, x, offset),
                }
                #[cfg(not(fc_offset_in_loop))]
                dot4_i8(sums, w0, w1, w2, w3, x)
            }
        };
        table = requantize4(acc, o, table, p.per_channel, c)?;
    }
    let rows = rows4.remainder().chunks_exact(depth);
    let sums = sums4.remainder().chunks_exact(4);
    for ((o, w), f) in out4.into_remainder().iter_mut().zip(rows).zip(sums) {
        #[cfg(fc_offset_in_loop)]
        let a = folded_sum(f)?.wrapping_add(match offset {
            0 => dot_i8(w, x),
            _ => dot_offset(w, x, offset),
        });
        #[cfg(not(fc_offset_in_loop))]
        let a = folded_sum(f)?.wrapping_add(dot_i8(w, x));
        let (q, rest) = table.split_first_chunk()?;
        *o = requantize(q, a, c);
        if p.per_channel {
            table = rest;
        }
    }
    Some(())
}

#[inline(always)]
fn folded_sum(b: &[u8]) -> Option<i32> {
    Some(i32::from_le_bytes(*b.first_chunk::<4>()?))
}

/// The output offset and activation bounds, widened once per batch (kept in
/// registers across the units).
#[derive(Clone, Copy)]
struct Clamp {
    offset: i32,
    min: i32,
    max: i32,
}

impl Clamp {
    fn of(p: &Int8) -> Self {
        Clamp { offset: p.output_offset.into(), min: p.act_min.into(), max: p.act_max.into() }
    }
}

/// Offset and clamp (max then min, as TFLM clamps, and no panic path for a bad range).
#[inline(always)]
fn clamp(v: i32, c: Clamp) -> u8 {
    v.wrapping_add(c.offset).max(c.min).min(c.max) as i8 as u8
}

/// Four outputs from their sums: requantized with one table entry for all (per-tensor
/// weights; the shift's branch taken once for the four) or one each. What is left of the
/// table.
#[inline(always)]
fn requantize4<'t>(
    acc: [i32; 4],
    out: &mut [u8; 4],
    table: &'t [u8],
    per_channel: bool,
    c: Clamp,
) -> Option<&'t [u8]> {
    let [a0, a1, a2, a3] = acc;
    if !per_channel {
        let rq = Requant::from_bytes(table.first_chunk()?);
        *out = if rq.right_shift() == 0 {
            let q = |a| clamp(rq.apply_left(a), c);
            [q(a0), q(a1), q(a2), q(a3)]
        } else {
            let q = |a| clamp(rq.apply_right(a), c);
            [q(a0), q(a1), q(a2), q(a3)]
        };
        return Some(table);
    }
    let (entries, rest) = table.split_first_chunk::<{ 4 * Requant::BYTES }>()?;
    let q = |i: usize, a| entries[i * Requant::BYTES..].first_chunk().map_or(0, |e| requantize(e, a, c));
    *out = [q(0, a0), q(1, a1), q(2, a2), q(3, a3)];
    Some(rest)
}

/// One sum requantized with its own table entry, offset and clamped: per-channel
/// units and the units left over after the groups of four. Not inlined (flash): the
/// common case, per-tensor weights in groups of four, has its own copies.
#[inline(never)]
fn requantize(entry: &[u8; Requant::BYTES], a: i32, c: Clamp) -> u8 {
    clamp(Requant::from_bytes(entry).apply(a), c)
}

#[cfg(feature = "op-fully-connected")]
fn f32_from(b: &[u8]) -> f32 {
    f32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(all(test, fc_offset_in_loop))]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// The input offset added inside the loop gives what the folded sums give, for
    /// every path of `int8_batch`: groups of four units, the units left over, depth 1,
    /// the fixed offset 128 and another one.
    #[test]
    fn offset_in_loop_equals_folded_sums() {
        let mut seed = 0x2545_f491u32;
        let mut byte = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as u8
        };
        for (depth, units, offset) in [(1, 7, 128), (1, 4, -89), (37, 7, 128), (64, 10, -89), (640, 9, 3)] {
            let x: Vec<u8> = (0..depth).map(|_| byte()).collect();
            let filter: Vec<u8> = (0..depth * units).map(|_| byte()).collect();
            let bias: Vec<i32> = (0..units).map(|u| (u as i32 - 3) * 1000).collect();
            let table = Requant::new(1 << 30, -4).to_bytes();
            let sum = |u: usize| filter[u * depth..][..depth].iter().map(|&w| w as i8 as i32).sum::<i32>();
            let folded: Vec<u8> =
                (0..units).flat_map(|u| (bias[u] + offset * sum(u)).to_le_bytes()).collect();
            let plain: Vec<u8> = bias.iter().flat_map(|b| b.to_le_bytes()).collect();
            let p = |input_offset| Int8 {
                folded: 0,
                requant: 0,
                per_channel: false,
                output_offset: -5,
                act_min: -128,
                act_max: 127,
                input_offset,
            };
            let (mut a, mut b) = (std::vec![0u8; units], std::vec![0u8; units]);
            int8_batch(&x, &filter, &folded, &table, &mut a, &p(0)).unwrap();
            int8_batch(&x, &filter, &plain, &table, &mut b, &p(offset as i16)).unwrap();
            assert_eq!(a, b, "depth {depth}, units {units}, offset {offset}");
            // Not all outputs clamped to one bound: the comparison says something.
            assert!(a.iter().any(|&v| v != a[0]), "depth {depth}, units {units}: {a:?}");
        }
    }
}
