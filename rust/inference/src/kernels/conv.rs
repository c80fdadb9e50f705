//! CONV_2D, int8 (per-channel or per-tensor weights, int32 bias) and f32, as TFLM's
//! reference kernels compute it (`reference_integer_ops::ConvPerChannel`,
//! `reference_ops::Conv`), with strides, dilation and grouped filters (filters whose
//! depth divides the input's).
//!
//! Filters are `[out_channels, height, width, in_channels / groups]`. Taps outside the
//! image are skipped. f32 sums each window's products in the reference order (rows,
//! columns, channels) and then adds the bias; int8 sums `w * (x + input_offset)` in
//! wrapping int32, adds the bias, requantizes per channel, adds the output zero
//! point and clamps.

use super::conv_common::{
    channel_multipliers, clamp_f32, dims4, read_options, Axis, Kind, Window, WindowOptions,
};
use super::{
    dot4_i8, dot4_offset, dot4_u8, dot_i8, dot_offset, dot_u8, f32_at, i32_at, requant_at, required, Io,
    Persist, Slot, FOLD_MAX,
};
use crate::quant::Requant;
use crate::schema::{DType, Model, OpCode, OperatorInfo, TensorInfo};
use crate::{Error, Result};

const OP: OpCode = OpCode::CONV_2D;
/// BuiltinOptions union: Conv2DOptions.
const CONV_2D_OPTIONS: u8 = 1;
/// Conv2DOptions field ids (quantized_bias_type, 6, only matters for int16).
const OPTIONS: WindowOptions =
    WindowOptions { padding: 0, stride_w: 1, stride_h: 2, activation: 3, dilation_w: 4, dilation_h: 5 };
/// Bytes of prepared data per output channel: the requantization, the folded bias.
const PER_CHANNEL: usize = Requant::BYTES + 4;
/// Where the folded bias is in a channel's prepared data.
const FOLDED: usize = Requant::BYTES;

#[derive(Clone, Copy, Debug)]
pub struct Conv<'m> {
    input: usize,
    output: usize,
    filter: &'m [u8],
    bias: Option<&'m [u8]>,
    batches: usize,
    in_h: usize,
    in_w: usize,
    in_depth: usize,
    out_depth: usize,
    /// Channels each filter reads: the input's depth over the number of groups.
    filter_depth: usize,
    /// Output channels per group.
    per_group: usize,
    rows: Axis,
    cols: Axis,
    kind: Kind,
    /// The input offset invoke adds to each input value: 0 when preparation folded it
    /// into each channel's bias (a layer of at most [`FOLD_MAX`] weights), int8's
    /// input offset otherwise.
    loop_offset: i32,
}

pub fn prepare<'m>(model: &Model<'m>, op: &OperatorInfo, persist: &mut Persist<'_>) -> Result<Conv<'m>> {
    let bad = |why| Error::InvalidOperator(OP, why);
    if op.outputs.len() != 1 || !(2..=3).contains(&op.inputs.len()) {
        return Err(bad(why!("needs input, weights, optional bias and one output")));
    }
    let options = op.options.ok_or(bad(why!("options missing")))?;
    if op.options_type != CONV_2D_OPTIONS {
        return Err(bad(why!("options of another operator")));
    }
    let (padding, strides, dilations, activation) = read_options(model.buf(), &options, &OPTIONS, OP)?;
    let (input, in_t) = required(model, op.inputs, 0, OP)?;
    let (_, filter_t) = required(model, op.inputs, 1, OP)?;
    let (output, out_t) = required(model, op.outputs, 0, OP)?;
    if in_t.data.is_some() || out_t.data.is_some() {
        return Err(bad(why!("input and output must not be constants")));
    }
    let filter = filter_t.data.ok_or(bad(why!("weights must be constant")))?;
    let [batches, in_h, in_w, in_depth] = dims4(&in_t, why!("input must have rank 4"), OP)?;
    let [out_depth, f_h, f_w, filter_depth] = dims4(&filter_t, why!("weights must have rank 4"), OP)?;
    let [out_batches, out_h, out_w, out_channels] = dims4(&out_t, why!("output must have rank 4"), OP)?;
    if out_batches != batches || out_channels != out_depth {
        return Err(bad(why!("output batches or channels do not match")));
    }
    if !in_depth.is_multiple_of(filter_depth) || !out_depth.is_multiple_of(in_depth / filter_depth) {
        return Err(bad(why!("weights' depth does not divide the input's into groups of filters")));
    }
    let per_group = out_depth / (in_depth / filter_depth);
    let rows = Axis::new(padding, in_h as i32, f_h as i32, strides[0], dilations[0], out_h as i32, OP)?;
    let cols = Axis::new(padding, in_w as i32, f_w as i32, strides[1], dilations[1], out_w as i32, OP)?;
    let bias;
    let mut bias_t = TensorInfo::EMPTY;
    let mut loop_offset = 0;
    let kind = match (in_t.dtype, filter_t.dtype, out_t.dtype) {
        (DType::F32, DType::F32, DType::F32) => {
            bias = super::bias(model, op, out_depth, DType::F32, &mut bias_t)?;
            let (min, max) = activation.float_range();
            Kind::Float { min, max }
        }
        (DType::I8, DType::I8, DType::I8) => {
            bias = super::bias(model, op, out_depth, DType::I32, &mut bias_t)?;
            let params = persist.alloc(PER_CHANNEL * out_depth)?;
            channel_multipliers(&in_t, &filter_t, &out_t, 0, persist, (params, PER_CHANNEL), OP)?;
            let input_offset = in_t.zero_point.wrapping_neg();
            if filter.len() > FOLD_MAX {
                loop_offset = input_offset;
            }
            let taps = f_h * f_w * filter_depth;
            // A pass over every weight: only when the sums are stored (not at load),
            // and only when the offset is folded.
            let stored = if persist.counting_only() { &[][..] } else { filter };
            for (c, w) in stored.chunks_exact(taps).enumerate() {
                let b = bias.map_or(0, |b| i32_at(b, 4 * c));
                let sum = match loop_offset {
                    0 => sum_i8(w),
                    _ => 0,
                };
                persist.put_array(
                    params + PER_CHANNEL * c + FOLDED,
                    (b.wrapping_add(input_offset.wrapping_mul(sum))).to_le_bytes(),
                );
            }
            let (act_min, act_max) = activation
                .int8_range(out_t.scale, out_t.zero_point)
                .ok_or(bad(why!("activation range overflows")))?;
            Kind::Int8 { params, input_offset, output_offset: out_t.zero_point, act_min, act_max }
        }
        _ => return Err(bad(why!("types must be all f32 or all int8"))),
    };
    Ok(Conv {
        input,
        output,
        filter,
        bias,
        batches,
        in_h,
        in_w,
        in_depth,
        out_depth,
        filter_depth,
        per_group,
        rows,
        cols,
        kind,
        loop_offset,
    })
}

impl Conv<'_> {
    pub fn eval(&self, slots: &[Slot], io: &mut Io<'_>) -> Result<()> {
        let persistent = io.persistent;
        let (input, output) = io.split(slots[self.input], slots[self.output])?;
        let elem = match self.kind {
            Kind::Float { .. } => 4,
            Kind::Int8 { .. } => 1,
        };
        let (out_h, out_w, out_depth) = (self.rows.out, self.cols.out, self.out_depth);
        let image_len = self.in_h * self.in_w * self.in_depth * elem;
        let out_len = out_h * out_w * out_depth * elem;
        let taps = self.rows.filter() * self.cols.filter() * self.filter_depth * elem;
        let filter = self.filter.get(..out_depth * taps).ok_or(Error::BadTensor)?;
        let params = match self.kind {
            Kind::Int8 { params, .. } => {
                persistent.get(params..params + PER_CHANNEL * out_depth).ok_or(Error::BadTensor)?
            }
            Kind::Float { .. } => &[],
        };
        if input.len() != self.batches * image_len || output.len() != self.batches * out_len || taps == 0 {
            return Err(Error::BadTensor);
        }
        // An int8 window over every input channel and without dilated columns is
        // gathered into one patch (unless it is one run of the image already), the
        // padding filled with the zero point; all output channels are then dot
        // products with it.
        let gathers = self.filter_depth == self.in_depth && self.cols.dilation() == 1 && taps <= PATCH;
        if let (true, Kind::Int8 { .. }) = (gathers, self.kind) {
            // The patch buffer is on the stack: a small one for small windows.
            // And a copy for each way of adding the input offset (see `pixel_i8`).
            let small = taps <= SMALL_PATCH;
            let args = (input, output, filter, params);
            return match (self.loop_offset, small) {
                (0, true) => self.gathered_i8::<SMALL_PATCH, FOLDED_OFFSET>(args),
                (0, false) => self.gathered_i8::<PATCH, FOLDED_OFFSET>(args),
                (128, true) => self.gathered_i8::<SMALL_PATCH, UNSIGNED>(args),
                (128, false) => self.gathered_i8::<PATCH, UNSIGNED>(args),
                (_, true) => self.gathered_i8::<SMALL_PATCH, OFFSET_IN_LOOP>(args),
                (_, false) => self.gathered_i8::<PATCH, OFFSET_IN_LOOP>(args),
            };
        }
        self.general(input, output, filter, params)
    }

    /// The outputs of every other convolution (f32, grouped, dilated columns, large
    /// windows), tap run by tap run. A function of its own: its frame is not on the
    /// stack under the gathering path's.
    #[inline(never)]
    fn general(&self, input: &[u8], output: &mut [u8], filter: &[u8], params: &[u8]) -> Result<()> {
        let elem = match self.kind {
            Kind::Float { .. } => 4,
            Kind::Int8 { .. } => 1,
        };
        let (out_h, out_w, out_depth) = (self.rows.out, self.cols.out, self.out_depth);
        let image_len = self.in_h * self.in_w * self.in_depth * elem;
        let out_len = out_h * out_w * out_depth * elem;
        let taps = self.rows.filter() * self.cols.filter() * self.filter_depth * elem;
        for (b, pixels) in output.chunks_exact_mut(out_len.max(1)).enumerate() {
            let image = input.get(b * image_len..(b + 1) * image_len).ok_or(Error::BadTensor)?;
            for (p, out) in pixels.chunks_exact_mut(out_depth * elem).enumerate() {
                let (y0, fy0, fy1) = self.rows.window(p / out_w);
                let (x0, fx0, fx1) = self.cols.window(p % out_w);
                let win = Window { y0, fy: (fy0, fy1), x0, fx: (fx0, fx1) };
                let inside = fy0 == 0 && fy1 == self.rows.filter() && fx0 == 0 && fx1 == self.cols.filter();
                match self.kind {
                    Kind::Int8 { input_offset, output_offset, act_min, act_max, .. } => {
                        let folded = inside && self.loop_offset == 0;
                        for (oc, (o, w)) in out.iter_mut().zip(filter.chunks_exact(taps)).enumerate() {
                            let (mut dot, mut wsum) = (0i32, 0i32);
                            self.for_each_run(image, w, 1, win, oc / self.per_group, |x, w| {
                                dot = dot.wrapping_add(dot_i8(w, x));
                                if !folded {
                                    wsum = w.iter().fold(wsum, |acc, &v| acc.wrapping_add(v as i8 as i32));
                                }
                            })?;
                            let at = PER_CHANNEL * oc;
                            let acc = if folded {
                                i32_at(params, at + FOLDED).wrapping_add(dot)
                            } else {
                                let bias = self.bias.map_or(0, |bias| i32_at(bias, 4 * oc));
                                bias.wrapping_add(dot).wrapping_add(input_offset.wrapping_mul(wsum))
                            };
                            let scaled = requant_at(params, at).apply(acc);
                            // max then min, as TFLM clamps (and no panic path for a bad range).
                            *o = scaled.wrapping_add(output_offset).max(act_min).min(act_max) as i8 as u8;
                        }
                    }
                    Kind::Float { min, max } => {
                        for (oc, (o, w)) in out.chunks_exact_mut(4).zip(filter.chunks_exact(taps)).enumerate()
                        {
                            let mut total = 0.0f32;
                            self.for_each_run(image, w, 4, win, oc / self.per_group, |x, w| {
                                total = dot_f32(total, w, x);
                            })?;
                            let bias = self.bias.map_or(0.0, |bias| f32_at(bias, oc));
                            o.copy_from_slice(&clamp_f32(total + bias, min, max).to_le_bytes());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Every output of an int8 convolution whose windows [`Conv::patch`] gathers, in a
    /// buffer of `N` bytes (at least the window's).
    #[inline(never)]
    fn gathered_i8<const N: usize, const MODE: u8>(
        &self,
        (input, output, filter, params): (&[u8], &mut [u8], &[u8], &[u8]),
    ) -> Result<()> {
        let Kind::Int8 { input_offset, output_offset, act_min, act_max, .. } = self.kind else {
            return Err(Error::BadTensor);
        };
        // The padding: the zero point, or 0 in a patch of unsigned x + 128 (which
        // is the byte with its top bit flipped: gathered so, the loop adds no offset).
        let zero = match MODE {
            UNSIGNED => 0,
            _ => input_offset.wrapping_neg() as u8,
        };
        let outputs = (output_offset, act_min, act_max);
        let image_len = self.in_h * self.in_w * self.in_depth;
        let (out_w, out_depth) = (self.cols.out, self.out_depth);
        let out_len = self.rows.out * out_w * out_depth;
        let mut buf = [0u8; N];
        for (b, pixels) in output.chunks_exact_mut(out_len.max(1)).enumerate() {
            let image = input.get(b * image_len..(b + 1) * image_len).ok_or(Error::BadTensor)?;
            for (p, out) in pixels.chunks_exact_mut(out_depth.max(1)).enumerate() {
                let (y0, fy0, fy1) = self.rows.window(p / out_w);
                let (x0, fx0, fx1) = self.cols.window(p % out_w);
                let win = Window { y0, fy: (fy0, fy1), x0, fx: (fx0, fx1) };
                let patch = self.patch::<MODE>(image, win, zero, &mut buf).ok_or(Error::BadTensor)?;
                pixel_i8::<MODE>(patch, filter, params, out, outputs, self.loop_offset)
                    .ok_or(Error::BadTensor)?;
            }
        }
        Ok(())
    }

    /// The int8 bytes of a window (over every input channel, columns not dilated) in
    /// the weights' order, the taps outside the image filled with the input's zero
    /// point `zero`: their products with the folded bias's input offset cancel (or,
    /// offset in the loop, are 0), so the sum equals the reference's, which skips them. A slice of the image when the
    /// window is one row inside it, else copied into `buf`.
    #[inline(always)]
    fn patch<'a, const MODE: u8>(
        &self,
        image: &'a [u8],
        win: Window,
        zero: u8,
        buf: &'a mut [u8],
    ) -> Option<&'a [u8]> {
        let (f_h, f_w, depth) = (self.rows.filter(), self.cols.filter(), self.in_depth);
        let run = f_w * depth;
        let (fx0, fx1) = win.fx;
        let at = |fy| (self.rows.at(win.y0, fy) * self.in_w + self.cols.at(win.x0, fx0)) * depth;
        // Unsigned values are always copied, flipped.
        let flip = MODE == UNSIGNED;
        if !flip && f_h == 1 && win.fy == (0, 1) && win.fx == (0, f_w) {
            return image.get(at(0)..at(0) + run);
        }
        let buf = buf.get_mut(..run * f_h)?;
        let whole = win.fx == (0, f_w);
        for (fy, row) in buf.chunks_exact_mut(run.max(1)).enumerate() {
            if fy < win.fy.0 || fy >= win.fy.1 || fx0 == fx1 {
                row.fill(zero);
                continue;
            }
            if whole {
                copy(flip, row, image.get(at(fy)..at(fy) + run)?);
                continue;
            }
            let (before, rest) = row.split_at_mut_checked(fx0 * depth)?;
            let (mid, after) = rest.split_at_mut_checked((fx1 - fx0) * depth)?;
            before.fill(zero);
            after.fill(zero);
            copy(flip, mid, image.get(at(fy)..at(fy) + mid.len())?);
        }
        Some(buf)
    }

    /// Calls `f(input, weights)` on each run of bytes of one filter's window that lies
    /// inside the image, in the reference order. A window row is one run when the
    /// columns are not dilated and the filter reads every input channel.
    #[inline(always)]
    fn for_each_run<'a>(
        &self,
        image: &'a [u8],
        weights: &'a [u8],
        elem: usize,
        win: Window,
        group: usize,
        mut f: impl FnMut(&'a [u8], &'a [u8]),
    ) -> Result<()> {
        let (fx0, fx1) = win.fx;
        if fx0 == fx1 {
            return Ok(());
        }
        let (f_w, depth, in_depth) = (self.cols.filter(), self.filter_depth, self.in_depth);
        let whole_rows = self.cols.dilation() == 1 && depth == in_depth;
        for fy in win.fy.0..win.fy.1 {
            let row = self.rows.at(win.y0, fy) * self.in_w;
            if whole_rows {
                let n = (fx1 - fx0) * depth * elem;
                let x = (row + self.cols.at(win.x0, fx0)) * in_depth * elem;
                let w = (fy * f_w + fx0) * depth * elem;
                f(
                    image.get(x..x + n).ok_or(Error::BadTensor)?,
                    weights.get(w..w + n).ok_or(Error::BadTensor)?,
                );
            } else {
                let n = depth * elem;
                for fx in fx0..fx1 {
                    let x = ((row + self.cols.at(win.x0, fx)) * in_depth + group * depth) * elem;
                    let w = (fy * f_w + fx) * depth * elem;
                    f(
                        image.get(x..x + n).ok_or(Error::BadTensor)?,
                        weights.get(w..w + n).ok_or(Error::BadTensor)?,
                    );
                }
            }
        }
        Ok(())
    }
}

/// Bytes of the largest window [`Conv::patch`] gathers (3 x 3 x 112 channels, say);
/// a larger one takes the general path.
const PATCH: usize = 1024;
/// The buffer of smaller windows (3 x 3 x 8, 10 x 4 x 1), a smaller stack frame.
const SMALL_PATCH: usize = 128;

/// [`pixel_i8`]'s modes, a copy each (the choice made once per pixel, not per
/// channel): the input offset folded into the bias, or added in the loop as
/// `input_offset`, or (an offset of 128) a patch of unsigned values `x + 128`.
const FOLDED_OFFSET: u8 = 0;
const UNSIGNED: u8 = 1;
const OFFSET_IN_LOOP: u8 = 2;

/// `dst = src`, each byte's top bit flipped when `flip` (int8 `x` to unsigned
/// `x + 128`), a word at a time.
#[inline(always)]
fn copy(flip: bool, dst: &mut [u8], src: &[u8]) {
    if !flip {
        dst.copy_from_slice(src);
        return;
    }
    let (words, rest) = dst.as_chunks_mut::<4>();
    let (from, from_rest) = src.as_chunks::<4>();
    for (d, s) in words.iter_mut().zip(from) {
        *d = (u32::from_le_bytes(*s) ^ 0x8080_8080).to_le_bytes();
    }
    for (d, s) in rest.iter_mut().zip(from_rest) {
        *d = s ^ 0x80;
    }
}

/// All output channels of one pixel whose window is inside the image, int8: four
/// channels at a time, each a dot product of their weights with the window's `patch`
/// (the input offset in the folded bias, or added to each patch value: `MODE`), plus
/// the stored bias, requantized, offset and clamped. `None` for a bad size (never for
/// planned tensors).
#[inline(never)]
fn pixel_i8<const MODE: u8>(
    patch: &[u8],
    filter: &[u8],
    params: &[u8],
    out: &mut [u8],
    (offset, min, max): (i32, i32, i32),
    input_offset: i32,
) -> Option<()> {
    let taps = patch.len();
    if taps == 0 {
        return None;
    }
    let q = |p: &[u8], dot: i32| -> Option<u8> {
        let (rq, folded) = p.split_first_chunk::<{ Requant::BYTES }>()?;
        let acc = i32::from_le_bytes(*folded.first_chunk::<4>()?).wrapping_add(dot);
        // max then min, as TFLM clamps (and no panic path for a bad range).
        Some(Requant::from_bytes(rq).apply(acc).wrapping_add(offset).max(min).min(max) as i8 as u8)
    };
    let mut out4 = out.chunks_exact_mut(4);
    let mut rows4 = filter.chunks_exact(4 * taps);
    let mut params4 = params.chunks_exact(4 * PER_CHANNEL);
    for ((o, w), p) in (&mut out4).zip(&mut rows4).zip(&mut params4) {
        let (w0, w) = w.split_at_checked(taps)?;
        let (w1, w) = w.split_at_checked(taps)?;
        let (w2, w3) = w.split_at_checked(taps)?;
        let dots = match MODE {
            FOLDED_OFFSET => dot4_i8([0; 4], w0, w1, w2, w3, patch),
            UNSIGNED => dot4_u8([0; 4], w0, w1, w2, w3, patch),
            _ => dot4_offset::<false>([0; 4], w0, w1, w2, w3, patch, input_offset),
        };
        for ((o, dot), p) in o.iter_mut().zip(dots).zip(p.chunks_exact(PER_CHANNEL)) {
            *o = q(p, dot)?;
        }
    }
    let rows = rows4.remainder().chunks_exact(taps);
    for ((o, w), p) in
        out4.into_remainder().iter_mut().zip(rows).zip(params4.remainder().chunks_exact(PER_CHANNEL))
    {
        let dot = match MODE {
            FOLDED_OFFSET => dot_i8(w, patch),
            UNSIGNED => dot_u8(w, patch),
            _ => dot_offset(w, patch, input_offset),
        };
        *o = q(p, dot)?;
    }
    Some(())
}

/// sum(w[i]) over int8 values (in wrapping int32, as the kernels add them), a word
/// at a time: the bytes offset by 128 (unsigned) summed in two 16-bit lanes of pairs,
/// 128 words before the lanes could overflow, then the offsets taken off.
#[inline(always)]
pub(super) fn sum_i8(w: &[u8]) -> i32 {
    let (words, rest) = w.as_chunks::<4>();
    let mut total = rest.iter().fold(0i32, |acc, &v| acc.wrapping_add(v as i8 as i32));
    for block in words.chunks(128) {
        let mut lanes = 0u32;
        for word in block {
            let v = u32::from_le_bytes(*word) ^ 0x8080_8080;
            lanes += (v & 0x00ff_00ff) + ((v >> 8) & 0x00ff_00ff);
        }
        let unsigned = (lanes & 0xffff) + (lanes >> 16);
        total = total.wrapping_add(unsigned as i32 - 512 * block.len() as i32);
    }
    total
}

/// `total` plus x[i] w[i] over f32 values, one product at a time in order (as the
/// reference kernels accumulate: no reassociation, no fused multiply-add).
#[inline(always)]
fn dot_f32(mut total: f32, w: &[u8], x: &[u8]) -> f32 {
    for (a, b) in w.chunks_exact(4).zip(x.chunks_exact(4)) {
        let a = f32::from_le_bytes([a[0], a[1], a[2], a[3]]);
        let b = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        total += b * a;
    }
    total
}
