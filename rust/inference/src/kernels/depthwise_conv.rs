//! DEPTHWISE_CONV_2D, int8 (per-channel or per-tensor weights, int32 bias) and f32,
//! as TFLM's reference kernels compute it (`reference_integer_ops::DepthwiseConvPerChannel`,
//! `reference_ops::DepthwiseConv`), with strides, dilation and a depth multiplier.
//!
//! Filters are `[1, height, width, in_channels * multiplier]`; output channel
//! `c * multiplier + m` reads input channel `c`. Taps outside the image are skipped.
//! Each output channel sums its taps in the reference order (rows, then columns),
//! so computing a block of channels side by side, tap by tap, gives the reference
//! results: f32 adds the bias after the products; int8 sums `w * (x + input_offset)`
//! in wrapping int32, adds the bias, requantizes per channel, adds the output zero
//! point and clamps.

use super::conv_common::{
    channel_multipliers, clamp_f32, dims4, read_options, Axis, Kind, Window, WindowOptions,
};
use super::{f32_at, i32_at, requant_at, required, Io, Persist, Slot};
use crate::quant::Requant;
use crate::schema::{DType, Model, OpCode, OperatorInfo, TensorInfo};
use crate::{Error, Result};

const OP: OpCode = OpCode::DEPTHWISE_CONV_2D;
/// BuiltinOptions union: DepthwiseConv2DOptions.
const DEPTHWISE_CONV_2D_OPTIONS: u8 = 2;
/// DepthwiseConv2DOptions field ids (depth_multiplier is 3).
const OPTIONS: WindowOptions =
    WindowOptions { padding: 0, stride_w: 1, stride_h: 2, activation: 4, dilation_w: 5, dilation_h: 6 };
/// Bytes of prepared data per output channel: the requantization, the folded bias.
const PER_CHANNEL: usize = Requant::BYTES + 4;
/// Where the folded bias is in a channel's prepared data: the bias plus the input
/// offset times the sum of the channel's taps, which a window inside the image adds
/// to sum(w x) (the same wrapping sum, regrouped).
const FOLDED: usize = Requant::BYTES;
/// Output channels accumulated side by side.
const BLOCK: usize = 32;

#[derive(Clone, Copy, Debug)]
pub struct DepthwiseConv<'m> {
    input: usize,
    output: usize,
    filter: &'m [u8],
    bias: Option<&'m [u8]>,
    batches: usize,
    in_h: usize,
    in_w: usize,
    in_depth: usize,
    multiplier: usize,
    out_depth: usize,
    rows: Axis,
    cols: Axis,
    kind: Kind,
}

pub fn prepare<'m>(
    model: &Model<'m>,
    op: &OperatorInfo,
    persist: &mut Persist<'_>,
) -> Result<DepthwiseConv<'m>> {
    let bad = |why| Error::InvalidOperator(OP, why);
    if op.outputs.len() != 1 || !(2..=3).contains(&op.inputs.len()) {
        return Err(bad(why!("needs input, weights, optional bias and one output")));
    }
    let options = op.options.ok_or(bad(why!("options missing")))?;
    if op.options_type != DEPTHWISE_CONV_2D_OPTIONS {
        return Err(bad(why!("options of another operator")));
    }
    let (padding, strides, dilations, activation) = read_options(model.buf(), &options, &OPTIONS, OP)?;
    let multiplier = options.i32_or(model.buf(), 3, 0)?;
    let (input, in_t) = required(model, op.inputs, 0, OP)?;
    let (_, filter_t) = required(model, op.inputs, 1, OP)?;
    let (output, out_t) = required(model, op.outputs, 0, OP)?;
    if in_t.data.is_some() || out_t.data.is_some() {
        return Err(bad(why!("input and output must not be constants")));
    }
    let filter = filter_t.data.ok_or(bad(why!("weights must be constant")))?;
    let [batches, in_h, in_w, in_depth] = dims4(&in_t, why!("input must have rank 4"), OP)?;
    let [one, f_h, f_w, out_depth] = dims4(&filter_t, why!("weights must have rank 4"), OP)?;
    let [out_batches, out_h, out_w, out_channels] = dims4(&out_t, why!("output must have rank 4"), OP)?;
    if one != 1 {
        return Err(bad(why!("weights must be [1, height, width, channels]")));
    }
    if out_batches != batches || out_channels != out_depth {
        return Err(bad(why!("output batches or channels do not match")));
    }
    if multiplier < 1 || in_depth.checked_mul(multiplier as usize) != Some(out_depth) {
        return Err(bad(why!("output channels are not input channels x depth multiplier")));
    }
    let rows = Axis::new(padding, in_h as i32, f_h as i32, strides[0], dilations[0], out_h as i32, OP)?;
    let cols = Axis::new(padding, in_w as i32, f_w as i32, strides[1], dilations[1], out_w as i32, OP)?;
    let bias;
    let mut bias_t = TensorInfo::EMPTY;
    let kind = match (in_t.dtype, filter_t.dtype, out_t.dtype) {
        (DType::F32, DType::F32, DType::F32) => {
            bias = super::bias(model, op, out_depth, DType::F32, &mut bias_t)?;
            let (min, max) = activation.float_range();
            Kind::Float { min, max }
        }
        (DType::I8, DType::I8, DType::I8) => {
            bias = super::bias(model, op, out_depth, DType::I32, &mut bias_t)?;
            let params = persist.alloc(PER_CHANNEL * out_depth)?;
            channel_multipliers(&in_t, &filter_t, &out_t, 3, persist, (params, PER_CHANNEL), OP)?;
            let input_offset = in_t.zero_point.wrapping_neg();
            // A pass over every weight: only when the sums are stored (not at load).
            let channels = if persist.counting_only() { 0 } else { out_depth };
            let taps = filter.chunks_exact(out_depth.max(1));
            for c in 0..channels {
                let tap = |acc: i32, row: &[u8]| acc.wrapping_add(row.get(c).map_or(0, |&w| w as i8 as i32));
                let sum = taps.clone().fold(0i32, tap);
                let b = bias.map_or(0, |b| i32_at(b, 4 * c));
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
    Ok(DepthwiseConv {
        input,
        output,
        filter,
        bias,
        batches,
        in_h,
        in_w,
        in_depth,
        multiplier: multiplier as usize,
        out_depth,
        rows,
        cols,
        kind,
    })
}

/// `acc[i] += w[i] x[i]` over int8 values in wrapping int32, two channels a step (the
/// loop's overhead on half as many steps), the odd last one alone.
#[inline(always)]
fn mac_pairs(acc: &mut [i32], w: &[u8], x: &[u8]) {
    let v = |b: u8| b as i8 as i32;
    let ((acc2, acc1), (w2, w1), (x2, x1)) =
        (acc.as_chunks_mut::<2>(), w.as_chunks::<2>(), x.as_chunks::<2>());
    for ((a, &[w0, w1]), &[x0, x1]) in acc2.iter_mut().zip(w2).zip(x2) {
        a[0] = a[0].wrapping_add(v(w0) * v(x0));
        a[1] = a[1].wrapping_add(v(w1) * v(x1));
    }
    for ((a, &w), &x) in acc1.iter_mut().zip(w1).zip(x1) {
        *a = a.wrapping_add(v(w) * v(x));
    }
}

impl DepthwiseConv<'_> {
    pub fn eval(&self, slots: &[Slot], io: &mut Io<'_>) -> Result<()> {
        let persistent = io.persistent;
        let (input, output) = io.split(super::slot(slots, self.input)?, super::slot(slots, self.output)?)?;
        let elem = match self.kind {
            Kind::Float { .. } => 4,
            Kind::Int8 { .. } => 1,
        };
        let image_len = self.in_h * self.in_w * self.in_depth * elem;
        let out_len = self.rows.out * self.cols.out * self.out_depth * elem;
        if input.len() != self.batches * image_len || output.len() != self.batches * out_len {
            return Err(Error::BadTensor);
        }
        let params = match self.kind {
            Kind::Int8 { params, .. } => {
                persistent.get(params..params + PER_CHANNEL * self.out_depth).ok_or(Error::BadTensor)?
            }
            Kind::Float { .. } => &[],
        };
        for (b, pixels) in output.chunks_exact_mut(out_len.max(1)).enumerate() {
            let image = input.get(b * image_len..(b + 1) * image_len).ok_or(Error::BadTensor)?;
            for (p, out) in pixels.chunks_exact_mut((self.out_depth * elem).max(1)).enumerate() {
                let (y0, fy0, fy1) = self.rows.window(p / self.cols.out.max(1));
                let (x0, fx0, fx1) = self.cols.window(p % self.cols.out.max(1));
                let win = Window { y0, fy: (fy0, fy1), x0, fx: (fx0, fx1) };
                // Blocks of output channels: BLOCK input channels at a time when the
                // multiplier is 1, else up to BLOCK channels of one input channel.
                let (mut c, mut m0) = (0, 0);
                while c < self.in_depth {
                    let (first, n, inputs) = if self.multiplier == 1 {
                        let n = BLOCK.min(self.in_depth - c);
                        (c, n, n)
                    } else {
                        (c * self.multiplier + m0, BLOCK.min(self.multiplier - m0), 1)
                    };
                    let out = out.get_mut(first * elem..(first + n) * elem).ok_or(Error::BadTensor)?;
                    match self.kind {
                        Kind::Int8 { .. } => {
                            self.block_i8(image, win, (c, inputs), (first, n), params, out)?
                        }
                        Kind::Float { min, max } => {
                            self.block_f32(image, win, (c, inputs), (first, n), (min, max), out)?
                        }
                    }
                    if self.multiplier == 1 {
                        c += n;
                    } else {
                        m0 += n;
                        if m0 == self.multiplier {
                            (c, m0) = (c + 1, 0);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Calls `f(input offset, filter offset)` (in elements) for each tap of the window
    /// inside the image, in the reference order.
    #[inline(always)]
    fn for_each_tap(&self, win: Window, mut f: impl FnMut(usize, usize) -> Result<()>) -> Result<()> {
        for fy in win.fy.0..win.fy.1 {
            let row = self.rows.at(win.y0, fy) * self.in_w;
            for fx in win.fx.0..win.fx.1 {
                let x = (row + self.cols.at(win.x0, fx)) * self.in_depth;
                f(x, (fy * self.cols.filter() + fx) * self.out_depth)?;
            }
        }
        Ok(())
    }

    /// Output channels `first..first + n` of one pixel, int8. They read `inputs`
    /// input channels from `c`: `n` of them (multiplier 1), or channel `c` alone.
    #[inline(always)]
    fn block_i8(
        &self,
        image: &[u8],
        win: Window,
        (c, inputs): (usize, usize),
        (first, n): (usize, usize),
        params: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        let Kind::Int8 { input_offset, output_offset, act_min, act_max, .. } = self.kind else {
            return Err(Error::BadTensor);
        };
        // A window inside the image sums w x and adds the folded bias (the input
        // offset in it); one over the padding sums w (x + offset) over the taps inside.
        let inside = win.fy == (0, self.rows.filter()) && win.fx == (0, self.cols.filter());
        let offset = if inside { 0 } else { input_offset };
        let mut acc = [0i32; BLOCK];
        let acc = acc.get_mut(..n).ok_or(Error::BadTensor)?;
        self.for_each_tap(win, |x, w| {
            let x = image.get(x + c..x + c + inputs).ok_or(Error::BadTensor)?;
            let w = self.filter.get(w + first..w + first + n).ok_or(Error::BadTensor)?;
            if let [x] = x {
                let x = *x as i8 as i32 + offset;
                for (a, &w) in acc.iter_mut().zip(w) {
                    *a = a.wrapping_add((w as i8 as i32) * x);
                }
            } else if inside {
                mac_pairs(acc, w, x);
            } else {
                for ((a, &w), &x) in acc.iter_mut().zip(w).zip(x) {
                    *a = a.wrapping_add((w as i8 as i32) * (x as i8 as i32 + input_offset));
                }
            }
            Ok(())
        })?;
        for (j, (o, &a)) in out.iter_mut().zip(acc.iter()).enumerate() {
            let oc = first + j;
            let at = PER_CHANNEL * oc;
            let acc = if inside {
                a.wrapping_add(i32_at(params, at + FOLDED))
            } else {
                a.wrapping_add(self.bias.map_or(0, |bias| i32_at(bias, 4 * oc)))
            };
            let scaled = requant_at(params, at).apply(acc);
            // max then min, as TFLM clamps (and no panic path for a bad range).
            *o = scaled.wrapping_add(output_offset).max(act_min).min(act_max) as i8 as u8;
        }
        Ok(())
    }

    /// [`Self::block_i8`] for f32.
    #[inline(always)]
    fn block_f32(
        &self,
        image: &[u8],
        win: Window,
        (c, inputs): (usize, usize),
        (first, n): (usize, usize),
        (min, max): (f32, f32),
        out: &mut [u8],
    ) -> Result<()> {
        let mut acc = [0.0f32; BLOCK];
        let acc = acc.get_mut(..n).ok_or(Error::BadTensor)?;
        self.for_each_tap(win, |x, w| {
            let x = image.get(4 * (x + c)..4 * (x + c + inputs)).ok_or(Error::BadTensor)?;
            let w = self.filter.get(4 * (w + first)..4 * (w + first + n)).ok_or(Error::BadTensor)?;
            if let [a, b, c, d] = x {
                let x = f32::from_le_bytes([*a, *b, *c, *d]);
                for (t, w) in acc.iter_mut().zip(w.chunks_exact(4)) {
                    *t += x * f32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                }
            } else {
                for ((t, w), x) in acc.iter_mut().zip(w.chunks_exact(4)).zip(x.chunks_exact(4)) {
                    *t += f32::from_le_bytes([x[0], x[1], x[2], x[3]])
                        * f32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                }
            }
            Ok(())
        })?;
        for (j, (o, &t)) in out.chunks_exact_mut(4).zip(acc.iter()).enumerate() {
            let bias = self.bias.map_or(0.0, |bias| f32_at(bias, first + j));
            o.copy_from_slice(&clamp_f32(t + bias, min, max).to_le_bytes());
        }
        Ok(())
    }
}
