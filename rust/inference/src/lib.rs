//! A TFLite inference engine for the secure world: `no_std`, no heap, bit-exact with
//! TensorFlow Lite Micro's reference kernels for int8 and in step with them for f32.
//!
//! [`Model::load`] validates a flatbuffer completely before anything runs: offsets and
//! lengths, tensor shapes and types, buffer sizes, quantization parameters, operator
//! versions and every operator's own constraints (by running its preparation).
//! [`Interpreter::new`] (or [`Interpreter::empty`] then [`Interpreter::init`], in
//! storage the caller owns) plans the caller's arena (tensors whose lifetimes do not
//! overlap share bytes) and prepares each operator once; [`Interpreter::invoke`] then
//! only computes.
//!
//! The operators linked into an image are chosen with cargo features (`op-*`), as
//! TFLM's op resolver chooses them; a model that needs another one is refused at load
//! with the operator's name.
#![no_std]
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

mod flatbuffer;
mod interpreter;
mod kernels;
mod planner;
pub mod quant;
mod scale;
mod schema;
#[cfg(test)]
mod tests;

pub use interpreter::Interpreter;
pub use schema::{DType, Model, OpCode, TensorInfo};

/// Why an operation failed, in words: a static text. One pointer wide, so that an
/// [`Error`] is 8 bytes and a `Result<(), Error>` comes back in two registers. A
/// build with the `terse-errors` feature (a benchmark image, whose flash is
/// measured) keeps no text: `Why` is then empty and its text "" (tests, partitions
/// and the fuzzer keep the texts).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Why(#[cfg(not(feature = "terse-errors"))] &'static &'static str);

impl Why {
    #[doc(hidden)]
    #[cfg(not(feature = "terse-errors"))]
    pub const fn from_static(text: &'static &'static str) -> Self {
        Why(text)
    }

    #[doc(hidden)]
    #[cfg(feature = "terse-errors")]
    pub const TERSE: Why = Why();

    pub fn text(self) -> &'static str {
        #[cfg(not(feature = "terse-errors"))]
        return self.0;
        #[cfg(feature = "terse-errors")]
        ""
    }
}

impl core::fmt::Debug for Why {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.text(), f)
    }
}

impl core::fmt::Display for Why {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.text())
    }
}

/// Errors of loading, planning and running a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The flatbuffer is not a well-formed TFLite model; says what was wrong.
    Malformed(Why),
    /// An operator this build does not include (or does not know), by name.
    UnsupportedOperator(OpCode),
    /// An operator version this engine does not implement.
    UnsupportedVersion(OpCode, i32),
    /// A tensor type this engine does not handle.
    UnsupportedType(u8),
    /// An operator's inputs, outputs or options break its constraints.
    InvalidOperator(OpCode, Why),
    /// The model has more tensors or operators than the interpreter was sized for.
    TooLarge(Why),
    /// The arena is smaller than the plan needs.
    ArenaTooSmall { needed: usize },
    /// A tensor index or size given by the caller does not match the model.
    BadTensor,
}

pub type Result<T> = core::result::Result<T, Error>;
