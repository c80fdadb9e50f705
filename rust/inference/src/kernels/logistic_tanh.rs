//! LOGISTIC and TANH, f32 and int8, as TFLM computes them (`logistic.cc`, `tanh.cc`).
//!
//! int8 follows `reference_integer_ops::Logistic`/`Tanh`: the input, less its zero
//! point, saturates beyond a radius, else is rescaled into Q4.27 and goes through
//! gemmlowp's fixed-point logistic or tanh. The output's quantization is implied by
//! the kernel, not read: logistic writes steps of 1/256 from -128 (TFLM checks only
//! that zero point), tanh steps of 1/128 around 0 (TFLM checks neither). Since the
//! result depends on the int8 input alone, preparation tabulates all 256 outputs in
//! the arena's persistent part and invoke only looks them up.

use super::fixed_point;
use super::float_math::{exp_f32, tanh_f32};
use super::{required, Io, Persist, Slot};
use crate::quant::{frexp, round_f64, rounding_divide_by_pot, Requant};
use crate::schema::{DType, Model, OpCode, OperatorInfo};
use crate::{Error, Result};

/// Integer bits of the rescaled input (Q4.27: inputs up to +-16).
const INPUT_INTEGER_BITS: u32 = 4;

#[derive(Clone, Copy, Debug)]
pub struct LogisticTanh {
    input: usize,
    output: usize,
    kind: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    LogisticF32,
    TanhF32,
    /// Output byte per input byte, at this offset of the persistent part.
    Int8 {
        table: usize,
    },
}

pub fn prepare(model: &Model<'_>, op: &OperatorInfo, persist: &mut Persist<'_>) -> Result<LogisticTanh> {
    let code = op.code;
    let bad = |why| Error::InvalidOperator(code, why);
    if op.inputs.len() != 1 || op.outputs.len() != 1 {
        return Err(bad(why!("needs one input and one output")));
    }
    let (input, in_t) = required(model, op.inputs, 0, code)?;
    let (output, out_t) = required(model, op.outputs, 0, code)?;
    if out_t.data.is_some() {
        return Err(bad(why!("output is a constant")));
    }
    if in_t.elements() != out_t.elements() || in_t.dtype != out_t.dtype {
        return Err(bad(why!("input and output differ in size or type")));
    }
    let logistic = code == OpCode::LOGISTIC;
    let kind = match in_t.dtype {
        DType::F32 if logistic => Kind::LogisticF32,
        DType::F32 => Kind::TanhF32,
        DType::I8 => {
            if logistic && out_t.zero_point != -128 {
                return Err(bad(why!("int8 output zero point must be -128")));
            }
            // The input scale as a Q31 multiplier and left shift into Q4.27 (TFLM
            // takes frexp directly); shifts outside 0..=62 are undefined there.
            let (q, shift) = frexp(in_t.scale as f64 * (1u64 << (31 - INPUT_INTEGER_BITS)) as f64);
            if !(0..=62).contains(&shift) {
                return Err(bad(why!("input scale out of range")));
            }
            // q < 1 - 2^-24 (an f32 significand): rounds below 2^31.
            let multiplier = round_f64(q * (1u64 << 31) as f64) as i32;
            // CalculateInputRadius: beyond it the input saturates (0 if shift > 30).
            let radius = (((1u64 << INPUT_INTEGER_BITS) - 1) as f64
                * (1u64 << (31 - INPUT_INTEGER_BITS)) as f64
                / (1u64 << shift) as f64) as i32;
            let rescale = Requant::new(multiplier, shift);
            let f = |byte: u8| -> u8 {
                let x = byte as i8 as i32 - in_t.zero_point;
                let y = if x <= -radius {
                    -128
                } else if x >= radius {
                    127
                } else if logistic {
                    let y = fixed_point::logistic(rescale.apply(x), INPUT_INTEGER_BITS);
                    rounding_divide_by_pot(y, 31 - 8) - 128
                } else {
                    rounding_divide_by_pot(fixed_point::tanh(rescale.apply(x), INPUT_INTEGER_BITS), 31 - 7)
                };
                y.clamp(-128, 127) as i8 as u8
            };
            let table = persist.alloc(256)?;
            for word in 0..64u8 {
                let b = 4 * word;
                persist.put_i32(table + b as usize, i32::from_le_bytes([f(b), f(b + 1), f(b + 2), f(b + 3)]));
            }
            Kind::Int8 { table }
        }
        _ => return Err(bad(why!("f32 or int8 only"))),
    };
    Ok(LogisticTanh { input, output, kind })
}

/// TFLM's f32 logistic: 1 above 16.619..., e^x below -9, else 1 / (1 + e^-x).
fn logistic_f32(x: f32) -> f32 {
    if x > 16.619_047_f32 {
        1.0
    } else if x < -9.0 {
        exp_f32(x)
    } else {
        1.0 / (1.0 + exp_f32(-x))
    }
}

impl LogisticTanh {
    pub fn eval(&self, slots: &[Slot], io: &mut Io<'_>) -> Result<()> {
        let persistent = io.persistent;
        let input_slot = super::slot(slots, self.input)?;
        let output_slot = super::slot(slots, self.output)?;
        let (input, output) = io.split(input_slot, output_slot)?;
        match self.kind {
            Kind::Int8 { table } => {
                let table: &[u8; 256] = persistent
                    .get(table..table + 256)
                    .and_then(|t| t.try_into().ok())
                    .ok_or(Error::BadTensor)?;
                for (o, &x) in output.iter_mut().zip(input) {
                    *o = table[x as usize];
                }
            }
            Kind::LogisticF32 | Kind::TanhF32 => {
                let f = if matches!(self.kind, Kind::LogisticF32) { logistic_f32 } else { tanh_f32 };
                for (o, x) in output.chunks_exact_mut(4).zip(input.chunks_exact(4)) {
                    let x = f32::from_le_bytes([x[0], x[1], x[2], x[3]]);
                    o.copy_from_slice(&f(x).to_le_bytes());
                }
            }
        }
        Ok(())
    }
}
