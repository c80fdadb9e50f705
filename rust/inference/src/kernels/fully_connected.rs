//! FULLY_CONNECTED, int8 (per-tensor or per-channel weights, int32 bias) and f32, as
//! TFLM's reference kernels compute it (`reference_integer_ops::FullyConnected`,
//! `reference_ops::FullyConnected`).

use super::requant_multiplier;
use super::{dot_i8, f32_at, required, Io, Persist, Slot};
use crate::quant::{Activation, Requant};
use crate::schema::{DType, Model, OpCode, OperatorInfo};
use crate::{Error, Result};

const OP: OpCode = OpCode::FULLY_CONNECTED;
const FULLY_CONNECTED_OPTIONS: u8 = 8;

#[derive(Clone, Copy, Debug)]
pub struct FullyConnected<'m> {
    input: usize,
    output: usize,
    filter: &'m [u8],
    bias: Option<&'m [u8]>,
    batches: usize,
    out_depth: usize,
    accum_depth: usize,
    kind: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Float {
        min: f32,
        max: f32,
    },
    /// `folded` (persistent, one i32 per unit): bias + input offset x sum of the unit's
    /// weights, so that invoke computes only sum(w x). Exact: it is the same sum
    /// regrouped, in the same wrapping int32 arithmetic.
    Int8 {
        folded: usize,
        output_offset: i32,
        multiplier: Multiplier,
        act_min: i32,
        act_max: i32,
    },
}

#[derive(Clone, Copy, Debug)]
enum Multiplier {
    PerTensor(Requant),
    /// (multiplier, shift) pairs per unit, in the arena's persistent part.
    PerChannel {
        at: usize,
    },
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
    let batches = in_t.elements() / accum_depth;
    if out_t.elements() != batches * out_depth || out_t.dims().last().copied() != Some(out_depth as i32) {
        return Err(bad("output shape does not match batches x units"));
    }
    let bias;
    let kind = match (in_t.dtype, filter_t.dtype, out_t.dtype) {
        (DType::F32, DType::F32, DType::F32) => {
            bias = super::bias(model, op, out_depth, DType::F32)?;
            let (min, max) = activation.float_range();
            Kind::Float { min, max }
        }
        (DType::I8, DType::I8, DType::I8) => {
            bias = super::bias(model, op, out_depth, DType::I32)?;
            if filter_t.zero_point != 0 {
                return Err(bad("int8 weights must be symmetric (zero point 0)"));
            }
            let multiplier = match filter_t.channel_scales {
                None => {
                    // TFLM: the product of the float scales, in float, then as double.
                    let product = (in_t.scale * filter_t.scale) as f64;
                    let (m, s) = requant_multiplier(product / out_t.scale as f64, OP)?;
                    Multiplier::PerTensor(Requant::new(m, s))
                }
                Some(scales) => {
                    if filter_t.quantized_dimension != 0 {
                        return Err(bad("per-channel weights must be quantized along the units"));
                    }
                    let at = persist.alloc(8 * out_depth)?;
                    for c in 0..out_depth {
                        let real = in_t.scale as f64 * scales.f32(c)? as f64 / out_t.scale as f64;
                        let (m, s) = requant_multiplier(real, OP)?;
                        persist.put_i32(at + 8 * c, m);
                        persist.put_i32(at + 8 * c + 4, s);
                    }
                    Multiplier::PerChannel { at }
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
            Kind::Int8 { folded, output_offset: out_t.zero_point, multiplier, act_min, act_max }
        }
        _ => return Err(bad("types must be all f32 or all int8")),
    };
    Ok(FullyConnected { input, output, filter, bias, batches, out_depth, accum_depth, kind })
}

impl FullyConnected<'_> {
    pub fn eval(&self, slots: &[Slot], io: &mut Io<'_>) -> Result<()> {
        let persistent = io.persistent;
        let (input, output) = io.split(slots[self.input], slots[self.output])?;
        let (depth, units) = (self.accum_depth, self.out_depth);
        match self.kind {
            Kind::Int8 { folded, output_offset, multiplier, act_min, act_max } => {
                let folded = persistent.get(folded..folded + 4 * units).ok_or(Error::BadTensor)?;
                let filter = self.filter.get(..units * depth).ok_or(Error::BadTensor)?;
                for b in 0..self.batches {
                    let x = input.get(b * depth..(b + 1) * depth).ok_or(Error::BadTensor)?;
                    let out = output.get_mut(b * units..(b + 1) * units).ok_or(Error::BadTensor)?;
                    for (c, o) in out.iter_mut().enumerate() {
                        let w = &filter[c * depth..(c + 1) * depth];
                        let f = &folded[4 * c..4 * c + 4];
                        let acc = i32::from_le_bytes([f[0], f[1], f[2], f[3]]).wrapping_add(dot_i8(w, x));
                        let scaled = match multiplier {
                            Multiplier::PerTensor(rq) => rq.apply(acc),
                            Multiplier::PerChannel { at } => Requant::new(
                                super::i32_at(persistent, at + 8 * c),
                                super::i32_at(persistent, at + 8 * c + 4),
                            )
                            .apply(acc),
                        };
                        // max then min, as TFLM clamps (and no panic path for a bad range).
                        *o = scaled.wrapping_add(output_offset).max(act_min).min(act_max) as i8 as u8;
                    }
                }
            }
            Kind::Float { min, max } => {
                // Validated shapes make these hold; checked so that no index below can fail.
                if input.len() < 4 * self.batches * depth
                    || output.len() < 4 * self.batches * units
                    || self.filter.len() < 4 * units * depth
                    || self.bias.is_some_and(|b| b.len() < 4 * units)
                {
                    return Err(Error::BadTensor);
                }
                for b in 0..self.batches {
                    for c in 0..units {
                        let mut total = 0.0f32;
                        for d in 0..depth {
                            total += f32_at(input, b * depth + d) * f32_at(self.filter, c * depth + d);
                        }
                        let bias = self.bias.map_or(0.0, |bias| f32_at(bias, c));
                        let t = total + bias;
                        let v = if t < min {
                            min
                        } else if t > max {
                            max
                        } else {
                            t
                        };
                        output[4 * (b * units + c)..4 * (b * units + c) + 4]
                            .copy_from_slice(&v.to_le_bytes());
                    }
                }
            }
        }
        Ok(())
    }
}
