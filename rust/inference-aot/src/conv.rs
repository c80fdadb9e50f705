//! CONV_2D and DEPTHWISE_CONV_2D, int8 with per-channel (or per-tensor) weights, as
//! TFLM's `reference_integer_ops::ConvPerChannel` and `DepthwiseConvPerChannel`
//! compute them: `clamp(out_offset + MultiplyByQuantizedMultiplier(bias + sum(w (x +
//! in_offset)), channel))`, the taps in the padding skipped.
//!
//! Everything but the input is fixed here. The input offset's share is folded into
//! each channel's bias (`bias + in_offset sum(w)`, the same wrapping sum regrouped);
//! a window that reaches into the padding is first gathered into a patch on the
//! stack, its taps in the padding filled with the input's zero point, which add `w
//! (zp + in_offset) = 0`, exactly what skipping them adds; a window inside the image
//! is read in place. Either way each tap is at a constant offset from the window's
//! first byte. CONV_2D's
//! channels go four at a time through the packed kernel of `fully_connected`
//! (two channels per 64-bit multiply-accumulate), where the weights allow it.

use crate::fully_connected::LANE;
use crate::{constant, list, options, rq_table, Error, Result, Step};
use inference::quant::{quantize_multiplier, Activation};
use inference::{DType, Model, Operator};
use std::fmt::Write;

/// Schema option types and field ids.
const CONV_OPTIONS: u8 = 1;
const DEPTHWISE_OPTIONS: u8 = 2;

/// Inputs of a packed layer are taken this many at a time, each block unrolled (in
/// blocks of 4 LLVM spilled accumulators: KWS 7,055,707 instructions, 6,732,792 in 2).
const STEP: usize = 2;

pub struct Conv {
    depthwise: bool,
    reads: [usize; 1],
    writes: usize,
    input: [usize; 3],
    output: [usize; 3],
    filter: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    /// The depthwise multiplier (1 for CONV_2D).
    multiplier: usize,
    /// The padding above and left of the image.
    pad: [usize; 2],
    /// Whether some window reaches into the padding.
    border: bool,
    input_zero_point: i32,
    /// Per output channel, its taps: CONV_2D `[h][w][in]`, DEPTHWISE `[h][w]`.
    weights: Vec<Vec<i8>>,
    /// The bias plus the input offset times the channel's weight sum.
    folded: Vec<i32>,
    requant: Vec<(i32, i32)>,
    output_offset: i32,
    range: (i32, i32),
    activation: Activation,
}

/// TFLite's `ComputeOutSize` and leading padding (`ComputePaddingHeightWidth`).
fn out_and_pad(
    same: bool,
    input: usize,
    filter: usize,
    stride: usize,
    dilation: usize,
) -> Option<(usize, usize)> {
    let effective = (filter - 1) * dilation + 1;
    let out = if same { input.div_ceil(stride) } else { (input + stride).checked_sub(effective)? / stride };
    let total = ((out.checked_sub(1)?) * stride + effective).saturating_sub(input);
    Some((out, total / 2))
}

impl Conv {
    pub fn new(
        model: &Model<'_>,
        bytes: &[u8],
        n: usize,
        op: &Operator<'_>,
        depthwise: bool,
    ) -> Result<Self> {
        let name = if depthwise { "DEPTHWISE_CONV_2D" } else { "CONV_2D" };
        let unsupported = |what| Error::Unsupported { op: name, what };
        let x_index = op.inputs().next().flatten().ok_or(unsupported("an operator without input"))?;
        let y_index = op.outputs().next().flatten().ok_or(unsupported("an operator without output"))?;
        let (x, y) = (model.tensor(x_index)?, model.tensor(y_index)?);
        let w = constant(model, op.inputs().nth(1).flatten(), name, "weights that are not constant")?;
        if (x.dtype, w.dtype, y.dtype) != (DType::I8, DType::I8, DType::I8) {
            return Err(unsupported("a type other than int8"));
        }
        let (kind, ids) = if depthwise {
            (DEPTHWISE_OPTIONS, [0, 1, 2, 4, 5, 6])
        } else {
            (CONV_OPTIONS, [0, 1, 2, 3, 4, 5])
        };
        let same = options::u8_field(bytes, n, kind, ids[0], 0)? == 0;
        let stride_w = options::i32_field(bytes, n, kind, ids[1], 0)?;
        let stride_h = options::i32_field(bytes, n, kind, ids[2], 0)?;
        let code = options::u8_field(bytes, n, kind, ids[3], 0)?;
        let dilation_w = options::i32_field(bytes, n, kind, ids[4], 1)?;
        let dilation_h = options::i32_field(bytes, n, kind, ids[5], 1)?;
        let positive = |v: i32| usize::try_from(v).ok().filter(|&v| v > 0).ok_or(Error::Malformed);
        let stride = [positive(stride_h)?, positive(stride_w)?];
        let dilation = [positive(dilation_h)?, positive(dilation_w)?];
        let dims = |t: &inference::TensorInfo<'_>| -> Result<[usize; 4]> {
            if t.rank() != 4 {
                return Err(unsupported("a tensor of another rank than 4"));
            }
            Ok([0, 1, 2, 3].map(|d| t.dim(d) as usize))
        };
        let ([xb, ih, iw, ic], [yb, oh, ow, oc], wd) = (dims(&x)?, dims(&y)?, dims(&w)?);
        if xb != 1 || yb != 1 {
            return Err(unsupported("more than one batch"));
        }
        let (fh, fw, multiplier) = if depthwise {
            if wd[0] != 1 || wd[3] != oc || ic == 0 || oc % ic != 0 {
                return Err(Error::Malformed);
            }
            (wd[1], wd[2], oc / ic)
        } else {
            if wd[0] != oc {
                return Err(Error::Malformed);
            }
            if wd[3] != ic {
                return Err(unsupported("grouped filters"));
            }
            (wd[1], wd[2], 1)
        };
        let (out_h, pad_top) = out_and_pad(same, ih, fh, stride[0], dilation[0]).ok_or(Error::Malformed)?;
        let (out_w, pad_left) = out_and_pad(same, iw, fw, stride[1], dilation[1]).ok_or(Error::Malformed)?;
        if (out_h, out_w) != (oh, ow) {
            return Err(Error::Malformed);
        }
        // The image every window reads: rows up to the last window's last tap.
        let need = [
            (oh - 1) * stride[0] + (fh - 1) * dilation[0] + 1,
            (ow - 1) * stride[1] + (fw - 1) * dilation[1] + 1,
        ];
        let border = pad_top > 0 || pad_left > 0 || need[0] > ih || need[1] > iw;

        let data = w.data.unwrap_or_default();
        let taps = fh * fw;
        let weights: Vec<Vec<i8>> = if depthwise {
            (0..oc)
                .map(|c| (0..taps).map(|t| data.get(t * oc + c).map_or(0, |&b| b as i8)).collect())
                .collect()
        } else {
            data.chunks_exact(taps * ic).map(|row| row.iter().map(|&b| b as i8).collect()).collect()
        };
        if weights.len() != oc || weights.iter().any(|r| r.len() != if depthwise { taps } else { taps * ic })
        {
            return Err(Error::Malformed);
        }
        let bias: Vec<i32> = match op.inputs().nth(2).flatten() {
            Some(t) => {
                let b = constant(model, Some(t), name, "a bias that is not constant")?;
                if b.dtype != DType::I32 {
                    return Err(unsupported("a bias other than int32"));
                }
                let data = b.data.unwrap_or_default();
                data.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
            }
            None => vec![0; oc],
        };
        if bias.len() != oc {
            return Err(Error::Malformed);
        }
        let input_offset = x.zero_point.wrapping_neg();
        let folded = weights
            .iter()
            .zip(&bias)
            .map(|(row, &b)| {
                let sum = row.iter().fold(0i32, |acc, &v| acc.wrapping_add(v.into()));
                b.wrapping_add(input_offset.wrapping_mul(sum))
            })
            .collect();
        // PopulateConvolutionQuantizationParams: the effective scale in double.
        let requant = (0..oc)
            .map(|c| {
                let real = f64::from(x.scale) * f64::from(w.scale_of(c)) / f64::from(y.scale);
                let (m, s) = quantize_multiplier(real);
                if m < 0 || s > 30 {
                    return Err(unsupported("a requantization multiplier outside [0, 2^31) x 2^[.., 30]"));
                }
                Ok((m, s))
            })
            .collect::<Result<Vec<_>>>()?;
        let activation = Activation::from_schema(code).ok_or(unsupported("this fused activation"))?;
        let range =
            activation.int8_range(y.scale, y.zero_point).ok_or(unsupported("this activation range"))?;
        Ok(Conv {
            depthwise,
            reads: [x_index],
            writes: y_index,
            input: [ih, iw, ic],
            output: [oh, ow, oc],
            filter: [fh, fw],
            stride,
            dilation,
            multiplier,
            pad: [pad_top, pad_left],
            border,
            input_zero_point: x.zero_point,
            weights,
            folded,
            requant,
            output_offset: y.zero_point,
            range: (range.0.max(-128), range.1.min(127)),
            activation,
        })
    }

    /// Where a window's taps are in the image: (bytes between tap rows, between taps
    /// of a row, from the first tap's byte to the last's plus one).
    fn in_image(&self) -> Layout {
        let [_, iw, ic] = self.input;
        let [fh, fw] = self.filter;
        let (tap_row, col) = (self.dilation[0] * iw * ic, self.dilation[1] * ic);
        Layout { tap_row, col, span: (fh - 1) * tap_row + (fw - 1) * col + ic }
    }

    /// The same in a gathered patch (the taps side by side, in the weights' order).
    fn in_patch(&self) -> Layout {
        let ic = self.input[2];
        let [fh, fw] = self.filter;
        Layout { tap_row: fw * ic, col: ic, span: fh * fw * ic }
    }

    /// Each channel's bias as the kernels add it: the folded bias, less half a lane
    /// in the packed kernel's low lanes (channels 0 and 2 of a group).
    fn biases(&self) -> Vec<i32> {
        let grouped = if self.packs() { self.output[2] / 4 * 4 } else { 0 };
        let half = 1i32 << (LANE - 1);
        let low = |c: usize| c < grouped && c.is_multiple_of(2);
        self.folded.iter().enumerate().map(|(c, &b)| if low(c) { b.wrapping_sub(half) } else { b }).collect()
    }

    /// Whether every window is gathered, also those inside the image: a CONV_2D
    /// window of several short runs (rows of fewer than 8 bytes, as KWS' first layer
    /// 10 x 4 x 1: 6,580,776 -> 6,473,223 instructions), whose loops would cost more
    /// than the copy (3 x 3 x 3 windows, runs of 9, cost 3% more gathered in VWW).
    fn gathers_inside(&self) -> bool {
        let runs = self.runs(self.in_image());
        !self.depthwise && self.dilation[1] == 1 && runs.len() > 1 && runs.iter().all(|r| r.2 < 8)
    }

    /// Whether DEPTHWISE_CONV_2D computes neighbouring pixels two at a time: each tap's
    /// two inputs packed in one word, `xa + xb << LANE`, times the tap's weight in one
    /// 64-bit multiply-accumulate (the packed kernel's idea with the roles swapped),
    /// where every channel's sum stays inside its lane (`128 sum |w| < 2^(LANE-1)`).
    fn pairs(&self) -> bool {
        self.depthwise
            && self.multiplier == 1
            && self.output[1] >= 2
            && self.weights.iter().all(|row| {
                let bound: i64 = row.iter().map(|&w| i64::from(w).abs() * 128).sum();
                bound < 1 << (LANE - 1)
            })
    }

    /// Whether the packed kernel applies to CONV_2D: four channels or more, and every
    /// channel's sum within its lane for every input (`128 sum |w| < 2^(LANE-1)`).
    fn packs(&self) -> bool {
        !self.depthwise
            && self.output[2] >= 4
            && self.weights.iter().all(|row| {
                let bound: i64 = row.iter().map(|&w| i64::from(w).abs() * 128).sum();
                bound < 1 << (LANE - 1)
            })
    }

    /// The runs of one window laid out as `at`: (offset from its first byte, tap
    /// offset, length), each contiguous in both.
    fn runs(&self, at: Layout) -> Vec<(usize, usize, usize)> {
        let ic = self.input[2];
        let [fh, fw] = self.filter;
        if at.col == ic {
            if at.tap_row == fw * ic {
                return vec![(0, 0, fh * fw * ic)];
            }
            (0..fh).map(|fy| (fy * at.tap_row, fy * fw * ic, fw * ic)).collect()
        } else {
            let mut runs = Vec::new();
            for fy in 0..fh {
                for fx in 0..fw {
                    runs.push((fy * at.tap_row + fx * at.col, (fy * fw + fx) * ic, ic));
                }
            }
            runs
        }
    }

    /// The loops of `op{n}` over the output pixels: a window inside the image read in
    /// place, one over the padding gathered first.
    fn emit_pixels(&self, n: usize, out: &mut String) -> Result<()> {
        let [ih, iw, ic] = self.input;
        let [_, ow, oc] = self.output;
        let [fh, fw] = self.filter;
        let image = self.in_image();
        let span = [(fh - 1) * self.dilation[0] + 1, (fw - 1) * self.dilation[1] + 1];
        let gathers = self.gathers_inside();
        if self.border || gathers {
            writeln!(out, "    let mut patch = [{}i8; {}];", self.input_zero_point, self.in_patch().span)?;
        }
        writeln!(out, "    for (oy, row) in y.as_chunks_mut::<{}>().0.iter_mut().enumerate() {{", ow * oc)?;
        writeln!(out, "        let iy = (oy * {}) as isize - {};", self.stride[0], self.pad[0])?;
        writeln!(out, "        let rows_inside = iy >= 0 && iy + {} <= {ih};", span[0])?;
        if self.pairs() {
            // Two neighbours at once where both windows are inside the image.
            let (step, pair) = (self.stride[1], image.span + self.stride[1] * ic);
            writeln!(out, "        let mut ox = 0;")?;
            writeln!(out, "        while ox < {ow} {{")?;
            writeln!(out, "            let ix = (ox * {step}) as isize - {};", self.pad[1])?;
            writeln!(
                out,
                "            if rows_inside && ix >= 0 && ix + {} <= {iw} && ox + 1 < {ow} {{",
                span[1] + step
            )?;
            writeln!(out, "                let at = (iy as usize * {iw} + ix as usize) * {ic};")?;
            writeln!(
                out,
                "                let window = x.get(at..).and_then(|w| w.first_chunk::<{pair}>());"
            )?;
            writeln!(
                out,
                "                let out = row.get_mut(ox * {oc}..).and_then(|o| o.first_chunk_mut::<{}>());",
                2 * oc
            )?;
            writeln!(out, "                if let (Some(window), Some(out)) = (window, out) {{")?;
            writeln!(out, "                    op{n}_pair(window, out);")?;
            writeln!(out, "                }}")?;
            writeln!(out, "                ox += 2;")?;
            writeln!(out, "                continue;")?;
            writeln!(out, "            }}")?;
            writeln!(out, "            let Some(out) = row.get_mut(ox * {oc}..).and_then(|o| o.first_chunk_mut::<{oc}>()) else {{ break }};")?;
            writeln!(out, "            ox += 1;")?;
        } else {
            writeln!(
                out,
                "        for (ox, out) in row.as_chunks_mut::<{oc}>().0.iter_mut().enumerate() {{"
            )?;
            writeln!(out, "            let ix = (ox * {}) as isize - {};", self.stride[1], self.pad[1])?;
        }
        writeln!(out, "            if rows_inside && ix >= 0 && ix + {} <= {iw} {{", span[1])?;
        writeln!(out, "                let at = (iy as usize * {iw} + ix as usize) * {ic};")?;
        if gathers {
            // Short runs: the window's rows side by side first, then one run.
            let run = fw * ic;
            writeln!(
                out,
                "                for (fy, to) in patch.as_chunks_mut::<{run}>().0.iter_mut().enumerate() {{"
            )?;
            writeln!(out, "                    let at = at + fy * {};", image.tap_row)?;
            writeln!(
                out,
                "                    if let Some(from) = x.get(at..).and_then(|w| w.first_chunk::<{run}>()) {{"
            )?;
            writeln!(out, "                        *to = *from;")?;
            writeln!(out, "                    }}\n                }}")?;
            writeln!(out, "                op{n}_border(&patch, out);")?;
        } else {
            writeln!(
                out,
                "                if let Some(window) = x.get(at..).and_then(|w| w.first_chunk::<{}>()) {{",
                image.span
            )?;
            writeln!(out, "                    op{n}_pixel(window, out);")?;
            writeln!(out, "                }}")?;
        }
        if self.border {
            writeln!(out, "            }} else {{")?;
            writeln!(out, "                // The window's taps, those in the padding the zero point.")?;
            writeln!(
                out,
                "                for (t, tap) in patch.as_chunks_mut::<{ic}>().0.iter_mut().enumerate() {{"
            )?;
            writeln!(out, "                    let yy = iy + (t / {fw} * {}) as isize;", self.dilation[0])?;
            writeln!(out, "                    let xx = ix + (t % {fw} * {}) as isize;", self.dilation[1])?;
            writeln!(out, "                    let at = (yy * {iw} + xx) as usize * {ic};")?;
            writeln!(out, "                    match x.get(at..).and_then(|p| p.first_chunk::<{ic}>()) {{")?;
            writeln!(
                out,
                "                        Some(pixel) if (0..{ih}).contains(&yy) && (0..{iw}).contains(&xx) => *tap = *pixel,"
            )?;
            writeln!(out, "                        _ => *tap = [{}; {ic}],", self.input_zero_point)?;
            writeln!(out, "                    }}\n                }}")?;
            writeln!(out, "                op{n}_border(&patch, out);")?;
        }
        writeln!(out, "            }}\n        }}\n    }}")?;
        Ok(())
    }
}

/// Where a window's taps lie (see [`Conv::in_image`]).
#[derive(Clone, Copy)]
struct Layout {
    tap_row: usize,
    col: usize,
    span: usize,
}

impl Step for Conv {
    fn reads(&self) -> &[usize] {
        &self.reads
    }

    fn writes(&self) -> usize {
        self.writes
    }

    fn describe(&self) -> String {
        let [ih, iw, ic] = self.input;
        let [oh, ow, oc] = self.output;
        format!(
            "{} int8, {ih}x{iw}x{ic} -> {oh}x{ow}x{oc}, filter {}x{}, stride {:?}, dilation {:?}{}, {:?}",
            if self.depthwise { "DEPTHWISE_CONV_2D" } else { "CONV_2D" },
            self.filter[0],
            self.filter[1],
            self.stride,
            self.dilation,
            if self.border { ", padded" } else { "" },
            self.activation
        )
    }

    fn emit(&self, n: usize, out: &mut String) -> Result<()> {
        let [ih, iw, ic] = self.input;
        let [oh, ow, oc] = self.output;
        let (xn, yn) = (ih * iw * ic, oh * ow * oc);
        let all_right = self.requant.iter().all(|&(_, s)| s < 0);
        out.push_str(&rq_table(&format!("OP{n}_RQ"), &self.requant, &self.biases()));
        if self.depthwise {
            self.emit_depthwise_statics(n, out)?;
        } else {
            self.emit_conv_statics(n, out)?;
        }
        writeln!(out, "/// Operator {n}: {}.", self.describe())?;
        writeln!(out, "#[inline(never)]")?;
        writeln!(out, "fn op{n}(x: &[i8; {xn}], y: &mut [i8; {yn}]) {{")?;
        self.emit_pixels(n, out)?;
        writeln!(out, "}}\n")?;
        let mut layouts = Vec::new();
        if !self.gathers_inside() {
            layouts.push(("pixel", self.in_image()));
        }
        if self.border || self.gathers_inside() {
            layouts.push(("border", self.in_patch()));
        }
        if self.pairs() {
            let at = self.in_image();
            writeln!(out, "#[inline(always)]")?;
            writeln!(
                out,
                "fn op{n}_pair(x: &[i8; {}], out: &mut [i8; {}]) {{",
                at.span + self.stride[1] * self.input[2],
                2 * oc
            )?;
            self.emit_depthwise_pair(n, at, out)?;
            writeln!(out, "}}\n")?;
        }
        for (name, at) in layouts {
            writeln!(out, "#[inline(always)]")?;
            writeln!(out, "fn op{n}_{name}(x: &[i8; {}], out: &mut [i8; {oc}]) {{", at.span)?;
            if self.depthwise {
                self.emit_depthwise_pixel(n, at, out)?;
            } else {
                self.emit_conv_pixel(n, at, out)?;
            }
            writeln!(out, "}}\n")?;
        }
        let (min, max) = self.range;
        writeln!(out, "#[inline(always)]")?;
        writeln!(out, "fn op{n}_out(acc: i32, q: &Rq) -> i8 {{")?;
        // With the clamp's floor at or above the output offset (RELU, RELU6), every
        // negative sum ends at the floor: `requant_right` without its correction
        // for a negative sum gives it too (a result of 0 or less, see `REQUANT`).
        let f = match (all_right, min >= self.output_offset) {
            (true, true) => "requant_right_relu",
            (true, false) => "requant_right",
            _ => "requant",
        };
        writeln!(
            out,
            "    {f}(acc.wrapping_add(q.bias), q).wrapping_add({}).max({min}).min({max}) as i8",
            self.output_offset
        )?;
        writeln!(out, "}}")?;
        Ok(())
    }
}

impl Conv {
    fn emit_conv_statics(&self, n: usize, out: &mut String) -> Result<()> {
        let oc = self.output[2];
        let taps = self.weights[0].len();
        let grouped = if self.packs() { oc / 4 * 4 } else { 0 };
        if grouped > 0 {
            writeln!(
                out,
                "/// Operator {n}'s channels 0 to {}, packed per group of four and per tap:",
                grouped - 1
            )?;
            writeln!(out, "/// `p01 + p23 << 32`, `pab = wa + wb << LANE` (see `fully_connected`).")?;
            let mut text = Vec::new();
            for g in 0..grouped / 4 {
                let w = |u: usize, k: usize| i32::from(self.weights[4 * g + u][k]);
                let words: Vec<String> = (0..taps)
                    .map(|k| {
                        let pack = |a: usize, b: usize| (w(b, k) << LANE) + w(a, k);
                        format!("{}", (i64::from(pack(2, 3)) << 32) | i64::from(pack(0, 1) as u32))
                    })
                    .collect();
                text.push(format!("[{}]", words.join(", ")));
            }
            writeln!(
                out,
                "static OP{n}_PACKED: [[i64; {taps}]; {}] = [{}];",
                grouped / 4,
                text.join(",\n    ")
            )?;
        }
        if grouped < oc {
            let rows: Vec<String> = self.weights[grouped..].iter().map(|r| list(r.iter())).collect();
            writeln!(out, "/// Operator {n}'s channels {grouped} to {}: their taps.", oc - 1)?;
            writeln!(out, "static OP{n}_WEIGHTS: [[i8; {taps}]; {}] = [{}];", oc - grouped, rows.join(", "))?;
        }
        Ok(())
    }

    fn emit_conv_pixel(&self, n: usize, layout: Layout, out: &mut String) -> Result<()> {
        let oc = self.output[2];
        let runs = self.runs(layout);
        let grouped = if self.packs() { oc / 4 * 4 } else { 0 };
        for (r, &(at, _, len)) in runs.iter().enumerate() {
            writeln!(out, "    let Some(x{r}) = x.get({at}..).and_then(|x| x.first_chunk::<{len}>()) else {{ return }};")?;
        }
        if grouped > 0 {
            writeln!(out, "    let (groups, rest) = out.split_at_mut({grouped});")?;
            writeln!(
                out,
                "    for ((o, w), q) in groups.as_chunks_mut::<4>().0.iter_mut().zip(&OP{n}_PACKED).zip(OP{n}_RQ.as_chunks::<4>().0) {{"
            )?;
            writeln!(out, "        let (mut low, mut high) = (HALF_LANE, HALF_LANE);")?;
            for (r, &(_, w_at, len)) in runs.iter().enumerate() {
                writeln!(
                    out,
                    "        let Some(w{r}) = w.get({w_at}..).and_then(|w| w.first_chunk::<{len}>()) else {{ return }};"
                )?;
                writeln!(
                    out,
                    "        for (w, x) in w{r}.as_chunks::<{STEP}>().0.iter().zip(x{r}.as_chunks::<{STEP}>().0) {{"
                )?;
                for k in 0..STEP {
                    writeln!(out, "            let x{k} = i64::from(x[{k}]);")?;
                    writeln!(out, "            low += x{k} * i64::from(w[{k}] as i32);")?;
                    writeln!(out, "            high += x{k} * (w[{k}] >> 32);")?;
                }
                writeln!(out, "        }}")?;
                if len % STEP != 0 {
                    let done = len / STEP * STEP;
                    writeln!(out, "        for (&w, &x) in w{r}[{done}..].iter().zip(&x{r}[{done}..]) {{")?;
                    writeln!(out, "            let x = i64::from(x);")?;
                    writeln!(out, "            low += x * i64::from(w as i32);")?;
                    writeln!(out, "            high += x * (w >> 32);")?;
                    writeln!(out, "        }}")?;
                }
            }
            writeln!(out, "        o[0] = op{n}_out(low as i32 & LANE_MASK, &q[0]);")?;
            writeln!(out, "        o[1] = op{n}_out((low >> LANE) as i32, &q[1]);")?;
            writeln!(out, "        o[2] = op{n}_out(high as i32 & LANE_MASK, &q[2]);")?;
            writeln!(out, "        o[3] = op{n}_out((high >> LANE) as i32, &q[3]);")?;
            writeln!(out, "    }}")?;
        } else {
            writeln!(out, "    let rest = &mut out[..];")?;
        }
        if grouped < oc {
            writeln!(out, "    let params = &OP{n}_RQ[{grouped}..];")?;
            writeln!(out, "    for ((o, w), q) in rest.iter_mut().zip(&OP{n}_WEIGHTS).zip(params) {{")?;
            writeln!(out, "        let mut acc = 0i32;")?;
            for (r, &(_, w_at, len)) in runs.iter().enumerate() {
                writeln!(out, "        for (&w, &x) in w[{w_at}..{}].iter().zip(x{r}) {{", w_at + len)?;
                writeln!(out, "            acc = acc.wrapping_add(i32::from(w) * i32::from(x));")?;
                writeln!(out, "        }}")?;
            }
            writeln!(out, "        *o = op{n}_out(acc, q);")?;
            writeln!(out, "    }}")?;
        } else {
            writeln!(out, "    let _ = rest;")?;
        }
        Ok(())
    }

    fn emit_depthwise_statics(&self, n: usize, out: &mut String) -> Result<()> {
        let oc = self.output[2];
        let taps = self.weights[0].len();
        let rows: Vec<String> = self.weights.iter().map(|r| list(r.iter())).collect();
        writeln!(out, "/// Operator {n}'s taps, per output channel (rows, then columns).")?;
        writeln!(out, "static OP{n}_WEIGHTS: [[i8; {taps}]; {oc}] = [{}];", rows.join(", "))?;
        Ok(())
    }

    fn emit_depthwise_pair(&self, n: usize, layout: Layout, out: &mut String) -> Result<()> {
        let ic = self.input[2];
        let [fh, fw] = self.filter;
        let next = self.stride[1] * ic;
        let offsets: Vec<usize> = (0..fh)
            .flat_map(|fy| (0..fw).map(move |fx| (fy, fx)))
            .map(|(fy, fx)| fy * layout.tap_row + fx * layout.col)
            .collect();
        for (t, at) in offsets.iter().enumerate() {
            writeln!(
                out,
                "    let Some(a{t}) = x.get({at}..).and_then(|x| x.first_chunk::<{ic}>()) else {{ return }};"
            )?;
            writeln!(
                out,
                "    let Some(b{t}) = x.get({}..).and_then(|x| x.first_chunk::<{ic}>()) else {{ return }};",
                at + next
            )?;
        }
        writeln!(out, "    for c in 0..{ic} {{")?;
        writeln!(out, "        let (w, q) = (&OP{n}_WEIGHTS[c], &OP{n}_RQ[c]);")?;
        writeln!(out, "        let acc = HALF_LANE")?;
        for t in 0..offsets.len() {
            writeln!(
                out,
                "            + i64::from(i32::from(a{t}[c]) + (i32::from(b{t}[c]) << LANE)) * i64::from(w[{t}])"
            )?;
        }
        writeln!(out, "            ;")?;
        writeln!(
            out,
            "        out[c] = op{n}_out((acc as i32 & LANE_MASK).wrapping_sub(1 << (LANE - 1)), q);"
        )?;
        writeln!(out, "        out[{ic} + c] = op{n}_out((acc >> LANE) as i32, q);")?;
        writeln!(out, "    }}")?;
        Ok(())
    }

    fn emit_depthwise_pixel(&self, n: usize, layout: Layout, out: &mut String) -> Result<()> {
        let ic = self.input[2];
        let [fh, fw] = self.filter;
        let offsets: Vec<usize> = (0..fh)
            .flat_map(|fy| (0..fw).map(move |fx| (fy, fx)))
            .map(|(fy, fx)| fy * layout.tap_row + fx * layout.col)
            .collect();
        for (t, at) in offsets.iter().enumerate() {
            writeln!(
                out,
                "    let Some(x{t}) = x.get({at}..).and_then(|x| x.first_chunk::<{ic}>()) else {{ return }};"
            )?;
        }
        let m = self.multiplier;
        writeln!(out, "    for c in 0..{ic} {{")?;
        if m == 1 {
            writeln!(out, "        let (w, q, o) = (&OP{n}_WEIGHTS[c], &OP{n}_RQ[c], &mut out[c]);")?;
            writeln!(out, "        let acc = 0i32")?;
            for t in 0..offsets.len() {
                writeln!(out, "            .wrapping_add(i32::from(w[{t}]) * i32::from(x{t}[c]))")?;
            }
            writeln!(out, "            ;")?;
            writeln!(out, "        *o = op{n}_out(acc, q);")?;
        } else {
            writeln!(out, "        for m in 0..{m} {{")?;
            writeln!(out, "            let k = c * {m} + m;")?;
            writeln!(
                out,
                "            let (Some(w), Some(q), Some(o)) = (OP{n}_WEIGHTS.get(k), OP{n}_RQ.get(k), out.get_mut(k)) else {{ continue }};"
            )?;
            writeln!(out, "            let acc = 0i32")?;
            for t in 0..offsets.len() {
                writeln!(out, "                .wrapping_add(i32::from(w[{t}]) * i32::from(x{t}[c]))")?;
            }
            writeln!(out, "                ;")?;
            writeln!(out, "            *o = op{n}_out(acc, q);")?;
            writeln!(out, "        }}")?;
        }
        writeln!(out, "    }}")?;
        Ok(())
    }
}
