//! QUANTIZE (f32 -> int8, int8 -> int8) and DEQUANTIZE (int8 -> f32), as TFLM's
//! reference kernels (`AffineQuantize`, `Requantize`, `Dequantize`) compute them.

use super::requant_multiplier;
use super::{f32_at, Io, Slot};
use crate::quant::{multiply_by_quantized_multiplier, round_f32};
use crate::schema::{DType, Model, OperatorInfo};
use crate::{Error, Result};

#[derive(Clone, Copy, Debug)]
pub struct Quantize {
    input: usize,
    output: usize,
    kind: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    FromF32 { scale: f32, zero_point: i32 },
    Requantize { input_zp: i32, output_zp: i32, multiplier: i32, shift: i32 },
    ToF32 { scale: f64, zero_point: i32 },
}

pub fn prepare(model: &Model<'_>, op: &OperatorInfo) -> Result<Quantize> {
    let bad = |why| Error::InvalidOperator(op.code, why);
    let (input, in_t, output, out_t) = super::unary(model, op)?;
    if in_t.elements() != out_t.elements() {
        return Err(bad(why!("input and output sizes differ")));
    }
    if in_t.is_per_channel() || out_t.is_per_channel() {
        return Err(bad(why!("per-channel quantization is not supported here")));
    }
    let kind = match (op.code, in_t.dtype, out_t.dtype) {
        (crate::OpCode::QUANTIZE, DType::F32, DType::I8) => {
            Kind::FromF32 { scale: out_t.scale, zero_point: out_t.zero_point }
        }
        (crate::OpCode::QUANTIZE, DType::I8, DType::I8) => {
            let (multiplier, shift) = requant_multiplier(in_t.scale as f64 / out_t.scale as f64, op.code)?;
            Kind::Requantize { input_zp: in_t.zero_point, output_zp: out_t.zero_point, multiplier, shift }
        }
        (crate::OpCode::DEQUANTIZE, DType::I8, DType::F32) => {
            Kind::ToF32 { scale: in_t.scale as f64, zero_point: in_t.zero_point }
        }
        _ => return Err(bad(why!("unsupported input and output types"))),
    };
    Ok(Quantize { input, output, kind })
}

impl Quantize {
    pub fn eval(&self, slots: &[Slot], io: &mut Io<'_>) -> Result<()> {
        let (input, output) = io.split(super::slot(slots, self.input)?, super::slot(slots, self.output)?)?;
        match self.kind {
            Kind::FromF32 { scale, zero_point } => {
                for (i, o) in output.iter_mut().enumerate() {
                    // Inputs beyond the int32 range (and NaN) are undefined in C++ and
                    // differ between hosts; `as` saturates (NaN to 0) before the clamp.
                    let q = round_f32(f32_at(input, i) / scale) as i32;
                    *o = q.saturating_add(zero_point).clamp(-128, 127) as i8 as u8;
                }
            }
            Kind::Requantize { input_zp, output_zp, multiplier, shift } => {
                for (&x, o) in input.iter().zip(output.iter_mut()) {
                    let v = multiply_by_quantized_multiplier(x as i8 as i32 - input_zp, multiplier, shift);
                    *o = v.wrapping_add(output_zp).clamp(-128, 127) as i8 as u8;
                }
            }
            Kind::ToF32 { scale, zero_point } => {
                for (&x, o) in input.iter().zip(output.chunks_exact_mut(4)) {
                    let v = (scale * (x as i8 as i32 - zero_point) as f64) as f32;
                    o.copy_from_slice(&v.to_le_bytes());
                }
            }
        }
        Ok(())
    }
}
