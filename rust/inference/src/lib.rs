//! A TFLite inference engine for the secure world: `no_std`, no heap, bit-exact with
//! TensorFlow Lite Micro's reference kernels for int8 and in step with them for f32.
//!
//! [`Model::load`] validates a flatbuffer completely before anything runs: offsets and
//! lengths, tensor shapes and types, buffer sizes, quantization parameters, operator
//! versions and every operator's own constraints (by running its preparation).
//! [`Interpreter::new`] (or [`Interpreter::empty`] then [`Interpreter::init`], in
//! storage the caller owns) plans the caller's arena (tensors whose lifetimes do not
//! overlap share bytes) and prepares each operator once; [`Interpreter::invoke`] then
//! only computes. A model that goes straight to an interpreter may be read with
//! [`Model::parse`] instead, which leaves the operators' own constraints to that one
//! preparation: `init` refuses what `load` would have, before anything runs.
//!
//! The operators linked into an image are chosen with cargo features (`op-*`), as
//! TFLM's op resolver chooses them; a model that needs another one is refused at load
//! with the operator's name.
//!
//! The arena is the caller's: [`Model::arena_bytes`] says exactly how large it must be
//! before anything is planned, and an arena too small is refused with that same
//! figure. Every error's `Display` says what to do.
//!
//! ```
//! use inference::{DType, Interpreter, Model};
//!
//! // The sine model of this project's sample (int8, three FULLY_CONNECTED).
//! let bytes: &[u8] = include_bytes!("../testdata/sine_int8.tflite");
//! let model = Model::load(bytes)?;
//! // Interpreter<T, O> holds at most T tensors and O operators, without a heap.
//! const T: usize = 16;
//! let needed = model.arena_bytes::<T>()?;
//! let mut arena = [0u8; 1024];
//! let mut interp = Interpreter::<T, 8>::new(model, &mut arena[..needed])?;
//!
//! // Quantize x as the input tensor says, run, dequantize y.
//! let (input, output) = (interp.input_info(0)?, interp.output_info(0)?);
//! assert_eq!((input.dtype, output.dtype), (DType::I8, DType::I8));
//! let x = core::f32::consts::FRAC_PI_2;
//! let q = (x / input.scale).round() as i32 + input.zero_point;
//! interp.input(0)?[0] = q.clamp(-128, 127) as i8 as u8;
//! interp.invoke()?;
//! let y = (interp.output(0)?[0] as i8 as i32 - output.zero_point) as f32 * output.scale;
//! assert!((y - 1.0).abs() < 0.1, "sin(pi/2) = {y}");
//!
//! // One byte less is refused, with the size to give.
//! let err = Interpreter::<T, 8>::new(model, &mut arena[..needed - 1]).err();
//! assert_eq!(err, Some(inference::Error::ArenaTooSmall { needed }));
//! # Ok::<(), inference::Error>(())
//! ```
#![no_std]
#![warn(unnameable_types)]
// Without any operator (the non-secure side links this crate for the schema's names
// only) the kernels' shared helpers have no caller (`operators`: build.rs).
#![cfg_attr(not(operators), allow(dead_code, unused_variables, unused_mut))]

/// `why!("text")`: an error's [`Why`] (nothing at all in a `terse-errors` build).
macro_rules! why {
    ($text:literal $(,)?) => {{
        #[cfg(not(feature = "terse-errors"))]
        let why = $crate::Why::from_static(&$text);
        #[cfg(feature = "terse-errors")]
        let why = $crate::Why::TERSE;
        why
    }};
}

mod error;
mod flatbuffer;
mod interpreter;
mod kernels;
mod planner;
pub mod quant;
mod read;
mod scale;
mod schema;
#[cfg(test)]
mod tests;
mod view;

pub use error::{Error, Result, Why};
pub use interpreter::Interpreter;
pub use schema::{DType, Dims, Model, OpCode, TensorInfo, MAX_DIMS};
pub use view::{Operator, TensorIndices};
