//! FULLY_CONNECTED, int8 with per-tensor weights, as TFLM's
//! `reference_integer_ops::FullyConnected` computes it:
//! `clamp(out_offset + MultiplyByQuantizedMultiplier(bias + sum((x + in_offset) w)))`.
//! Everything but the input is known here: the bias is folded with the input
//! offset's share (`bias + in_offset sum(w)`, the same int32 sum regrouped, as the
//! interpreter's preparation folds it), the multiplier and shift are constants, the
//! activation range is two constants.

use crate::{constant, list, options, Error, Result, Step};
use inference::quant::{quantize_multiplier, Activation};
use inference::{DType, Model, Operator};
use std::fmt::Write;

const OP: &str = "FULLY_CONNECTED";
/// Schema `BuiltinOptions.FullyConnectedOptions`, and its fields.
const OPTIONS: u8 = 8;
const FUSED_ACTIVATION: usize = 0;

pub struct FullyConnected {
    /// The input tensor, then the output tensor.
    reads: [usize; 1],
    writes: usize,
    batches: usize,
    depth: usize,
    units: usize,
    /// Row-major: `units` rows of `depth`.
    weights: Vec<i8>,
    /// The bias with the input offset's share folded in, per unit.
    folded: Vec<i32>,
    multiplier: i32,
    shift: i32,
    output_offset: i32,
    range: (i32, i32),
    activation: Activation,
}

impl FullyConnected {
    /// Operator `n` of `model` (whose bytes are `bytes`), already validated by
    /// `inference` (shapes, types, zero points, options).
    pub fn new(model: &Model<'_>, bytes: &[u8], n: usize, op: &Operator<'_>) -> Result<Self> {
        let unsupported = |what| Error::Unsupported { op: OP, what };
        let input = op.inputs().next().flatten().ok_or(unsupported("an operator without input"))?;
        let output = op.outputs().next().flatten().ok_or(unsupported("an operator without output"))?;
        let (x, y) = (model.tensor(input)?, model.tensor(output)?);
        let w = constant(model, op.inputs().nth(1).flatten(), OP, "weights that are not constant")?;
        if (x.dtype, w.dtype, y.dtype) != (DType::I8, DType::I8, DType::I8) {
            return Err(unsupported("a type other than int8"));
        }
        if w.is_per_channel() {
            return Err(unsupported("per-channel weights"));
        }
        let (units, depth) = (w.dim(0) as usize, w.dim(1) as usize);
        let batches = x.elements() / depth;
        let weights: Vec<i8> = w.data.unwrap_or_default().iter().map(|&b| b as i8).collect();
        let bias: Vec<i32> = match op.inputs().nth(2).flatten() {
            Some(t) => {
                let b = constant(model, Some(t), OP, "a bias that is not constant")?;
                if b.dtype != DType::I32 {
                    return Err(unsupported("a bias other than int32"));
                }
                let data = b.data.unwrap_or_default();
                data.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
            }
            None => vec![0; units],
        };
        if weights.len() != units * depth || bias.len() != units {
            return Err(Error::Malformed);
        }
        let input_offset = x.zero_point.wrapping_neg();
        let folded = weights
            .chunks_exact(depth)
            .zip(&bias)
            .map(|(row, &b)| {
                let sum = row.iter().fold(0i32, |acc, &v| acc.wrapping_add(v.into()));
                b.wrapping_add(input_offset.wrapping_mul(sum))
            })
            .collect();
        // TFLM's GetQuantizedConvolutionMultipler: the scale product in float, the
        // quotient in double.
        let real = f64::from(x.scale * w.scale) / f64::from(y.scale);
        let (multiplier, shift) = quantize_multiplier(real);
        if multiplier < 0 || !(-31..=30).contains(&shift) {
            return Err(unsupported("a requantization multiplier outside [0, 2^31) x 2^[-31, 30]"));
        }
        let code = options::u8_field(bytes, n, OPTIONS, FUSED_ACTIVATION, 0)?;
        let activation = Activation::from_schema(code).ok_or(unsupported("this fused activation"))?;
        let range =
            activation.int8_range(y.scale, y.zero_point).ok_or(unsupported("this activation range"))?;
        let range = (range.0.max(-128), range.1.min(127));
        Ok(FullyConnected {
            reads: [input],
            writes: output,
            batches,
            depth,
            units,
            weights,
            folded,
            multiplier,
            shift,
            output_offset: y.zero_point,
            range,
            activation,
        })
    }
}

impl Step for FullyConnected {
    fn reads(&self) -> &[usize] {
        &self.reads
    }

    fn writes(&self) -> usize {
        self.writes
    }

    fn describe(&self) -> String {
        format!(
            "FULLY_CONNECTED int8, {} x {} -> {} units, {:?}",
            self.batches, self.depth, self.units, self.activation
        )
    }

    fn emit(&self, n: usize, out: &mut String) -> Result<()> {
        let (d, u) = (self.depth, self.units);
        let (xn, yn) = (self.batches * d, self.batches * u);
        writeln!(out, "/// Operator {n}'s weights: {u} units of {d}.")?;
        let rows: Vec<String> = self.weights.chunks_exact(d).map(|r| list(r.iter())).collect();
        writeln!(out, "static OP{n}_WEIGHTS: [[i8; {d}]; {u}] = [{}];", rows.join(", "))?;
        writeln!(out, "/// Operator {n}'s bias plus the input offset times each unit's weight sum.")?;
        writeln!(out, "static OP{n}_BIAS: [i32; {u}] = {};", list(self.folded.iter()))?;
        writeln!(out)?;
        writeln!(out, "/// Operator {n}: {}.", self.describe())?;
        writeln!(out, "fn op{n}(x: &[i8; {xn}], y: &mut [i8; {yn}]) {{")?;
        writeln!(out, "    for (x, y) in x.as_chunks::<{d}>().0.iter().zip(y.as_chunks_mut::<{u}>().0) {{")?;
        writeln!(out, "        for ((y, w), b) in y.iter_mut().zip(&OP{n}_WEIGHTS).zip(&OP{n}_BIAS) {{")?;
        writeln!(out, "            let mut acc = *b;")?;
        writeln!(out, "            for (w, x) in w.iter().zip(x) {{")?;
        writeln!(out, "                acc = acc.wrapping_add(i32::from(*w) * i32::from(*x));")?;
        writeln!(out, "            }}")?;
        writeln!(out, "            *y = op{n}_requantize(acc);")?;
        writeln!(out, "        }}\n    }}\n}}\n")?;
        emit_requantize(
            out,
            &format!("op{n}_requantize"),
            self.multiplier,
            self.shift,
            self.output_offset,
            self.range,
        )
    }
}

/// `fn name(acc: i32) -> i8`: TFLM's `MultiplyByQuantizedMultiplier` (the default
/// double rounding), the output offset and the activation clamp, with the shift's
/// case decided here. The right-shift form is `inference::quant::Requant::apply_right`
/// with its constants computed: one 64-bit multiply-add and two shifts.
pub fn emit_requantize(
    out: &mut String,
    name: &str,
    multiplier: i32,
    shift: i32,
    offset: i32,
    (min, max): (i32, i32),
) -> Result<()> {
    writeln!(
        out,
        "/// `clamp({offset} + MultiplyByQuantizedMultiplier(acc, {multiplier}, {shift}), {min}, {max})`."
    )?;
    writeln!(out, "#[inline(always)]")?;
    writeln!(out, "fn {name}(acc: i32) -> i8 {{")?;
    if shift >= 0 {
        // A left shift then the rounding doubling high multiply (no right shift).
        writeln!(
            out,
            "    let v = ((i64::from(acc.wrapping_mul({})) * {multiplier} + (1 << 30)) >> 31) as i32;",
            1i64 << shift
        )?;
    } else {
        let right = -shift;
        let round = (1i64 << 30) + (1i64 << (30 + right));
        writeln!(out, "    // The rounding constant, less 2^31 for a negative acc.")?;
        writeln!(out, "    let k = {round} + (i64::from(acc >> 31) << 31);")?;
        writeln!(out, "    let v = (((i64::from(acc) * {multiplier} + k) >> 32) as i32) >> {};", right - 1)?;
    }
    writeln!(out, "    v.wrapping_add({offset}).clamp({min}, {max}) as i8")?;
    writeln!(out, "}}")?;
    Ok(())
}
