//! Operators: each module validates and prepares its operator once (`prepare`) and
//! computes it on every invoke (`eval`). Preparation is where TFLM's `Prepare` work
//! happens — multipliers, shifts, activation ranges — so that invoke only computes.

#[cfg(any(feature = "op-add", feature = "op-mul"))]
mod add_mul;
#[cfg(feature = "op-concatenation")]
mod concatenation;
#[cfg(feature = "op-conv-2d")]
mod conv;
#[cfg(any(feature = "op-conv-2d", feature = "op-depthwise-conv-2d"))]
mod conv_common;
#[cfg(feature = "op-depthwise-conv-2d")]
mod depthwise_conv;
#[cfg(any(feature = "op-softmax", feature = "op-logistic", feature = "op-tanh"))]
mod fixed_point;
#[cfg(any(feature = "op-softmax", feature = "op-logistic", feature = "op-tanh"))]
mod float_math;
#[cfg(feature = "op-fully-connected-int8")]
mod fully_connected;
#[cfg(any(feature = "op-logistic", feature = "op-tanh"))]
mod logistic_tanh;
#[cfg(feature = "op-mean")]
mod mean;
#[cfg(feature = "op-pad")]
mod pad;
#[cfg(any(feature = "op-average-pool-2d", feature = "op-max-pool-2d"))]
mod pool;
#[cfg(any(feature = "op-quantize", feature = "op-dequantize"))]
mod quantize;
#[cfg(feature = "op-relu")]
mod relu;
#[cfg(feature = "op-reshape")]
mod reshape;
#[cfg(feature = "op-softmax")]
mod softmax;

use crate::flatbuffer::Fb;
use crate::schema::{DType, Model, OpCode, OperatorInfo, TensorInfo};
use crate::{Error, Result};

/// Where a tensor's bytes are: in the model (constants) or in the arena.
#[derive(Clone, Copy, Debug, Default)]
pub struct Slot {
    pub offset: usize,
    pub len: usize,
}

/// Everything an operator needs at invoke time (stored inline, whatever the size of
/// the others: there is no heap to box a large one).
#[derive(Clone, Copy, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum OpData<'m> {
    #[cfg(any(feature = "op-add", feature = "op-mul"))]
    AddMul(add_mul::AddMul<'m>),
    #[cfg(any(feature = "op-logistic", feature = "op-tanh"))]
    LogisticTanh(logistic_tanh::LogisticTanh),
    #[cfg(feature = "op-softmax")]
    Softmax(softmax::Softmax),
    #[cfg(feature = "op-conv-2d")]
    Conv(conv::Conv<'m>),
    #[cfg(feature = "op-depthwise-conv-2d")]
    DepthwiseConv(depthwise_conv::DepthwiseConv<'m>),
    #[cfg(feature = "op-fully-connected-int8")]
    FullyConnected(fully_connected::FullyConnected<'m>),
    #[cfg(any(feature = "op-quantize", feature = "op-dequantize"))]
    Quantize(quantize::Quantize),
    #[cfg(feature = "op-relu")]
    Relu(relu::Relu),
    #[cfg(feature = "op-reshape")]
    Reshape(reshape::Reshape),
    #[cfg(any(feature = "op-average-pool-2d", feature = "op-max-pool-2d"))]
    Pool(pool::Pool),
    #[cfg(feature = "op-pad")]
    Pad(pad::Pad),
    #[cfg(feature = "op-mean")]
    Mean(mean::Mean),
    #[cfg(feature = "op-concatenation")]
    Concatenation(concatenation::Concatenation<'m>),
    /// Keeps the enum inhabited and the lifetime used in a build with no operators.
    #[doc(hidden)]
    _Model(core::marker::PhantomData<&'m ()>),
}

/// The tensors an operator reads and writes, by index (-1 for an absent input).
pub fn tensor_index(model: &Model<'_>, v: crate::flatbuffer::Vector, i: usize) -> Fb<Option<usize>> {
    if i >= v.len() {
        return Ok(None);
    }
    let t = v.i32(model.buf(), i)?;
    Ok(if t < 0 { None } else { Some(t as usize) })
}

/// Operator tensor `i` of `v`, which must be present.
#[inline(always)]
#[allow(dead_code)] // a build with FULLY_CONNECTED alone uses `required_into` only
pub fn required<'m>(
    model: &Model<'m>,
    v: crate::flatbuffer::Vector,
    i: usize,
    op: OpCode,
) -> Result<(usize, TensorInfo<'m>)> {
    let mut info = TensorInfo::EMPTY;
    let index = required_into(model, v, i, op, &mut info)?;
    Ok((index, info))
}

/// What every data-moving operator requires of its one input and one output: both
/// live in the arena (neither is a constant). That they are different tensors is
/// checked for every operator at load.
#[allow(dead_code)] // only PAD, MEAN and the pools call it
pub fn separate_io(op: OpCode, in_t: &TensorInfo<'_>, out_t: &TensorInfo<'_>) -> Result<()> {
    if in_t.data.is_some() || out_t.data.is_some() {
        return Err(Error::InvalidOperator(op, why!("input or output is a constant")));
    }
    Ok(())
}

/// [`required`] into `info` (the caller's storage); returns the tensor's index.
#[inline(always)]
#[allow(dead_code)] // only FULLY_CONNECTED calls it
pub fn required_into<'m>(
    model: &Model<'m>,
    v: crate::flatbuffer::Vector,
    i: usize,
    op: OpCode,
    info: &mut TensorInfo<'m>,
) -> Result<usize> {
    let index =
        tensor_index(model, v, i)?.ok_or(Error::InvalidOperator(op, why!("a required tensor is missing")))?;
    model.read_tensor(index, info)?;
    Ok(index)
}

/// Checks the operator's version against the highest this engine implements.
fn check_version(op: &OperatorInfo, max: i32) -> Result<()> {
    if op.version < 1 || op.version > max {
        return Err(Error::UnsupportedVersion(op.code, op.version));
    }
    Ok(())
}

/// The arena's persistent part: data that preparation computes once and invoke
/// reads (per-channel multipliers, say). It counts every byte asked for, whether or
/// not its buffer holds them (nothing is stored past its end; without a buffer it only
/// counts): so loading validates, and an interpreter whose arena is too small still
/// learns the exact size it needs.
pub struct Persist<'a> {
    buf: Option<&'a mut [u8]>,
    pub used: usize,
}

impl<'a> Persist<'a> {
    pub fn counting() -> Self {
        Persist { buf: None, used: 0 }
    }

    pub fn new(buf: &'a mut [u8]) -> Self {
        Persist { buf: Some(buf), used: 0 }
    }

    /// Whether this only counts (a model's validation at load, or its arena size): then
    /// what would be stored need not be computed.
    #[cfg(weighted)]
    pub fn counting_only(&self) -> bool {
        self.buf.is_none()
    }

    /// Reserves `n` bytes, 4-aligned; returns their offset (past the buffer's end when
    /// it is too small: the caller checks `used` against the buffer after preparing).
    // Only the operators with persistent data call it (a single-operator build may have none).
    #[cfg_attr(not(persistent_data), allow(dead_code))]
    pub fn alloc(&mut self, n: usize) -> Result<usize> {
        let at = self.used;
        self.used = at.checked_add(n.next_multiple_of(4)).ok_or(Error::TooLarge(why!("persistent data")))?;
        Ok(at)
    }

    #[allow(dead_code)] // a build with DEPTHWISE_CONV_2D alone does not use it
    pub fn put_i32(&mut self, at: usize, v: i32) {
        self.put(at, &v.to_le_bytes());
    }

    /// [`Persist::put`] of `N` bytes known at compile time: stored in place (word
    /// stores, no `memcpy` call), for the per-channel data of convolutions.
    #[cfg(any(feature = "op-conv-2d", feature = "op-depthwise-conv-2d"))]
    #[inline(always)]
    pub fn put_array<const N: usize>(&mut self, at: usize, bytes: [u8; N]) {
        let slot = self.buf.as_deref_mut().and_then(|b| b.get_mut(at..)).and_then(|b| b.first_chunk_mut());
        if let Some(slot) = slot {
            *slot = bytes;
        }
    }

    /// [`Persist::put_array`] of little-endian words, each one store.
    #[cfg(any(feature = "op-conv-2d", feature = "op-depthwise-conv-2d"))]
    #[inline(always)]
    pub fn put_words<const N: usize>(&mut self, at: usize, words: [i32; N]) {
        let slot = self.buf.as_deref_mut().and_then(|b| b.get_mut(at..)).and_then(|b| b.get_mut(..4 * N));
        if let Some(slot) = slot {
            for (b, w) in slot.chunks_exact_mut(4).zip(words) {
                b.copy_from_slice(&w.to_le_bytes());
            }
        }
    }

    /// Stores `bytes` at `at` (reserved with [`Persist::alloc`]).
    // Not inlined: inlined, it grew `prepare`'s frame, the sine image's stack peak, by 8 bytes.
    #[inline(never)]
    pub fn put(&mut self, at: usize, bytes: &[u8]) {
        if let Some(slot) = self.buf.as_deref_mut().and_then(|b| b.get_mut(at..at + bytes.len())) {
            slot.copy_from_slice(bytes);
        }
    }
}

/// Validates and prepares one operator.
#[inline(never)]
#[cfg_attr(not(persistent_data), allow(unused_variables))]
pub fn prepare<'m>(model: &Model<'m>, op: &OperatorInfo, persist: &mut Persist<'_>) -> Result<OpData<'m>> {
    match op.code {
        // ADD v3+ and SOFTMAX, LOGISTIC, TANH v3 are int16; MUL v3 is int8 with a
        // rescale of 1 or more, which the int8 path handles.
        #[cfg(feature = "op-add")]
        OpCode::ADD => {
            check_version(op, 2)?;
            add_mul::prepare(model, op, persist).map(OpData::AddMul)
        }
        #[cfg(feature = "op-mul")]
        OpCode::MUL => {
            check_version(op, 3)?;
            add_mul::prepare(model, op, persist).map(OpData::AddMul)
        }
        #[cfg(feature = "op-softmax")]
        OpCode::SOFTMAX => {
            check_version(op, 2)?;
            softmax::prepare(model, op).map(OpData::Softmax)
        }
        #[cfg(feature = "op-logistic")]
        OpCode::LOGISTIC => {
            check_version(op, 2)?;
            logistic_tanh::prepare(model, op, persist).map(OpData::LogisticTanh)
        }
        #[cfg(feature = "op-tanh")]
        OpCode::TANH => {
            check_version(op, 2)?;
            logistic_tanh::prepare(model, op, persist).map(OpData::LogisticTanh)
        }
        // Version 6 (grouped filters) is the highest implemented; 4 (int16) and 5
        // (hybrid) are refused by the type checks, 7 (int4 weights) by the loader.
        #[cfg(feature = "op-conv-2d")]
        OpCode::CONV_2D => {
            check_version(op, 6)?;
            conv::prepare(model, op, persist).map(OpData::Conv)
        }
        // Version 3 (int8; 2 is dilation) is the highest implemented: 4 and 6 are
        // hybrid, 5 int16, 7 int4 weights.
        #[cfg(feature = "op-depthwise-conv-2d")]
        OpCode::DEPTHWISE_CONV_2D => {
            check_version(op, 3)?;
            depthwise_conv::prepare(model, op, persist).map(OpData::DepthwiseConv)
        }
        #[cfg(feature = "op-fully-connected-int8")]
        OpCode::FULLY_CONNECTED => {
            check_version(op, 9)?;
            fully_connected::prepare(model, op, persist).map(OpData::FullyConnected)
        }
        #[cfg(feature = "op-quantize")]
        OpCode::QUANTIZE => {
            check_version(op, 2)?;
            quantize::prepare(model, op).map(OpData::Quantize)
        }
        #[cfg(feature = "op-dequantize")]
        OpCode::DEQUANTIZE => {
            check_version(op, 2)?;
            quantize::prepare(model, op).map(OpData::Quantize)
        }
        #[cfg(feature = "op-relu")]
        OpCode::RELU | OpCode::RELU6 => {
            check_version(op, 2)?;
            relu::prepare(model, op).map(OpData::Relu)
        }
        #[cfg(feature = "op-reshape")]
        OpCode::RESHAPE => {
            check_version(op, 1)?;
            reshape::prepare(model, op).map(OpData::Reshape)
        }
        // Pools, MEAN and CONCATENATION: version 2 is int8, 3 int16 (and CONCATENATION 4
        // uint32), types the engine does not have.
        #[cfg(feature = "op-average-pool-2d")]
        OpCode::AVERAGE_POOL_2D => {
            check_version(op, 2)?;
            pool::prepare(model, op).map(OpData::Pool)
        }
        #[cfg(feature = "op-max-pool-2d")]
        OpCode::MAX_POOL_2D => {
            check_version(op, 2)?;
            pool::prepare(model, op).map(OpData::Pool)
        }
        // PAD version 4 (five dimensions) is the highest implemented; 3 (int16) is
        // refused by the type checks.
        #[cfg(feature = "op-pad")]
        OpCode::PAD => {
            check_version(op, 4)?;
            pad::prepare(model, op).map(OpData::Pad)
        }
        #[cfg(feature = "op-mean")]
        OpCode::MEAN => {
            check_version(op, 2)?;
            mean::prepare(model, op).map(OpData::Mean)
        }
        #[cfg(feature = "op-concatenation")]
        OpCode::CONCATENATION => {
            check_version(op, 2)?;
            concatenation::prepare(model, op).map(OpData::Concatenation)
        }
        other => Err(Error::UnsupportedOperator(other)),
    }
}

/// Where tensor `t` lies in the arena, from the plan.
#[allow(dead_code)] // CONV_2D alone indexes the plan (its bound is proved at load)
pub fn slot(slots: &[Slot], t: usize) -> Result<Slot> {
    slots.get(t).copied().ok_or(Error::BadTensor)
}

/// The operator's input tensor bytes and output bytes; the planner guarantees that
/// an operator's arena inputs and output do not overlap.
pub struct Io<'a> {
    /// The planned tensors.
    pub arena: &'a mut [u8],
    /// What preparation stored.
    #[cfg_attr(not(persistent_data), allow(dead_code))]
    pub persistent: &'a [u8],
}

impl Io<'_> {
    /// Input bytes and the output's bytes, all in the arena. Inputs may share bytes
    /// with each other but not with the output (the planner keeps an operator's
    /// inputs and output apart, since all are alive at that operator).
    #[allow(dead_code)] // only the operators with several inputs call it
    pub fn inputs_and_output<const N: usize>(
        &mut self,
        inputs: [Slot; N],
        output: Slot,
    ) -> Result<([&[u8]; N], &mut [u8])> {
        let arena = &mut *self.arena;
        let (before, rest) = arena.split_at_mut(output.offset.min(arena.len()));
        let (out, after) = rest.split_at_mut(output.len.min(rest.len()));
        if out.len() != output.len {
            return Err(Error::BadTensor);
        }
        let (before, after): (&[u8], &[u8]) = (before, after);
        let after_start = output.offset + output.len;
        let mut views: [&[u8]; N] = [&[]; N];
        for (view, slot) in views.iter_mut().zip(inputs) {
            let end = slot.offset.checked_add(slot.len).ok_or(Error::BadTensor)?;
            *view = if end <= output.offset {
                before.get(slot.offset..end)
            } else if slot.offset >= after_start {
                after.get(slot.offset - after_start..end - after_start)
            } else {
                None
            }
            .ok_or(Error::BadTensor)?;
        }
        Ok((views, out))
    }

    /// One input's bytes and the output's bytes: [`Io::inputs_and_output`] for one
    /// input, in fewer steps (one split of the arena where the later tensor starts).
    #[allow(dead_code)] // ADD, MUL and CONCATENATION alone do not use it
    pub fn split(&mut self, input: Slot, output: Slot) -> Result<(&[u8], &mut [u8])> {
        let arena = &mut *self.arena;
        // Wrapped sums (impossible for planned slots) fail the range checks below.
        let (in_end, out_end) =
            (input.offset.wrapping_add(input.len), output.offset.wrapping_add(output.len));
        let views = if in_end <= output.offset {
            let (before, after) = arena.split_at_mut_checked(output.offset).ok_or(Error::BadTensor)?;
            (before.get(input.offset..in_end), after.get_mut(..output.len))
        } else if out_end <= input.offset {
            let (before, after) = arena.split_at_mut_checked(input.offset).ok_or(Error::BadTensor)?;
            (after.get(..input.len), before.get_mut(output.offset..out_end))
        } else {
            (None, None)
        };
        match views {
            (Some(input), Some(output)) => Ok((input, output)),
            _ => Err(Error::BadTensor),
        }
    }
}

/// Runs one prepared operator; `slots` locates each tensor in the arena.
pub fn eval(data: &OpData<'_>, slots: &[Slot], arena: &mut [u8], persistent: &[u8]) -> Result<()> {
    let mut io = Io { arena, persistent };
    match data {
        #[cfg(any(feature = "op-add", feature = "op-mul"))]
        OpData::AddMul(d) => d.eval(slots, &mut io),
        #[cfg(any(feature = "op-logistic", feature = "op-tanh"))]
        OpData::LogisticTanh(d) => d.eval(slots, &mut io),
        #[cfg(feature = "op-softmax")]
        OpData::Softmax(d) => d.eval(slots, &mut io),
        #[cfg(feature = "op-conv-2d")]
        OpData::Conv(d) => d.eval(slots, &mut io),
        #[cfg(feature = "op-depthwise-conv-2d")]
        OpData::DepthwiseConv(d) => d.eval(slots, &mut io),
        #[cfg(feature = "op-fully-connected-int8")]
        OpData::FullyConnected(d) => d.eval(slots, &mut io),
        #[cfg(any(feature = "op-quantize", feature = "op-dequantize"))]
        OpData::Quantize(d) => d.eval(slots, &mut io),
        #[cfg(feature = "op-relu")]
        OpData::Relu(d) => d.eval(slots, &mut io),
        #[cfg(feature = "op-reshape")]
        OpData::Reshape(d) => d.eval(slots, &mut io),
        #[cfg(any(feature = "op-average-pool-2d", feature = "op-max-pool-2d"))]
        OpData::Pool(d) => d.eval(slots, &mut io),
        #[cfg(feature = "op-pad")]
        OpData::Pad(d) => d.eval(slots, &mut io),
        #[cfg(feature = "op-mean")]
        OpData::Mean(d) => d.eval(slots, &mut io),
        #[cfg(feature = "op-concatenation")]
        OpData::Concatenation(d) => d.eval(slots, &mut io),
        OpData::_Model(_) => Ok(()),
    }
}

/// f32 values of a tensor's bytes (little-endian).
#[allow(dead_code)] // an int8-only build has no float kernel
pub fn f32_at(bytes: &[u8], i: usize) -> f32 {
    let b = [bytes[4 * i], bytes[4 * i + 1], bytes[4 * i + 2], bytes[4 * i + 3]];
    f32::from_le_bytes(b)
}

/// An i32 stored by [`Persist::put_i32`].
/// (0 past the end: never a panic).
#[cfg_attr(not(weighted), allow(dead_code))]
pub fn i32_at(bytes: &[u8], at: usize) -> i32 {
    bytes.get(at..).and_then(|b| b.first_chunk()).map_or(0, |b| i32::from_le_bytes(*b))
}

/// The [`crate::quant::Requant`] stored at `at` by [`crate::quant::Requant::to_bytes`]
/// (a requantization by 0 past the end: never a panic).
#[cfg(any(feature = "op-conv-2d", feature = "op-depthwise-conv-2d"))]
#[inline(always)]
pub fn requant_at(bytes: &[u8], at: usize) -> crate::quant::Requant {
    let entry = bytes.get(at..).and_then(|b| b.first_chunk());
    entry.map_or(crate::quant::Requant::new(0, 0), crate::quant::Requant::from_bytes)
}

/// [`crate::quant::quantize_multiplier`] for a requantization scale, refusing scales of
/// 2^30 and more, whose left shift would overflow (undefined in TFLM's C++).
#[allow(dead_code)] // a build without the float-scaled operators does not use it
pub fn requant_multiplier(real: f64, op: OpCode) -> Result<(i32, i32)> {
    checked_multiplier(crate::quant::quantize_multiplier(real), op)
}

/// The same check on a multiplier and shift computed otherwise.
#[allow(dead_code)] // a build without FULLY_CONNECTED and the convolutions does not use it
pub fn checked_multiplier((m, s): (i32, i32), op: OpCode) -> Result<(i32, i32)> {
    if s > 30 {
        return Err(Error::InvalidOperator(op, why!("requantization scale out of range")));
    }
    Ok((m, s))
}

/// Input 2 of a convolution or fully connected operator: the optional constant bias,
/// one value per output channel, f32 for float operators and int32 for int8 ones. Its
/// description is read into `b`, storage the caller no longer needs.
#[inline(always)]
#[cfg_attr(not(weighted), allow(dead_code))]
pub fn bias<'m>(
    model: &Model<'m>,
    op: &OperatorInfo,
    channels: usize,
    dtype: DType,
    b: &mut TensorInfo<'m>,
) -> Result<Option<&'m [u8]>> {
    let bad = |why| Error::InvalidOperator(op.code, why);
    let Some(i) = tensor_index(model, op.inputs, 2)? else { return Ok(None) };
    model.read_tensor(i, b)?;
    if b.elements() != channels {
        return Err(bad(why!("bias size is not the number of output channels")));
    }
    if b.dtype != dtype {
        return Err(bad(why!("bias must be f32 for float operators, int32 for int8 ones")));
    }
    b.data.ok_or(bad(why!("bias must be constant"))).map(Some)
}

/// sum(w[i] x[i]) over int8 values in wrapping int32 (over the shorter slice), four
/// at a time: byte loads that sign-extend (`ldrsb`) and a multiply-accumulate per
/// value, no bounds check inside the loop and no call.
#[inline(always)]
#[allow(dead_code)] // a build with DEPTHWISE_CONV_2D alone does not use it
pub fn dot_i8(mut w: &[u8], mut x: &[u8]) -> i32 {
    let v = |b: &u8| *b as i8 as i32;
    let mut acc = 0i32;
    while let ([w0, w1, w2, w3, w_rest @ ..], [x0, x1, x2, x3, x_rest @ ..]) = (w, x) {
        acc = acc
            .wrapping_add(v(w0) * v(x0))
            .wrapping_add(v(w1) * v(x1))
            .wrapping_add(v(w2) * v(x2))
            .wrapping_add(v(w3) * v(x3));
        (w, x) = (w_rest, x_rest);
    }
    while let ([w0, w_rest @ ..], [x0, x_rest @ ..]) = (w, x) {
        acc = acc.wrapping_add(v(w0) * v(x0));
        (w, x) = (w_rest, x_rest);
    }
    acc
}

/// `s[i] + wi . x` for four rows of int8 values in wrapping int32 (over the shortest
/// slice): each value of `x` is loaded once for the four rows. Not inlined: alone, the
/// loop keeps its 13 values in registers and walks the rows with post-incremented loads.
#[inline(never)]
#[cfg(all(target_arch = "arm", any(feature = "op-fully-connected-int8", feature = "op-conv-2d")))]
pub fn dot4_i8(s: [i32; 4], w0: &[u8], w1: &[u8], w2: &[u8], w3: &[u8], x: &[u8]) -> [i32; 4] {
    let v = |b: u8| b as i8 as i32;
    let [mut s0, mut s1, mut s2, mut s3] = s;
    for ((((&x, &p), &q), &r), &t) in x.iter().zip(w0).zip(w1).zip(w2).zip(w3) {
        let x = v(x);
        s0 = s0.wrapping_add(v(p) * x);
        s1 = s1.wrapping_add(v(q) * x);
        s2 = s2.wrapping_add(v(r) * x);
        s3 = s3.wrapping_add(v(t) * x);
    }
    [s0, s1, s2, s3]
}

/// [`dot4_i8`] elsewhere (the host): four separate sums, each a reduction the compiler
/// vectorizes (the same wrapping sums, in another order).
#[cfg(all(not(target_arch = "arm"), any(feature = "op-fully-connected-int8", feature = "op-conv-2d")))]
pub fn dot4_i8(s: [i32; 4], w0: &[u8], w1: &[u8], w2: &[u8], w3: &[u8], x: &[u8]) -> [i32; 4] {
    let dot = |w: &[u8]| {
        x.iter().zip(w).fold(0i32, |acc, (&a, &b)| acc.wrapping_add(i32::from(a as i8) * i32::from(b as i8)))
    };
    [
        s[0].wrapping_add(dot(w0)),
        s[1].wrapping_add(dot(w1)),
        s[2].wrapping_add(dot(w2)),
        s[3].wrapping_add(dot(w3)),
    ]
}

/// The most weights whose sum preparation folds into the bias (about 2 instructions a
/// weight once, at setup); a larger layer adds the input offset inside its loop
/// instead, as TFLM's reference kernel does (a quarter of an instruction a weight at
/// every invoke: each input value is loaded once for four units or channels). CONV_2D
/// decides the same way.
#[cfg(any(fc_offset_in_loop, feature = "op-conv-2d"))]
pub const FOLD_MAX: usize = 1024;

/// `s[i] + wi . (x + offset)` for four rows of int8 weights in wrapping int32, as
/// [`dot4_i8`] (each input value loaded, and offset, once for the four rows). Not
/// inlined, for the same reason. `FIXED_128`: the offset is 128 (an input zero point
/// of -128, as after a ReLU), an immediate operand; the loop then has a register to
/// spare and reloads no offset from the stack.
#[cfg(all(target_arch = "arm", any(fc_offset_in_loop, feature = "op-conv-2d")))]
#[inline(never)]
pub fn dot4_offset<const FIXED_128: bool>(
    s: [i32; 4],
    w0: &[u8],
    w1: &[u8],
    w2: &[u8],
    w3: &[u8],
    x: &[u8],
    offset: i32,
) -> [i32; 4] {
    let v = |b: u8| b as i8 as i32;
    let offset = if FIXED_128 { 128 } else { offset };
    let [mut s0, mut s1, mut s2, mut s3] = s;
    for ((((&x, &p), &q), &r), &t) in x.iter().zip(w0).zip(w1).zip(w2).zip(w3) {
        let x = v(x) + offset;
        s0 = s0.wrapping_add(v(p) * x);
        s1 = s1.wrapping_add(v(q) * x);
        s2 = s2.wrapping_add(v(r) * x);
        s3 = s3.wrapping_add(v(t) * x);
    }
    [s0, s1, s2, s3]
}

/// [`dot4_offset`] elsewhere (the host): four separate sums the compiler vectorizes,
/// as [`dot4_i8`]'s.
#[cfg(all(not(target_arch = "arm"), any(fc_offset_in_loop, feature = "op-conv-2d")))]
pub fn dot4_offset<const FIXED_128: bool>(
    s: [i32; 4],
    w0: &[u8],
    w1: &[u8],
    w2: &[u8],
    w3: &[u8],
    x: &[u8],
    offset: i32,
) -> [i32; 4] {
    // x + offset once per block, as i16 (an int8 value plus an offset of -127..=128,
    // the negated int8 zero point), then four i16 x i8 reductions over the block.
    let offset = if FIXED_128 { 128 } else { offset };
    let mut shifted = [0i16; 256];
    let mut sums = s;
    for (i, block) in x.chunks(shifted.len()).enumerate() {
        for (d, &v) in shifted.iter_mut().zip(block) {
            *d = (i32::from(v as i8) + offset) as i16;
        }
        let start = i * shifted.len();
        for (sum, w) in sums.iter_mut().zip([w0, w1, w2, w3]) {
            let w = w.get(start..).unwrap_or_default();
            let dot = shifted
                .iter()
                .zip(block)
                .zip(w)
                .fold(0i32, |acc, ((&a, _), &b)| acc.wrapping_add(i32::from(a) * i32::from(b as i8)));
            *sum = sum.wrapping_add(dot);
        }
    }
    sums
}

/// `w . (x + offset)` for one row (the units or channels left over after the groups
/// of four).
#[cfg(all(target_arch = "arm", any(fc_offset_in_loop, feature = "op-conv-2d")))]
pub fn dot_offset(w: &[u8], x: &[u8], offset: i32) -> i32 {
    x.iter().zip(w).fold(0i32, |acc, (&a, &b)| acc.wrapping_add((a as i8 as i32 + offset) * (b as i8 as i32)))
}

/// [`dot_offset`] elsewhere (the host): `w . x + offset x sum(w)`, the same wrapping
/// sum regrouped, as two reductions the compiler vectorizes (with the offset inside,
/// it did not: AD on the host took twice as long).
#[cfg(all(not(target_arch = "arm"), any(fc_offset_in_loop, feature = "op-conv-2d")))]
pub fn dot_offset(w: &[u8], x: &[u8], offset: i32) -> i32 {
    let dot =
        x.iter().zip(w).fold(0i32, |acc, (&a, &b)| acc.wrapping_add(i32::from(a as i8) * i32::from(b as i8)));
    let sum = w.iter().take(x.len()).fold(0i32, |acc, &b| acc.wrapping_add(i32::from(b as i8)));
    dot.wrapping_add(offset.wrapping_mul(sum))
}

/// `s[i] + wi . u` for four rows of int8 weights and unsigned bytes `u` (a patch of
/// `x + 128`), as [`dot4_i8`]: the same loop with zero-extending loads, so an input
/// offset of 128 costs nothing in it.
#[inline(never)]
#[cfg(all(target_arch = "arm", feature = "op-conv-2d"))]
pub fn dot4_u8(s: [i32; 4], w0: &[u8], w1: &[u8], w2: &[u8], w3: &[u8], x: &[u8]) -> [i32; 4] {
    let v = |b: u8| b as i8 as i32;
    let [mut s0, mut s1, mut s2, mut s3] = s;
    for ((((&x, &p), &q), &r), &t) in x.iter().zip(w0).zip(w1).zip(w2).zip(w3) {
        let x = x as i32;
        s0 = s0.wrapping_add(v(p) * x);
        s1 = s1.wrapping_add(v(q) * x);
        s2 = s2.wrapping_add(v(r) * x);
        s3 = s3.wrapping_add(v(t) * x);
    }
    [s0, s1, s2, s3]
}

/// [`dot4_u8`] elsewhere (the host): four separate sums the compiler vectorizes.
#[cfg(all(not(target_arch = "arm"), feature = "op-conv-2d"))]
pub fn dot4_u8(s: [i32; 4], w0: &[u8], w1: &[u8], w2: &[u8], w3: &[u8], x: &[u8]) -> [i32; 4] {
    [
        s[0].wrapping_add(dot_u8(w0, x)),
        s[1].wrapping_add(dot_u8(w1, x)),
        s[2].wrapping_add(dot_u8(w2, x)),
        s[3].wrapping_add(dot_u8(w3, x)),
    ]
}

/// `w . u` for one row of int8 weights and unsigned bytes `u`.
#[cfg(feature = "op-conv-2d")]
pub fn dot_u8(w: &[u8], x: &[u8]) -> i32 {
    x.iter().zip(w).fold(0i32, |acc, (&a, &b)| acc.wrapping_add(a as i32 * (b as i8 as i32)))
}

/// The one input and one output of an element-wise operator, the input not a
/// constant (constants stay in the model and get no arena bytes).
#[cfg(any(feature = "op-quantize", feature = "op-dequantize", feature = "op-relu"))]
pub fn unary<'m>(
    model: &Model<'m>,
    op: &OperatorInfo,
) -> Result<(usize, TensorInfo<'m>, usize, TensorInfo<'m>)> {
    let bad = |why| Error::InvalidOperator(op.code, why);
    if op.inputs.len() != 1 || op.outputs.len() != 1 {
        return Err(bad(why!("needs one input and one output")));
    }
    let (input, in_t) = required(model, op.inputs, 0, op.code)?;
    let (output, out_t) = required(model, op.outputs, 0, op.code)?;
    if in_t.data.is_some() {
        return Err(bad(why!("a constant input is not supported")));
    }
    Ok((input, in_t, output, out_t))
}
