//! AVERAGE_POOL_2D and MAX_POOL_2D over NHWC tensors, int8 and f32, as TFLM's
//! reference kernels compute them (`reference_ops::AveragePool`/`MaxPool` for f32,
//! `reference_integer_ops::AveragePool`/`MaxPool` for int8, `pooling_common.cc`).
//!
//! A window is clipped to the image: taps in the padding are skipped, not counted,
//! so an average divides by the taps inside. int8 input and output share scale and
//! zero point, and the int8 average is of the raw values (zero point included),
//! rounded half away from zero by integer division. Invoke walks the channels in
//! blocks, so that the window reads contiguous bytes.

use super::{f32_at, required, separate_io, slot, Io, Slot};
use crate::quant::Activation;
use crate::schema::{DType, Model, OpCode, OperatorInfo};
use crate::{Error, Result};

const POOL_2D_OPTIONS: u8 = 5;
/// Channels pooled at once (accumulators on the stack).
const BLOCK: usize = 16;

#[derive(Clone, Copy, Debug)]
pub struct Pool {
    input: usize,
    output: usize,
    batches: usize,
    depth: usize,
    height: Axis,
    width: Axis,
    kind: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    AverageF32 { min: f32, max: f32 },
    MaxF32 { min: f32, max: f32 },
    AverageI8 { min: i32, max: i32 },
    MaxI8 { min: i32, max: i32 },
}

/// One spatial dimension: output position `o` pools input positions
/// `o * stride - pad + f` for taps `f` in `0..filter` that fall inside `0..input`.
#[derive(Clone, Copy, Debug)]
struct Axis {
    input: usize,
    out: usize,
    filter: i64,
    stride: i64,
    pad: i64,
}

impl Axis {
    /// TFLite's `ComputeOutSize` and `ComputePaddingWithOffset` (dilation 1, in 64
    /// bits): SAME pads `total / 2` before; checked against the output's size.
    fn new(same: bool, input: i32, filter: i32, stride: i32, out: i32, op: OpCode) -> Result<Self> {
        let bad = |why| Error::InvalidOperator(op, why);
        if filter < 1 || stride < 1 {
            return Err(bad(why!("filter size and stride must be positive")));
        }
        let (input, filter, stride) = (input as i64, filter as i64, stride as i64);
        let computed = if same { (input + stride - 1) / stride } else { (input + stride - filter) / stride };
        if computed != out as i64 || computed < 1 {
            return Err(bad(why!("output size does not match the input, filter, stride and padding")));
        }
        let total = ((computed - 1) * stride + filter - input).max(0);
        let axis = Axis { input: input as usize, out: out as usize, filter, stride, pad: total / 2 };
        // Origins grow with `o`: if the first window reaches into the image and the
        // last starts inside it, no window is empty (TFLM leaves an empty one unwritten).
        let (first, last) = (axis.window(0), axis.window(axis.out - 1));
        if first.0 >= first.1 || last.0 >= last.1 {
            return Err(bad(why!("a pooling window lies entirely in the padding")));
        }
        Ok(axis)
    }

    /// The input positions `lo..hi` that output position `o` pools.
    #[inline(always)]
    fn window(&self, o: usize) -> (usize, usize) {
        let origin = o as i64 * self.stride - self.pad;
        let lo = origin.clamp(0, self.input as i64);
        let hi = (origin + self.filter).clamp(lo, self.input as i64);
        (lo as usize, hi as usize)
    }
}

pub fn prepare(model: &Model<'_>, op: &OperatorInfo) -> Result<Pool> {
    let code = op.code;
    let bad = |why| Error::InvalidOperator(code, why);
    if op.inputs.len() != 1 || op.outputs.len() != 1 {
        return Err(bad(why!("needs one input and one output")));
    }
    let options = op.options.ok_or(bad(why!("missing pooling options")))?;
    if op.options_type != POOL_2D_OPTIONS {
        return Err(bad(why!("options of another operator")));
    }
    let same = match options.u8_or(model.buf(), 0, 0)? {
        0 => true,
        1 => false,
        _ => return Err(bad(why!("unknown padding"))),
    };
    let (stride_w, stride_h) = (options.i32_or(model.buf(), 1, 0)?, options.i32_or(model.buf(), 2, 0)?);
    let (filter_w, filter_h) = (options.i32_or(model.buf(), 3, 0)?, options.i32_or(model.buf(), 4, 0)?);
    let activation = Activation::from_schema(options.u8_or(model.buf(), 5, 0)?)
        .ok_or(bad(why!("unsupported fused activation")))?;

    let (input, in_t) = required(model, op.inputs, 0, code)?;
    let (output, out_t) = required(model, op.outputs, 0, code)?;
    separate_io(code, &in_t, &out_t)?;
    if in_t.rank() != 4 || out_t.rank() != 4 {
        return Err(bad(why!("input and output must be 4D (NHWC)")));
    }
    let (i, o) = (in_t.dims(), out_t.dims());
    if i[0] != o[0] || i[3] != o[3] {
        return Err(bad(why!("input and output differ in batches or channels")));
    }
    if in_t.dtype != out_t.dtype {
        return Err(bad(why!("input and output differ in type")));
    }
    let height = Axis::new(same, i[1], filter_h, stride_h, o[1], code)?;
    let width = Axis::new(same, i[2], filter_w, stride_w, o[2], code)?;
    let average = code == OpCode::AVERAGE_POOL_2D;
    let kind = match in_t.dtype {
        DType::F32 => {
            let (min, max) = activation.float_range();
            if average {
                Kind::AverageF32 { min, max }
            } else {
                Kind::MaxF32 { min, max }
            }
        }
        DType::I8 => {
            // TFLM: scales within 1e-6 of each other (compared in float), same zero point.
            if (in_t.scale - out_t.scale).abs() as f64 > 1.0e-6 || in_t.zero_point != out_t.zero_point {
                return Err(bad(why!("int8 input and output must share scale and zero point")));
            }
            let (min, max) = activation
                .int8_range(out_t.scale, out_t.zero_point)
                .ok_or(bad(why!("activation range overflows")))?;
            if average {
                Kind::AverageI8 { min, max }
            } else {
                Kind::MaxI8 { min, max }
            }
        }
        _ => return Err(bad(why!("f32 or int8 only"))),
    };
    Ok(Pool { input, output, batches: i[0] as usize, depth: i[3] as usize, height, width, kind })
}

impl Pool {
    pub fn eval(&self, slots: &[Slot], io: &mut Io<'_>) -> Result<()> {
        let (in_slot, out_slot) = (slot(slots, self.input)?, slot(slots, self.output)?);
        let (input, output) = io.split(in_slot, out_slot)?;
        let size = match self.kind {
            Kind::AverageF32 { .. } | Kind::MaxF32 { .. } => 4,
            Kind::AverageI8 { .. } | Kind::MaxI8 { .. } => 1,
        };
        let (h, w, d) = (self.height, self.width, self.depth);
        if input.len() != self.batches * h.input * w.input * d * size
            || output.len() != self.batches * h.out * w.out * d * size
        {
            return Err(Error::BadTensor);
        }
        let pixels = output.chunks_exact_mut(d * size);
        let mut at = pixels.into_iter();
        for b in 0..self.batches {
            for oy in 0..h.out {
                let rows = h.window(oy);
                for ox in 0..w.out {
                    let cols = w.window(ox);
                    let out = at.next().ok_or(Error::BadTensor)?;
                    let win = Window { batch: b, rows, cols, height: h.input, width: w.input, depth: d };
                    match self.kind {
                        Kind::AverageI8 { min, max } => average_i8(input, &win, out, min, max),
                        Kind::MaxI8 { min, max } => max_i8(input, &win, out, min, max),
                        Kind::AverageF32 { min, max } => average_f32(input, &win, out, min, max),
                        Kind::MaxF32 { min, max } => max_f32(input, &win, out, min, max),
                    }
                }
            }
        }
        Ok(())
    }
}

/// The input pixels one output pixel pools (rows and columns already clipped).
struct Window {
    batch: usize,
    rows: (usize, usize),
    cols: (usize, usize),
    height: usize,
    width: usize,
    depth: usize,
}

impl Window {
    fn taps(&self) -> usize {
        (self.rows.1 - self.rows.0) * (self.cols.1 - self.cols.0)
    }

    /// Calls `f` with the element index of channel `c0` at each tap, rows then
    /// columns (TFLM's order, which float sums depend on).
    #[inline(always)]
    fn each(&self, c0: usize, mut f: impl FnMut(usize)) {
        for y in self.rows.0..self.rows.1 {
            let row = (self.batch * self.height + y) * self.width;
            for x in self.cols.0..self.cols.1 {
                f((row + x) * self.depth + c0);
            }
        }
    }
}

// The eval functions below index `input` at elements below batches x height x width x
// depth, which eval checked against its length.

fn average_i8(input: &[u8], win: &Window, out: &mut [u8], min: i32, max: i32) {
    let taps = win.taps() as i32;
    for (c0, out) in (0..win.depth).step_by(BLOCK).zip(out.chunks_mut(BLOCK)) {
        let n = out.len();
        let mut acc = [0i32; BLOCK];
        win.each(c0, |at| {
            for (a, &v) in acc.iter_mut().zip(&input[at..at + n]) {
                *a = a.wrapping_add(v as i8 as i32);
            }
        });
        for (o, &a) in out.iter_mut().zip(&acc) {
            // Half away from zero; a zero sum takes the second branch and stays zero.
            let mean = if a > 0 { a.wrapping_add(taps / 2) / taps } else { a.wrapping_sub(taps / 2) / taps };
            *o = mean.max(min).min(max) as i8 as u8;
        }
    }
}

fn max_i8(input: &[u8], win: &Window, out: &mut [u8], min: i32, max: i32) {
    for (c0, out) in (0..win.depth).step_by(BLOCK).zip(out.chunks_mut(BLOCK)) {
        let n = out.len();
        let mut acc = [i8::MIN; BLOCK];
        win.each(c0, |at| {
            for (a, &v) in acc.iter_mut().zip(&input[at..at + n]) {
                *a = (*a).max(v as i8);
            }
        });
        for (o, &a) in out.iter_mut().zip(&acc) {
            *o = (a as i32).max(min).min(max) as i8 as u8;
        }
    }
}

/// TFLM's `ActivationFunctionWithMinMax`: NaN passes through.
#[inline(always)]
fn clamp_f32(v: f32, min: f32, max: f32) -> f32 {
    if v < min {
        min
    } else if v > max {
        max
    } else {
        v
    }
}

fn average_f32(input: &[u8], win: &Window, out: &mut [u8], min: f32, max: f32) {
    let taps = win.taps() as f32;
    for (c0, out) in (0..win.depth).step_by(BLOCK).zip(out.chunks_mut(4 * BLOCK)) {
        let n = out.len() / 4;
        let mut acc = [0.0f32; BLOCK];
        win.each(c0, |at| {
            for (k, a) in acc.iter_mut().enumerate().take(n) {
                *a += f32_at(input, at + k);
            }
        });
        for (o, &a) in out.chunks_exact_mut(4).zip(&acc) {
            o.copy_from_slice(&clamp_f32(a / taps, min, max).to_le_bytes());
        }
    }
}

fn max_f32(input: &[u8], win: &Window, out: &mut [u8], min: f32, max: f32) {
    for (c0, out) in (0..win.depth).step_by(BLOCK).zip(out.chunks_mut(4 * BLOCK)) {
        let n = out.len() / 4;
        let mut acc = [f32::MIN; BLOCK];
        win.each(c0, |at| {
            for (k, a) in acc.iter_mut().enumerate().take(n) {
                let v = f32_at(input, at + k);
                // std::max(a, v): v only when a < v, so a NaN input is skipped.
                if *a < v {
                    *a = v;
                }
            }
        });
        for (o, &a) in out.chunks_exact_mut(4).zip(&acc) {
            o.copy_from_slice(&clamp_f32(a, min, max).to_le_bytes());
        }
    }
}
