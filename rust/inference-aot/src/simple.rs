//! The operators around the convolutions, int8, as TFLM's reference kernels compute
//! them: AVERAGE_POOL_2D (`reference_integer_ops::AveragePool`), SOFTMAX
//! (`reference_ops::Softmax`, gemmlowp fixed point), ADD (`reference_integer_ops::Add`,
//! inputs of one shape) and RESHAPE (a copy). Shapes and scales are constants of the
//! generated code; the arithmetic is `inference`'s kernels'.

use crate::fully_connected::emit_requantize;
use crate::{options, Activation as Tensor, Error, Result, Step};
use inference::quant::{quantize_multiplier, Activation};
use inference::{DType, Model, Operator};
use std::fmt::Write;

const POOL_OPTIONS: u8 = 5;
const SOFTMAX_OPTIONS: u8 = 9;
const ADD_OPTIONS: u8 = 11;

/// The single computed input and the output of an operator.
fn io(model: &Model<'_>, op: &Operator<'_>, name: &'static str) -> Result<(Tensor, Tensor)> {
    let unsupported = |what| Error::Unsupported { op: name, what };
    let x = op.inputs().next().flatten().ok_or(unsupported("an operator without input"))?;
    let y = op.outputs().next().flatten().ok_or(unsupported("an operator without output"))?;
    Ok((Tensor::of(model, x, name)?, Tensor::of(model, y, name)?))
}

pub struct AveragePool {
    reads: [usize; 1],
    writes: usize,
    input: [usize; 3],
    output: [usize; 3],
    filter: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    range: (i32, i32),
}

impl AveragePool {
    pub fn new(model: &Model<'_>, bytes: &[u8], n: usize, op: &Operator<'_>) -> Result<Self> {
        const OP: &str = "AVERAGE_POOL_2D";
        let unsupported = |what| Error::Unsupported { op: OP, what };
        let (x, y) = io(model, op, OP)?;
        if x.shape.len() != 4 || y.shape.len() != 4 || x.shape[0] != 1 || y.shape[0] != 1 {
            return Err(unsupported("other than one batch of rank 4"));
        }
        let same = options::u8_field(bytes, n, POOL_OPTIONS, 0, 0)? == 0;
        let field = |f| -> Result<usize> {
            let v = options::i32_field(bytes, n, POOL_OPTIONS, f, 0)?;
            usize::try_from(v).ok().filter(|&v| v > 0).ok_or(Error::Malformed)
        };
        let stride = [field(2)?, field(1)?];
        let filter = [field(4)?, field(3)?];
        let code = options::u8_field(bytes, n, POOL_OPTIONS, 5, 0)?;
        let activation = Activation::from_schema(code).ok_or(unsupported("this fused activation"))?;
        let range =
            activation.int8_range(y.scale, y.zero_point).ok_or(unsupported("this activation range"))?;
        let mut pad = [0; 2];
        for d in 0..2 {
            let (i, o) = (x.shape[d + 1], y.shape[d + 1]);
            let total = ((o - 1) * stride[d] + filter[d]).saturating_sub(i);
            pad[d] = if same { total / 2 } else { 0 };
            // A window clipped by the padding (its average over fewer taps) is
            // generated as `inference` computes it, but no oracle model here has one
            // with a single output to compare: refused until one does.
            if same && total > 0 {
                return Err(unsupported("a window over the padding (no oracle test yet)"));
            }
        }
        Ok(AveragePool {
            reads: [x.index],
            writes: y.index,
            input: [x.shape[1], x.shape[2], x.shape[3]],
            output: [y.shape[1], y.shape[2], y.shape[3]],
            filter,
            stride,
            pad,
            range: (range.0.max(-128), range.1.min(127)),
        })
    }
}

impl Step for AveragePool {
    fn reads(&self) -> &[usize] {
        &self.reads
    }

    fn writes(&self) -> usize {
        self.writes
    }

    fn describe(&self) -> String {
        format!(
            "AVERAGE_POOL_2D int8, {:?} -> {:?}, filter {:?}, stride {:?}",
            self.input, self.output, self.filter, self.stride
        )
    }

    fn emit(&self, n: usize, out: &mut String) -> Result<()> {
        let [ih, iw, c] = self.input;
        let [oh, ow, _] = self.output;
        let (min, max) = self.range;
        writeln!(out, "/// Operator {n}: {}.", self.describe())?;
        writeln!(out, "#[inline(never)]")?;
        writeln!(out, "fn op{n}(x: &[i8; {}], y: &mut [i8; {}]) {{", ih * iw * c, oh * ow * c)?;
        writeln!(out, "    for (oy, row) in y.as_chunks_mut::<{}>().0.iter_mut().enumerate() {{", ow * c)?;
        writeln!(out, "        let origin = (oy * {}) as isize - {};", self.stride[0], self.pad[0])?;
        writeln!(
            out,
            "        let (y0, y1) = (origin.clamp(0, {ih}) as usize, (origin + {}).clamp(0, {ih}) as usize);",
            self.filter[0]
        )?;
        writeln!(out, "        for (ox, out) in row.as_chunks_mut::<{c}>().0.iter_mut().enumerate() {{")?;
        writeln!(out, "            let origin = (ox * {}) as isize - {};", self.stride[1], self.pad[1])?;
        writeln!(
            out,
            "            let (x0, x1) = (origin.clamp(0, {iw}) as usize, (origin + {}).clamp(0, {iw}) as usize);",
            self.filter[1]
        )?;
        writeln!(out, "            let mut acc = [0i32; {c}];")?;
        writeln!(out, "            for iy in y0..y1 {{")?;
        writeln!(out, "                for ix in x0..x1 {{")?;
        writeln!(out, "                    let at = (iy * {iw} + ix) * {c};")?;
        writeln!(
            out,
            "                    let Some(pixel) = x.get(at..).and_then(|p| p.first_chunk::<{c}>()) else {{ continue }};"
        )?;
        writeln!(out, "                    for (a, &v) in acc.iter_mut().zip(pixel) {{")?;
        writeln!(out, "                        *a += i32::from(v);")?;
        writeln!(out, "                    }}\n                }}\n            }}")?;
        writeln!(out, "            let taps = ((y1 - y0) * (x1 - x0)).max(1) as i32;")?;
        writeln!(out, "            for (o, &a) in out.iter_mut().zip(&acc) {{")?;
        writeln!(out, "                // Half away from zero, as TFLM.")?;
        writeln!(
            out,
            "                let mean = if a > 0 {{ (a + taps / 2) / taps }} else {{ (a - taps / 2) / taps }};"
        )?;
        writeln!(out, "                *o = mean.max({min}).min({max}) as i8;")?;
        writeln!(out, "            }}\n        }}\n    }}\n}}")?;
        Ok(())
    }
}

pub struct Reshape {
    reads: [usize; 1],
    writes: usize,
    bytes: usize,
}

impl Reshape {
    pub fn new(model: &Model<'_>, op: &Operator<'_>) -> Result<Self> {
        let (x, y) = io(model, op, "RESHAPE")?;
        if x.bytes != y.bytes || (x.scale, x.zero_point) != (y.scale, y.zero_point) {
            return Err(Error::Malformed);
        }
        Ok(Reshape { reads: [x.index], writes: y.index, bytes: x.bytes })
    }
}

impl Step for Reshape {
    fn reads(&self) -> &[usize] {
        &self.reads
    }

    fn writes(&self) -> usize {
        self.writes
    }

    fn describe(&self) -> String {
        format!("RESHAPE of {} bytes (a copy)", self.bytes)
    }

    fn emit(&self, n: usize, out: &mut String) -> Result<()> {
        let b = self.bytes;
        writeln!(out, "/// Operator {n}: {}.", self.describe())?;
        writeln!(out, "fn op{n}(x: &[i8; {b}], y: &mut [i8; {b}]) {{\n    *y = *x;\n}}")?;
        Ok(())
    }
}

pub struct Softmax {
    reads: [usize; 1],
    writes: usize,
    rows: usize,
    depth: usize,
    multiplier: i32,
    shift: i32,
    diff_min: i32,
}

/// Integer bits of the scaled differences (Q5.26).
const DIFF_INTEGER_BITS: u32 = 5;

impl Softmax {
    pub fn new(model: &Model<'_>, bytes: &[u8], n: usize, op: &Operator<'_>) -> Result<Self> {
        const OP: &str = "SOFTMAX";
        let unsupported = |what| Error::Unsupported { op: OP, what };
        let (x, y) = io(model, op, OP)?;
        if y.zero_point != -128 || y.scale != 1.0 / 256.0 || x.shape != y.shape || x.shape.is_empty() {
            return Err(unsupported("an output other than scale 1/256, zero point -128"));
        }
        let beta = f32::from_bits(options::u32_field(bytes, n, SOFTMAX_OPTIONS, 0, 0)?);
        // As `inference`'s SOFTMAX prepares it (TFLite's PreprocessSoftmaxScaling).
        let scaled = f64::from(beta) * f64::from(x.scale) * (1u64 << (31 - DIFF_INTEGER_BITS)) as f64;
        let real = if scaled > 2147483647.0 { 2147483647.0 } else { scaled };
        if real.is_nan() || real <= 1.0 {
            return Err(unsupported("beta x input scale too small for the fixed-point path"));
        }
        let (multiplier, shift) = quantize_multiplier(real);
        let radius = ((1u64 << DIFF_INTEGER_BITS) - 1) as f64 * (1u64 << (31 - DIFF_INTEGER_BITS)) as f64
            / (1u64 << shift.clamp(0, 62)) as f64;
        let depth = *x.shape.last().unwrap_or(&1);
        // A sum of `depth` exponentials of at most 1 stays below 512 (TFLM's check).
        if depth == 0 || depth >= 512 || shift > 30 {
            return Err(unsupported("rows of 512 values or more"));
        }
        Ok(Softmax {
            reads: [x.index],
            writes: y.index,
            rows: x.bytes / depth,
            depth,
            multiplier,
            shift,
            diff_min: -(radius as i32),
        })
    }
}

impl Step for Softmax {
    fn reads(&self) -> &[usize] {
        &self.reads
    }

    fn writes(&self) -> usize {
        self.writes
    }

    fn describe(&self) -> String {
        format!("SOFTMAX int8, {} rows of {}", self.rows, self.depth)
    }

    fn emit(&self, n: usize, out: &mut String) -> Result<()> {
        let (rows, d) = (self.rows, self.depth);
        if !out.contains("fn softmax_row(") {
            out.push_str(FIXED_POINT);
        }
        writeln!(out, "/// Operator {n}: {}.", self.describe())?;
        writeln!(out, "fn op{n}(x: &[i8; {}], y: &mut [i8; {}]) {{", rows * d, rows * d)?;
        writeln!(out, "    for (x, y) in x.as_chunks::<{d}>().0.iter().zip(y.as_chunks_mut::<{d}>().0) {{")?;
        writeln!(out, "        softmax_row(x, y, {}, {}, {});", self.multiplier, self.shift, self.diff_min)?;
        writeln!(out, "    }}\n}}")?;
        Ok(())
    }
}

/// gemmlowp's fixed point as `inference`'s `kernels::fixed_point` computes it (the
/// parts SOFTMAX uses), and one int8 row of SOFTMAX as its `softmax_i8`.
const FIXED_POINT: &str = r#"
/// gemmlowp's `SaturatingRoundingDoublingHighMul`.
#[inline(always)]
fn fp_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge = if ab >= 0 { 1i64 << 30 } else { 1 - (1i64 << 30) };
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp's `RoundingDivideByPOT`.
#[inline(always)]
fn fp_rdiv(x: i32, exponent: i32) -> i32 {
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// x 2^exponent, saturating (0 < exponent < 31).
#[inline(always)]
fn fp_shl(x: i32, exponent: u32) -> i32 {
    let threshold = (1i32 << (31 - exponent)) - 1;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x << exponent
    }
}

/// e^a for a in [-1/4, 0), Q0.31.
fn fp_exp_quarter(a: i32) -> i32 {
    const EXP_MINUS_ONE_EIGHTH: i32 = 1_895_147_668;
    const ONE_THIRD: i32 = 715_827_883;
    let x = a.wrapping_add(1 << 28);
    let x2 = fp_mul(x, x);
    let x3 = fp_mul(x2, x);
    let x4 = fp_mul(x2, x2);
    let x4_over_4 = fp_rdiv(x4, 2);
    let higher = fp_rdiv(fp_mul(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2), 1);
    EXP_MINUS_ONE_EIGHTH.wrapping_add(fp_mul(EXP_MINUS_ONE_EIGHTH, x.wrapping_add(higher)))
}

/// e^a for a <= 0 in Q5.26, in Q0.31 (gemmlowp's `exp_on_negative_values`).
fn fp_exp(a: i32) -> i32 {
    const IB: u32 = 5;
    const EXP_MINUS_POT: [i32; 7] = [1_672_461_947, 1_302_514_674, 790_015_084, 290_630_308, 39_332_535, 720_401, 242];
    let frac_bits = 31 - IB;
    let one_quarter = 1i32 << (frac_bits - 2);
    let mask = one_quarter - 1;
    let a_mod = (a & mask).wrapping_sub(one_quarter);
    let mut result = fp_exp_quarter(fp_shl(a_mod, IB));
    let remainder = a_mod.wrapping_sub(a);
    for (k, &factor) in EXP_MINUS_POT.iter().enumerate() {
        let bit = frac_bits as i32 + k as i32 - 2;
        if remainder & (1i32 << bit) != 0 {
            result = fp_mul(result, factor);
        }
    }
    if a == 0 {
        i32::MAX
    } else {
        result
    }
}

/// TFLite's `GetReciprocal` of a sum in Q12.19: (scale in Q0.31, bits above 1.0).
fn fp_reciprocal(x: i32) -> (i32, i32) {
    const FORTY_EIGHT_SEVENTEENTHS: i32 = 1_515_870_810;
    const MINUS_THIRTY_TWO_SEVENTEENTHS: i32 = -1_010_580_540;
    let headroom_plus_one = (x as u32).leading_zeros();
    let bits_over_unit = 12 - headroom_plus_one as i32;
    let a = (x as u32).wrapping_shl(headroom_plus_one).wrapping_sub(1 << 31) as i32;
    // RoundingHalfSum(a, 1.0), then three Newton-Raphson steps in Q2.29.
    let sum = i64::from(a) + i64::from(i32::MAX);
    let half = ((sum + if sum >= 0 { 1 } else { -1 }) / 2) as i32;
    let mut r = FORTY_EIGHT_SEVENTEENTHS.wrapping_add(fp_mul(half, MINUS_THIRTY_TWO_SEVENTEENTHS));
    for _ in 0..3 {
        let e = (1i32 << 29).wrapping_sub(fp_mul(half, r));
        r = r.wrapping_add(fp_shl(fp_mul(r, e), 2));
    }
    (fp_shl(r, 1), bits_over_unit)
}

/// One int8 row of SOFTMAX: differences from the maximum scaled by beta into Q5.26
/// (`multiplier`, `shift`), their exponentials summed in Q12.19, each divided by the
/// sum; below `diff_min` a difference gives exactly the lowest output.
fn softmax_row(x: &[i8], y: &mut [i8], multiplier: i32, shift: i32, diff_min: i32) {
    let max = i32::from(x.iter().copied().max().unwrap_or(0));
    let left = 1i32 << shift.max(0);
    let right = (-shift).max(0);
    let exp_of = |v: i8| -> Option<i32> {
        let diff = i32::from(v) - max;
        (diff >= diff_min).then(|| fp_exp(fp_rdiv(fp_mul(diff.wrapping_mul(left), multiplier), right)))
    };
    let mut sum = 0i32;
    for &v in x {
        if let Some(e) = exp_of(v) {
            sum = sum.wrapping_add(fp_rdiv(e, 12));
        }
    }
    let (inverse, bits_over_unit) = fp_reciprocal(sum);
    let exponent = (bits_over_unit + 31 - 8).clamp(0, 31);
    for (&v, o) in x.iter().zip(y.iter_mut()) {
        *o = match exp_of(v) {
            Some(e) => (fp_rdiv(fp_mul(inverse, e), exponent).wrapping_sub(128)).clamp(-128, 127) as i8,
            None => i8::MIN,
        };
    }
}
"#;

pub struct Add {
    reads: [usize; 2],
    writes: usize,
    bytes: usize,
    offsets: [i32; 2],
    multipliers: [(i32, i32); 3],
    output_offset: i32,
    range: (i32, i32),
}

/// TFLM's int8 ADD scales its inputs up by 2^20.
const ADD_LEFT_SHIFT: u32 = 20;

impl Add {
    pub fn new(model: &Model<'_>, bytes: &[u8], n: usize, op: &Operator<'_>) -> Result<Self> {
        const OP: &str = "ADD";
        let unsupported = |what| Error::Unsupported { op: OP, what };
        let mut inputs = op.inputs();
        let (Some(Some(a)), Some(Some(b)), None) = (inputs.next(), inputs.next(), inputs.next()) else {
            return Err(unsupported("other than two inputs"));
        };
        let y = op.outputs().next().flatten().ok_or(unsupported("an operator without output"))?;
        let (a, b, y) = (Tensor::of(model, a, OP)?, Tensor::of(model, b, OP)?, Tensor::of(model, y, OP)?);
        if a.shape != y.shape || b.shape != y.shape {
            return Err(unsupported("broadcasting"));
        }
        if model.tensor(y.index)?.dtype != DType::I8 {
            return Err(unsupported("a type other than int8"));
        }
        let code = options::u8_field(bytes, n, ADD_OPTIONS, 0, 0)?;
        let activation = Activation::from_schema(code).ok_or(unsupported("this fused activation"))?;
        let range =
            activation.int8_range(y.scale, y.zero_point).ok_or(unsupported("this activation range"))?;
        // As TFLM (and `inference`): the larger scale as float, then doubled in double.
        let twice_max = 2.0 * f64::from(a.scale.max(b.scale));
        let real_output = twice_max / (f64::from(1u32 << ADD_LEFT_SHIFT) * f64::from(y.scale));
        let below_one = |real: f64| -> Result<(i32, i32)> {
            let (m, s) = quantize_multiplier(real);
            if !(real > 0.0 && real < 1.0) || s > 0 {
                return Err(unsupported("a rescaling factor not below one"));
            }
            Ok((m, s))
        };
        Ok(Add {
            reads: [a.index, b.index],
            writes: y.index,
            bytes: y.bytes,
            offsets: [-a.zero_point, -b.zero_point],
            multipliers: [
                below_one(f64::from(a.scale) / twice_max)?,
                below_one(f64::from(b.scale) / twice_max)?,
                below_one(real_output)?,
            ],
            output_offset: y.zero_point,
            range: (range.0.max(-128), range.1.min(127)),
        })
    }
}

impl Step for Add {
    fn reads(&self) -> &[usize] {
        &self.reads
    }

    fn writes(&self) -> usize {
        self.writes
    }

    fn describe(&self) -> String {
        format!("ADD int8, {} elements", self.bytes)
    }

    fn emit(&self, n: usize, out: &mut String) -> Result<()> {
        let b = self.bytes;
        for (i, &(m, s)) in self.multipliers[..2].iter().enumerate() {
            emit_scale(out, &format!("op{n}_scale{i}"), m, s)?;
        }
        let (m, s) = self.multipliers[2];
        emit_requantize(out, &format!("op{n}_out"), m, s, self.output_offset, self.range)?;
        writeln!(out, "/// Operator {n}: {}.", self.describe())?;
        writeln!(out, "#[inline(never)]")?;
        writeln!(out, "fn op{n}(a: &[i8; {b}], b: &[i8; {b}], y: &mut [i8; {b}]) {{")?;
        writeln!(out, "    for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {{")?;
        writeln!(
            out,
            "        let a = op{n}_scale0((i32::from(a) + {}) << {ADD_LEFT_SHIFT});",
            self.offsets[0]
        )?;
        writeln!(
            out,
            "        let b = op{n}_scale1((i32::from(b) + {}) << {ADD_LEFT_SHIFT});",
            self.offsets[1]
        )?;
        writeln!(out, "        *y = op{n}_out(a.wrapping_add(b));")?;
        writeln!(out, "    }}\n}}")?;
        Ok(())
    }
}

/// `fn name(acc: i32) -> i32`: `MultiplyByQuantizedMultiplier(acc, multiplier, shift)`
/// for a shift of at most 0, as `emit_requantize` computes it (no offset, no clamp).
fn emit_scale(out: &mut String, name: &str, multiplier: i32, shift: i32) -> Result<()> {
    writeln!(out, "/// `MultiplyByQuantizedMultiplier(acc, {multiplier}, {shift})`.")?;
    writeln!(out, "#[inline(always)]")?;
    writeln!(out, "fn {name}(acc: i32) -> i32 {{")?;
    if shift >= 0 {
        writeln!(
            out,
            "    ((i64::from(acc.wrapping_mul({})) * {multiplier} + (1 << 30)) >> 31) as i32",
            1i64 << shift
        )?;
    } else {
        let right = -shift;
        let round = (1i64 << 30) + (1i64 << (30 + right));
        writeln!(out, "    let k = {round} + (i64::from(acc >> 31) << 31);")?;
        writeln!(out, "    (((i64::from(acc) * {multiplier} + k) >> 32) as i32) >> {}", right - 1)?;
    }
    writeln!(out, "}}")?;
    Ok(())
}
