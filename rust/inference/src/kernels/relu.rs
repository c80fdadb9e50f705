//! RELU and RELU6 as standalone operators (TFLM `activations.cc`): f32 clamps; int8
//! RELU requantizes to the output's parameters, int8 RELU6 clamps in the input's.

use super::requant_multiplier;
use super::{f32_at, Io, Slot};
use crate::quant::{multiply_by_quantized_multiplier, round_f32};
use crate::schema::{DType, Model, OperatorInfo};
use crate::{Error, OpCode, Result};

#[derive(Clone, Copy, Debug)]
pub struct Relu {
    input: usize,
    output: usize,
    kind: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    F32 { six: bool },
    Int8Relu { input_zp: i32, output_zp: i32, multiplier: i32, shift: i32, min: i32 },
    Int8Relu6 { zero: i8, six: i8 },
}

pub fn prepare(model: &Model<'_>, op: &OperatorInfo) -> Result<Relu> {
    let bad = |why| Error::InvalidOperator(op.code, why);
    let (input, in_t, output, out_t) = super::unary(model, op)?;
    if in_t.elements() != out_t.elements() || in_t.dtype != out_t.dtype {
        return Err(bad(why!("input and output differ in size or type")));
    }
    let six = op.code == OpCode::RELU6;
    let kind = match in_t.dtype {
        DType::F32 => Kind::F32 { six },
        DType::I8 if six => {
            // FloatToQuantizedType: round(6 / scale) + zero point, clamped to int8.
            let q = (round_f32(6.0 / in_t.scale) as i32).saturating_add(in_t.zero_point).clamp(-128, 127);
            Kind::Int8Relu6 { zero: in_t.zero_point as i8, six: q as i8 }
        }
        DType::I8 => {
            let (multiplier, shift) = requant_multiplier((in_t.scale / out_t.scale) as f64, op.code)?;
            let min = (out_t.zero_point + round_f32(0.0 / out_t.scale) as i32).max(-128);
            Kind::Int8Relu { input_zp: in_t.zero_point, output_zp: out_t.zero_point, multiplier, shift, min }
        }
        _ => return Err(bad(why!("f32 or int8 only"))),
    };
    Ok(Relu { input, output, kind })
}

impl Relu {
    pub fn eval(&self, slots: &[Slot], io: &mut Io<'_>) -> Result<()> {
        let (input, output) = io.split(super::slot(slots, self.input)?, super::slot(slots, self.output)?)?;
        match self.kind {
            Kind::F32 { six } => {
                for (i, o) in output.chunks_exact_mut(4).enumerate() {
                    let x = f32_at(input, i);
                    let v = if six && x > 6.0 {
                        6.0
                    } else if x < 0.0 {
                        0.0
                    } else {
                        x
                    };
                    o.copy_from_slice(&v.to_le_bytes());
                }
            }
            Kind::Int8Relu { input_zp, output_zp, multiplier, shift, min } => {
                for (&x, o) in input.iter().zip(output.iter_mut()) {
                    let v = output_zp.wrapping_add(multiply_by_quantized_multiplier(
                        x as i8 as i32 - input_zp,
                        multiplier,
                        shift,
                    ));
                    *o = v.clamp(min, 127) as i8 as u8;
                }
            }
            Kind::Int8Relu6 { zero, six } => {
                for (&x, o) in input.iter().zip(output.iter_mut()) {
                    let x = x as i8;
                    *o = (if x > six {
                        six
                    } else if x < zero {
                        zero
                    } else {
                        x
                    }) as u8;
                }
            }
        }
        Ok(())
    }
}
