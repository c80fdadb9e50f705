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
        // Units in groups of four go through the packed kernel where it applies, the
        // others one by one.
        let grouped = if self.packs() { u / 4 * 4 } else { 0 };
        if grouped > 0 {
            emit_packed_statics(out, n, d, &self.weights[..grouped * d], &self.folded[..grouped])?;
        }
        if grouped < u {
            let rest = u - grouped;
            writeln!(out, "/// Operator {n}'s weights, units {grouped} to {}: one row of {d} each.", u - 1)?;
            let rows: Vec<String> =
                self.weights[grouped * d..].chunks_exact(d).map(|r| list(r.iter())).collect();
            writeln!(out, "static OP{n}_WEIGHTS: [[i8; {d}]; {rest}] = [{}];", rows.join(", "))?;
            writeln!(out, "/// Their bias plus the input offset times each unit's weight sum.")?;
            writeln!(out, "static OP{n}_BIAS: [i32; {rest}] = {};", list(self.folded[grouped..].iter()))?;
        }
        writeln!(out)?;
        writeln!(out, "/// Operator {n}: {}.", self.describe())?;
        if d > UNROLL {
            // A function of its own: inlined into `invoke`, the loops share the
            // registers with the other operators' and spill.
            writeln!(out, "#[inline(never)]")?;
        }
        writeln!(out, "fn op{n}(x: &[i8; {xn}], y: &mut [i8; {yn}]) {{")?;
        writeln!(out, "    for (x, y) in x.as_chunks::<{d}>().0.iter().zip(y.as_chunks_mut::<{u}>().0) {{")?;
        if grouped > 0 {
            if grouped < u {
                writeln!(
                    out,
                    "        let (groups, y) = y.split_at_mut_checked({grouped}).unwrap_or_default();"
                )?;
                writeln!(out, "        let groups = groups.as_chunks_mut::<4>().0.iter_mut();")?;
            } else {
                writeln!(out, "        let groups = y.as_chunks_mut::<4>().0.iter_mut();")?;
            }
            writeln!(out, "        for ((y, w), b) in groups.zip(&OP{n}_PACKED).zip(OP{n}_PACKED_BIAS.as_chunks::<4>().0) {{")?;
            writeln!(out, "            // Two 64-bit sums of two units each (see OP{n}_PACKED).")?;
            writeln!(out, "            let (mut low, mut high) = (HALF_LANE, HALF_LANE);")?;
            if d <= UNROLL {
                for k in 0..d {
                    writeln!(out, "            let x{k} = i64::from(x[{k}]);")?;
                    writeln!(out, "            low += x{k} * i64::from(w[{k}] as i32);")?;
                    writeln!(out, "            high += x{k} * (w[{k}] >> 32);")?;
                }
            } else {
                // Inputs in blocks of STEP, each block unrolled (constant offsets, one
                // pointer step and one branch per block), then the rest one by one.
                writeln!(
                    out,
                    "            for (w, x) in w.as_chunks::<{STEP}>().0.iter().zip(x.as_chunks::<{STEP}>().0) {{"
                )?;
                for k in 0..STEP {
                    writeln!(out, "                let x{k} = i64::from(x[{k}]);")?;
                    writeln!(out, "                low += x{k} * i64::from(w[{k}] as i32);")?;
                    writeln!(out, "                high += x{k} * (w[{k}] >> 32);")?;
                }
                writeln!(out, "            }}")?;
                if d % STEP != 0 {
                    let done = d / STEP * STEP;
                    writeln!(out, "            for (&w, &x) in w[{done}..].iter().zip(&x[{done}..]) {{")?;
                    writeln!(out, "                let x = i64::from(x);")?;
                    writeln!(out, "                low += x * i64::from(w as i32);")?;
                    writeln!(out, "                high += x * (w >> 32);")?;
                    writeln!(out, "            }}")?;
                }
            }
            writeln!(out, "            y[0] = op{n}_requantize(b[0].wrapping_add(low as i32 & LANE_MASK));")?;
            writeln!(out, "            y[1] = op{n}_requantize(b[1].wrapping_add((low >> LANE) as i32));")?;
            writeln!(
                out,
                "            y[2] = op{n}_requantize(b[2].wrapping_add(high as i32 & LANE_MASK));"
            )?;
            writeln!(out, "            y[3] = op{n}_requantize(b[3].wrapping_add((high >> LANE) as i32));")?;
            writeln!(out, "        }}")?;
        }
        if grouped < u {
            writeln!(out, "        for ((y, w), b) in y.iter_mut().zip(&OP{n}_WEIGHTS).zip(&OP{n}_BIAS) {{")?;
            if d <= UNROLL {
                let terms: Vec<String> =
                    (0..d).map(|k| format!("i32::from(w[{k}]) * i32::from(x[{k}])")).collect();
                writeln!(
                    out,
                    "            let acc = b{};",
                    terms.iter().map(|t| format!("\n                .wrapping_add({t})")).collect::<String>()
                )?;
            } else {
                writeln!(out, "            let mut acc = *b;")?;
                writeln!(out, "            for (w, x) in w.iter().zip(x) {{")?;
                writeln!(out, "                acc = acc.wrapping_add(i32::from(*w) * i32::from(*x));")?;
                writeln!(out, "            }}")?;
            }
            writeln!(out, "            *y = op{n}_requantize(acc);")?;
            writeln!(out, "        }}")?;
        }
        writeln!(out, "    }}\n}}\n")?;
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

/// Depths up to this are unrolled in the generated code (no loop, constant offsets).
const UNROLL: usize = 32;
/// Deeper packed layers go through their inputs in blocks of this many, each block
/// unrolled.
const STEP: usize = 2;
/// The packed kernel's lane width: a unit's sum sits in the low `LANE` bits of a
/// 64-bit accumulator, its neighbour's above.
pub const LANE: u32 = 23;

impl FullyConnected {
    /// Whether the packed kernel applies: enough depth and units to gain, and every
    /// lane-0 unit's sum within its lane for every input (`128 sum |w| < 2^(LANE-1)`).
    fn packs(&self) -> bool {
        let d = self.depth;
        d >= 4
            && self.units >= 4
            && self.weights.chunks_exact(d).all(|row| {
                let bound: i64 = row.iter().map(|&w| i64::from(w).abs() * 128).sum();
                bound < 1 << (LANE - 1)
            })
    }
}

/// The packed kernel's constants, once per module (before the operators).
pub fn emit_packed_constants(out: &mut String) -> Result<()> {
    writeln!(out, "/// The packed kernel's lane width, and a mask of its low lane.")?;
    writeln!(out, "#[allow(dead_code)]\nconst LANE: u32 = {LANE};")?;
    writeln!(out, "#[allow(dead_code)]\nconst LANE_MASK: i32 = (1 << LANE) - 1;")?;
    writeln!(out, "/// The packed accumulators' start: half a lane, so that the low lane stays positive.")?;
    writeln!(out, "#[allow(dead_code)]\nconst HALF_LANE: i64 = 1 << (LANE - 1);")?;
    Ok(())
}

/// The packed kernel's statics. Two units `a` and `b` share one i32
/// weight word per input, `w_a + w_b 2^LANE`, and one 64-bit accumulator (Arm's
/// `smlal`: one multiply-accumulate for two units): starting from `2^(LANE-1)`, it
/// holds `2^(LANE-1) + S_a + S_b 2^LANE` exactly, and as `|S_a| < 2^(LANE-1)` (checked
/// here from the weights), `S_b` is the sum shifted right by `LANE` and `S_a` its low
/// `LANE` bits less `2^(LANE-1)`, which is folded into `a`'s bias. The two pairs of a
/// group share an i64 per input (units 0 and 1 in its low word), which one `ldrd`
/// reads: on the M33 this layout takes about 13% fewer instructions than `[i32; 2]`
/// on the MLPerf Tiny autoencoder, as LLVM then needs one pointer for the weights.
fn emit_packed_statics(out: &mut String, n: usize, d: usize, weights: &[i8], folded: &[i32]) -> Result<()> {
    let groups = folded.len() / 4;
    writeln!(
        out,
        "/// Operator {n}'s weights for units 0 to {}, packed: per group of four units and per input,",
        groups * 4 - 1
    )?;
    writeln!(
        out,
        "/// one word `p01 + p23 << 32`, where `pab = wa + wb << LANE` (one `ldrd`, two `smlal`)."
    )?;
    let mut text = Vec::new();
    for g in 0..groups {
        let row = |u: usize| &weights[(4 * g + u) * d..(4 * g + u + 1) * d];
        let words: Vec<String> = (0..d)
            .map(|k| {
                let pack = |a: usize, b: usize| (i32::from(row(b)[k]) << LANE) + i32::from(row(a)[k]);
                format!("{}", (i64::from(pack(2, 3)) << 32) | i64::from(pack(0, 1) as u32))
            })
            .collect();
        text.push(format!("[{}]", words.join(", ")));
    }
    writeln!(out, "static OP{n}_PACKED: [[i64; {d}]; {groups}] = [{}];", text.join(",\n    "))?;
    writeln!(out, "/// Their bias plus the input offset times each unit's weight sum, less half a lane")?;
    writeln!(out, "/// for the units in a low lane (0 and 2 of each group).")?;
    let biased =
        folded.iter().enumerate().map(|(u, &b)| if u % 2 == 0 { b.wrapping_sub(1 << (LANE - 1)) } else { b });
    writeln!(out, "static OP{n}_PACKED_BIAS: [i32; {}] = {};", folded.len(), list(biased))?;
    Ok(())
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
        if min >= offset {
            // The clamp's floor is at or above the offset: a negative acc ends at the
            // floor with or without the correction (`requant_right_relu`).
            writeln!(out, "    let k = {round};")?;
        } else {
            writeln!(out, "    // The rounding constant, less 2^31 for a negative acc.")?;
            writeln!(out, "    let k = {round} + (i64::from(acc >> 31) << 31);")?;
        }
        writeln!(out, "    let v = (((i64::from(acc) * {multiplier} + k) >> 32) as i32) >> {};", right - 1)?;
    }
    writeln!(out, "    v.wrapping_add({offset}).clamp({min}, {max}) as i8")?;
    writeln!(out, "}}")?;
    Ok(())
}
