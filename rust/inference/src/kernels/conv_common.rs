//! What CONV_2D and DEPTHWISE_CONV_2D share: the sliding-window geometry (TFLite's
//! `ComputeOutSize` and `ComputePaddingHeightWidth`, `tensorflow/lite/kernels/padding.h`),
//! the range of a window's filter taps that fall inside the image (the reference
//! kernels skip the others: zero padding contributes nothing, not even the input
//! offset), and the per-channel requantization of `PopulateConvolutionQuantizationParams`.

use super::{checked_multiplier, Persist};
use crate::flatbuffer::Table;
use crate::quant::{Activation, Requant};
use crate::schema::{OpCode, TensorInfo};
use crate::{Error, Result};

/// How a convolution computes its outputs, by element type.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Float {
        min: f32,
        max: f32,
    },
    /// `params` (persistent): per output channel, the prepared requantization and,
    /// for CONV_2D, the bias plus input offset x the sum of the channel's weights,
    /// which a window wholly inside the image adds to sum(w x) (the same wrapping sum,
    /// regrouped; windows over the padding use the bias and the taps they cover), or
    /// the bias alone in a layer that adds the offset in its loop (more weights than
    /// `FOLD_MAX`).
    Int8 {
        params: usize,
        input_offset: i32,
        output_offset: i32,
        act_min: i32,
        act_max: i32,
    },
}

/// One window: origins and inside taps of the rows and the columns.
#[derive(Clone, Copy)]
pub struct Window {
    pub y0: i32,
    pub fy: (usize, usize),
    pub x0: i32,
    pub fx: (usize, usize),
}

/// Schema `Padding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    Same,
    Valid,
}

impl Padding {
    pub fn from_schema(v: u8) -> Option<Self> {
        match v {
            0 => Some(Padding::Same),
            1 => Some(Padding::Valid),
            _ => None,
        }
    }
}

/// Output size and leading padding of one spatial dimension, computed as TFLite does
/// (in 64 bits, C++'s truncating division); `None` where TFLite's checked variant
/// fails. SAME pads `total / 2` before and the odd remainder after.
pub fn out_size_and_padding(
    padding: Padding,
    input: i32,
    filter: i32,
    stride: i32,
    dilation: i32,
) -> Option<(i32, i32)> {
    if input < 0 || filter <= 0 || stride <= 0 || dilation <= 0 {
        return None;
    }
    let (input, stride) = (input as i64, stride as i64);
    let effective = (filter as i64 - 1) * dilation as i64 + 1;
    let out = match padding {
        Padding::Same => (input + stride - 1) / stride,
        Padding::Valid => (input + stride - effective) / stride,
    };
    if out < 0 {
        return None;
    }
    let total = ((out - 1) * stride + effective - input).max(0);
    Some((i32::try_from(out).ok()?, i32::try_from(total / 2).ok()?))
}

/// Bound on every coordinate the window arithmetic forms, so that it stays in `i32`
/// (the engine's `usize` is 32 bits on the device).
const COORD_LIMIT: i64 = 1 << 28;

/// One spatial dimension of a convolution: output position `o` reads input positions
/// `o * stride - pad + dilation * f` for filter taps `f`.
#[derive(Clone, Copy, Debug)]
pub struct Axis {
    input: i32,
    filter: i32,
    stride: i32,
    dilation: i32,
    pad: i32,
    pub out: usize,
}

impl Axis {
    /// The dimension for `padding`, checked against the output tensor's size `out`.
    pub fn new(
        padding: Padding,
        input: i32,
        filter: i32,
        stride: i32,
        dilation: i32,
        out: i32,
        op: OpCode,
    ) -> Result<Self> {
        let bad = |why| Error::InvalidOperator(op, why);
        let (computed, pad) = out_size_and_padding(padding, input, filter, stride, dilation)
            .ok_or(bad(why!("invalid stride, dilation or filter size")))?;
        if computed != out || out < 1 {
            return Err(bad(why!("output size does not match the input, filter, stride and padding")));
        }
        let (last, reach) = ((out as i64 - 1) * stride as i64, filter as i64 * dilation as i64);
        if last > COORD_LIMIT || reach > COORD_LIMIT || pad as i64 > COORD_LIMIT {
            return Err(bad(why!("stride or dilation too large")));
        }
        Ok(Axis { input, filter, stride, dilation, pad, out: out as usize })
    }

    /// For output position `o`: the input position of tap 0 (may be negative) and the
    /// taps `first..end` that fall inside the input, in order.
    #[inline(always)]
    pub fn window(&self, o: usize) -> (i32, usize, usize) {
        let origin = o as i32 * self.stride - self.pad;
        let d = self.dilation;
        // First tap with origin + d f >= 0.
        let first = if origin >= 0 { 0 } else { (d - 1 - origin) / d };
        // Taps with origin + d f <= input - 1.
        let room = self.input - origin;
        let end = if room <= 0 { 0 } else { ((room - 1) / d + 1).min(self.filter) };
        (origin, first as usize, end.max(first) as usize)
    }

    /// The input position of tap `f` of the window at `origin`.
    #[inline(always)]
    pub fn at(&self, origin: i32, f: usize) -> usize {
        (origin + self.dilation * f as i32) as usize
    }

    #[cfg(feature = "op-conv-2d")]
    pub fn dilation(&self) -> i32 {
        self.dilation
    }

    pub fn filter(&self) -> usize {
        self.filter as usize
    }
}

/// The options both operators carry, by field id.
pub struct WindowOptions {
    pub padding: u8,
    pub stride_w: u8,
    pub stride_h: u8,
    pub activation: u8,
    pub dilation_w: u8,
    pub dilation_h: u8,
}

/// Padding, (rows, columns) strides, dilations and the fused activation. The schema
/// defaults strides to 0 (which TFLite refuses) and dilations to 1.
pub fn read_options(
    buf: crate::flatbuffer::Buf<'_>,
    options: &Table,
    ids: &WindowOptions,
    op: OpCode,
) -> Result<(Padding, [i32; 2], [i32; 2], Activation)> {
    let bad = |why| Error::InvalidOperator(op, why);
    let padding = Padding::from_schema(options.u8_or(buf, ids.padding as usize, 0)?)
        .ok_or(bad(why!("unknown padding")))?;
    let strides =
        [options.i32_or(buf, ids.stride_h as usize, 0)?, options.i32_or(buf, ids.stride_w as usize, 0)?];
    let dilations =
        [options.i32_or(buf, ids.dilation_h as usize, 1)?, options.i32_or(buf, ids.dilation_w as usize, 1)?];
    let activation = Activation::from_schema(options.u8_or(buf, ids.activation as usize, 0)?)
        .ok_or(bad(why!("unsupported fused activation")))?;
    Ok((padding, strides, dilations, activation))
}

/// The four dimensions of a rank-4 tensor.
pub fn dims4(t: &TensorInfo<'_>, what: crate::Why, op: OpCode) -> Result<[usize; 4]> {
    if t.rank() != 4 {
        return Err(Error::InvalidOperator(op, what));
    }
    Ok([t.dim(0) as usize, t.dim(1) as usize, t.dim(2) as usize, t.dim(3) as usize])
}

/// Stores the prepared requantization ([`Requant::to_bytes`]) of each output channel
/// (the filter's dimension `dim`) at `at + stride * c` (bytes): TFLite's effective scale,
/// in double, `input_scale * filter_scale[c] / output_scale`; a per-tensor filter
/// scale is broadcast to every channel. Per-channel scales must lie along `dim`.
pub fn channel_multipliers(
    input: &TensorInfo<'_>,
    filter: &TensorInfo<'_>,
    output: &TensorInfo<'_>,
    dim: usize,
    persist: &mut Persist<'_>,
    (at, stride): (usize, usize),
    op: OpCode,
) -> Result<()> {
    let bad = |why| Error::InvalidOperator(op, why);
    let channels = if dim < filter.rank() { filter.dim(dim) as usize } else { 0 };
    if filter.zero_point != 0 {
        return Err(bad(why!("int8 weights must be symmetric (zero point 0)")));
    }
    if filter.is_per_channel()
        && (filter.quantized_dimension as usize != dim || filter.channel_count() != channels)
    {
        return Err(bad(why!("per-channel weight scales must lie along the output channels")));
    }
    let layer = crate::scale::InOut::new(input.scale, output.scale);
    for c in 0..channels {
        let scale = filter.scale_of(c);
        // Validation (a model's load, its arena size) needs no multiplier, only its range.
        if persist.counting_only() {
            if layer.shift_above_30(scale) {
                return Err(bad(why!("requantization scale out of range")));
            }
            continue;
        }
        let (m, s) =
            checked_multiplier(crate::scale::multiplier(input.scale, scale, output.scale, false), op)?;
        persist.put_words(at + stride * c, Requant::new(m, s).to_words());
    }
    Ok(())
}

/// TFLite's `ActivationFunctionWithMinMax`: max, then min (NaN passes through).
#[inline(always)]
pub fn clamp_f32(v: f32, min: f32, max: f32) -> f32 {
    let v = if v < min { min } else { v };
    if max < v {
        max
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn padding_matches_tflite() {
        use Padding::*;
        // (padding, input, filter, stride, dilation) -> (out, pad)
        let cases = [
            ((Same, 10, 3, 1, 1), (10, 1)),
            ((Same, 10, 3, 2, 1), (5, 0)), // total 1: nothing before, one after
            ((Same, 9, 3, 2, 1), (5, 1)),
            ((Same, 9, 3, 1, 2), (9, 2)), // effective filter 5
            ((Same, 8, 4, 1, 1), (8, 1)), // total 3: one before, two after
            ((Same, 1, 5, 3, 1), (1, 2)),
            ((Valid, 10, 3, 2, 1), (4, 0)),
            ((Valid, 9, 3, 2, 2), (3, 0)),
            ((Valid, 10, 10, 1, 1), (1, 0)),
            ((Valid, 3, 6, 2, 1), (0, 0)), // C++ division truncates -1 / 2 to 0
        ];
        for ((p, i, f, s, d), want) in cases {
            assert_eq!(out_size_and_padding(p, i, f, s, d), Some(want), "{p:?} {i} {f} {s} {d}");
        }
        assert_eq!(out_size_and_padding(Same, 10, 3, 0, 1), None);
        assert_eq!(out_size_and_padding(Same, 10, 3, 1, 0), None);
        assert_eq!(out_size_and_padding(Valid, 10, 0, 1, 1), None);
        assert_eq!(out_size_and_padding(Valid, 3, 10, 1, 1), None, "negative output size");
    }

    #[test]
    fn window_taps_are_exactly_those_inside_the_input() {
        for padding in [Padding::Same, Padding::Valid] {
            for input in 1..9 {
                for filter in 1..6 {
                    for stride in 1..4 {
                        for dilation in 1..4 {
                            let Some((out, pad)) =
                                out_size_and_padding(padding, input, filter, stride, dilation)
                            else {
                                continue;
                            };
                            if out < 1 {
                                continue;
                            }
                            let axis =
                                Axis::new(padding, input, filter, stride, dilation, out, OpCode::CONV_2D)
                                    .unwrap();
                            for o in 0..out as usize {
                                let (origin, first, end) = axis.window(o);
                                assert_eq!(origin, o as i32 * stride - pad);
                                let inside: std::vec::Vec<usize> = (0..filter as usize)
                                    .filter(|&f| (0..input).contains(&(origin + dilation * f as i32)))
                                    .collect();
                                let got: std::vec::Vec<usize> = (first..end).collect();
                                assert_eq!(
                                    got, inside,
                                    "{padding:?} {input} {filter} {stride} {dilation} o={o}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn axis_refuses_mismatched_or_huge_geometry() {
        let op = OpCode::CONV_2D;
        assert!(Axis::new(Padding::Same, 10, 3, 1, 1, 9, op).is_err(), "output size mismatch");
        assert!(Axis::new(Padding::Same, 10, 3, 1 << 30, 1, 1, op).is_ok(), "one output: stride unused");
        assert!(Axis::new(Padding::Same, 3, 2, 1, i32::MAX, 3, op).is_err(), "dilation overflows");
    }

    #[test]
    fn float_clamp_is_max_then_min() {
        assert_eq!(clamp_f32(-1.0, 0.0, 6.0), 0.0);
        assert_eq!(clamp_f32(7.0, 0.0, 6.0), 6.0);
        assert!(clamp_f32(f32::NAN, 0.0, 6.0).is_nan());
    }
}
