//! The crate's one error type, what each error says to do, and [`Why`], its texts.

use crate::OpCode;

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

/// Errors of loading, planning and running a model. Each one's [`Display`] says what
/// was wrong and what to do about it.
///
/// [`Display`]: core::fmt::Display
///
/// ```
/// # let bytes = include_bytes!("../testdata/sine_int8.tflite");
/// let model = inference::Model::load(bytes)?;
/// let err = inference::Interpreter::<16, 4>::new(model, &mut [0u8; 100]).err().unwrap();
/// assert_eq!(
///     err.to_string(),
///     "the arena is too small for this model: give exactly 224 bytes \
///      (what `Model::arena_bytes` computes before init)"
/// );
/// let err = inference::Model::load(&bytes[..100]).err().unwrap();
/// assert!(err.to_string().starts_with("not a TFLite model this engine reads"));
/// # Ok::<(), inference::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The flatbuffer is not a well-formed TFLite model; says what was wrong.
    Malformed(Why),
    /// An operator this build does not include (or does not know), by name.
    UnsupportedOperator(OpCode),
    /// An operator version this engine does not implement.
    UnsupportedVersion(OpCode, i32),
    /// A tensor type this engine does not handle (the schema's `TensorType` code).
    UnsupportedType(u8),
    /// An operator's inputs, outputs or options break its constraints.
    InvalidOperator(OpCode, Why),
    /// The model has more tensors or operators than the interpreter was sized for
    /// (says which).
    TooLarge(Why),
    /// The arena is smaller than the model needs: `needed` is the exact size to give,
    /// the one [`Model::arena_bytes`](crate::Model::arena_bytes) computes beforehand.
    ArenaTooSmall { needed: usize },
    /// A tensor index or size given by the caller does not match the model.
    BadTensor,
}

/// The `op-*` feature that builds `op`'s kernel in, if this crate has one.
fn feature_of(op: OpCode) -> Option<&'static str> {
    Some(match op {
        OpCode::ADD => "op-add",
        OpCode::AVERAGE_POOL_2D => "op-average-pool-2d",
        OpCode::CONCATENATION => "op-concatenation",
        OpCode::CONV_2D => "op-conv-2d",
        OpCode::DEPTHWISE_CONV_2D => "op-depthwise-conv-2d",
        OpCode::DEQUANTIZE => "op-dequantize",
        OpCode::FULLY_CONNECTED => "op-fully-connected",
        OpCode::LOGISTIC => "op-logistic",
        OpCode::MAX_POOL_2D => "op-max-pool-2d",
        OpCode::MEAN => "op-mean",
        OpCode::MUL => "op-mul",
        OpCode::PAD => "op-pad",
        OpCode::QUANTIZE => "op-quantize",
        OpCode::RELU | OpCode::RELU6 => "op-relu",
        OpCode::RESHAPE => "op-reshape",
        OpCode::SOFTMAX => "op-softmax",
        OpCode::TANH => "op-tanh",
        _ => return None,
    })
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Error::Malformed(why) => write!(
                f,
                "not a TFLite model this engine reads ({why}): give a whole .tflite file of \
                 schema version 3 with one subgraph, as the TFLite converter writes it"
            ),
            Error::UnsupportedOperator(op) => match feature_of(op) {
                Some(feature) => write!(
                    f,
                    "operator {op:?} is not built in: enable the inference crate's `{feature}` feature"
                ),
                None => write!(
                    f,
                    "operator {op:?} is not implemented by this engine: convert the model with the \
                     operators its `op-*` features name"
                ),
            },
            Error::UnsupportedVersion(op, version) => write!(
                f,
                "{op:?} version {version} is not implemented (int16 variants are not): convert the \
                 model to int8 or float32"
            ),
            Error::UnsupportedType(code) => write!(
                f,
                "tensor type {code} (TFLite TensorType) is not supported: convert the model to \
                 int8 (with int32 biases) or float32"
            ),
            Error::InvalidOperator(op, why) => write!(
                f,
                "{op:?} breaks its constraints ({why}): the model must be one TFLM's reference \
                 kernels accept; convert it again"
            ),
            Error::TooLarge(why) => write!(
                f,
                "the model is too large for this interpreter ({why}): raise `Interpreter<T, O>`'s \
                 bounds (T: tensors, O: operators) to at least the model's \
                 `Model::tensor_count` and `Model::operator_count`"
            ),
            Error::ArenaTooSmall { needed } => write!(
                f,
                "the arena is too small for this model: give exactly {needed} bytes (what \
                 `Model::arena_bytes` computes before init)"
            ),
            Error::BadTensor => f.write_str(
                "no such input or output, or its bytes do not match the model: use an index \
                 below `Model::inputs().len()` or `Model::outputs().len()`",
            ),
        }
    }
}

impl core::error::Error for Error {}

/// The crate's result.
pub type Result<T> = core::result::Result<T, Error>;
