//! The inference service: named models compiled into the secure image, one inference
//! per call, the result as CBOR claims, COSE_Sign1 or COSE_Encrypt (docs/formats.md).
//! Integers little-endian; input vectors must have exactly the sizes given.
//!
//! | message | inputs | output 0 | errors beyond size checks |
//! |---|---|---|---|
//! | [`MODEL_INFO`] | model index u32 | [`ModelInfo`] ([`MODEL_INFO_LEN`] B) | past the last model: DOES_NOT_EXIST |
//! | [`INFER`] | model label (1..=16 B), [`InferRequest`] (8 B), verifier nonce (none, or 8..=64 B) | the encoded result | unknown label: DOES_NOT_EXIST; NaN or outside the model's input range, unknown format: INVALID_ARGUMENT; a model with more than one input or output value: NOT_SUPPORTED; no recipient key built in (ENCRYPT0): NOT_SUPPORTED; result counter unreadable or rolled back: the storage's status |
//! | [`INFER_TENSOR`] | model label (1..=16 B), result format u32 then the verifier nonce (4 B, or 12..=68 B), the input tensor's bytes (exactly [`ModelInfo::input_bytes`]) | the encoded result, its input claimed by SHA-256 | as [`INFER`]; a one-value model (`input_bytes` 0: it takes INFER) or one of more than [`MAX_OUTPUT_VALUES`] output values: NOT_SUPPORTED; a tensor of another size: INVALID_ARGUMENT, before any of it is read |
//!
//! Three input vectors and one output: TF-M allows four in all per call. The output
//! must hold the longest result of the format asked for (with every text and the
//! nonce at their limits): a smaller one is refused with BUFFER_TOO_SMALL before the
//! model runs or a result number is used. [`INFER_RESULT_MAX`] and [`RESULT_MAX`]
//! always suffice.

use crate::ServiceId;
use psa::Sid;

pub const SERVICE: ServiceId =
    ServiceId { name: "Inference", sid: Sid(0x5EC1_0002), version: 1, stateless_index: 18 };

pub const MODEL_INFO: i32 = 1;
pub const INFER: i32 = 2;
/// One inference on an input tensor given whole, as the model takes it (int8 features
/// for keyword spotting, say): the result claims the tensor by its SHA-256.
pub const INFER_TENSOR: i32 = 3;
/// The most output values a result carries (a model's output tensor, dequantized).
pub const MAX_OUTPUT_VALUES: usize = 16;
/// The fixed part of [`INFER_TENSOR`]'s second input: the result format, u32.
pub const TENSOR_REQUEST_LEN: usize = 4;

pub const FORMAT_CBOR: u32 = 0;
pub const FORMAT_SIGN1: u32 = 1;
pub const FORMAT_ENCRYPT0: u32 = 2;

pub const LABEL_MAX: usize = 16;
/// Bounds of the verifier nonce (EAT `eat_nonce`).
pub const NONCE_MIN: usize = 8;
pub const NONCE_MAX: usize = 64;

/// The fixed part of an [`INFER`] request: the input value and the result format.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InferRequest {
    pub value: f32,
    pub format: u32,
}

pub const INFER_REQUEST_LEN: usize = 8;

impl InferRequest {
    pub fn encode(&self) -> [u8; INFER_REQUEST_LEN] {
        let mut out = [0u8; INFER_REQUEST_LEN];
        out[..4].copy_from_slice(&self.value.to_le_bytes());
        out[4..].copy_from_slice(&self.format.to_le_bytes());
        out
    }

    pub fn decode(b: &[u8; INFER_REQUEST_LEN]) -> Self {
        InferRequest {
            value: f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            format: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}
/// The most operators a model's info lists.
pub const MAX_OPERATORS: usize = 16;
/// The most bytes a result takes: an [`INFER_TENSOR`] result of
/// [`MAX_OUTPUT_VALUES`] values with the longest nonce, encrypted.
pub const RESULT_MAX: usize = 768;
/// The most bytes an [`INFER`] result takes (one value in, one out): what the
/// non-secure side's publisher queues.
pub const INFER_RESULT_MAX: usize = 512;

/// What `MODEL_INFO` returns, in this fixed layout:
///
/// | bytes | field |
/// |---|---|
/// | 16 | label, NUL-padded |
/// | 1 | status: 0 not loaded (refused at boot), 1 active |
/// | 1 | number of distinct operators (at most 16) |
/// | 1 | engine: [`ENGINE_INTERPRETER`] or [`ENGINE_COMPILED`] |
/// | 1 | reserved, 0 |
/// | 4 | arena bytes in use |
/// | 4 | input range low (f32) |
/// | 4 | input range high (f32) |
/// | 32 | SHA-256 of the model's flatbuffer |
/// | 16 | the distinct builtin operator codes, one byte each |
/// | 4 | bytes of the input tensor (what [`INFER_TENSOR`] takes) |
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelInfo {
    pub label: [u8; LABEL_MAX],
    pub active: bool,
    pub operator_count: u8,
    /// Which engine serves the model: [`ENGINE_INTERPRETER`] or [`ENGINE_COMPILED`].
    pub engine: u8,
    pub arena_bytes: u32,
    pub input_low: f32,
    pub input_high: f32,
    pub sha256: [u8; 32],
    pub operators: [u8; MAX_OPERATORS],
    /// The input tensor's size: what [`INFER_TENSOR`] must be given; 0 for a model
    /// that takes one value ([`INFER`]).
    pub input_bytes: u32,
}

pub const MODEL_INFO_LEN: usize = 84;

/// [`ModelInfo::engine`]: the interpreter, which loads the model's flatbuffer and
/// prepares it at boot.
pub const ENGINE_INTERPRETER: u8 = 0;
/// [`ModelInfo::engine`]: the model compiled into Rust ahead of time (no loader).
pub const ENGINE_COMPILED: u8 = 1;

impl ModelInfo {
    pub fn encode(&self) -> [u8; MODEL_INFO_LEN] {
        let mut out = [0u8; MODEL_INFO_LEN];
        out[..16].copy_from_slice(&self.label);
        out[16] = u8::from(self.active);
        out[17] = self.operator_count;
        out[18] = self.engine;
        out[20..24].copy_from_slice(&self.arena_bytes.to_le_bytes());
        out[24..28].copy_from_slice(&self.input_low.to_le_bytes());
        out[28..32].copy_from_slice(&self.input_high.to_le_bytes());
        out[32..64].copy_from_slice(&self.sha256);
        out[64..80].copy_from_slice(&self.operators);
        out[80..84].copy_from_slice(&self.input_bytes.to_le_bytes());
        out
    }

    /// Decodes what the secure world sent; `None` if malformed.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let b: &[u8; MODEL_INFO_LEN] = b.try_into().ok()?;
        let word = |at: usize| [b[at], b[at + 1], b[at + 2], b[at + 3]];
        let mut info = ModelInfo {
            label: [0; LABEL_MAX],
            active: b[16] == 1,
            operator_count: b[17],
            engine: b[18],
            arena_bytes: u32::from_le_bytes(word(20)),
            input_low: f32::from_le_bytes(word(24)),
            input_high: f32::from_le_bytes(word(28)),
            sha256: [0; 32],
            operators: [0; MAX_OPERATORS],
            input_bytes: u32::from_le_bytes(word(80)),
        };
        if b[16] > 1
            || usize::from(info.operator_count) > MAX_OPERATORS
            || b[18] > ENGINE_COMPILED
            || b[19] != 0
        {
            return None;
        }
        info.label.copy_from_slice(&b[..16]);
        info.sha256.copy_from_slice(&b[32..64]);
        info.operators.copy_from_slice(&b[64..80]);
        Some(info)
    }

    /// The engine's name, as `infer model` shows it.
    pub fn engine_name(&self) -> &'static str {
        match self.engine {
            ENGINE_COMPILED => "compiled ahead of time",
            _ => "interpreter",
        }
    }

    /// The label as text (up to the first NUL).
    pub fn label(&self) -> &str {
        let end = self.label.iter().position(|&c| c == 0).unwrap_or(LABEL_MAX);
        core::str::from_utf8(&self.label[..end]).unwrap_or("?")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(engine: u8) -> ModelInfo {
        let mut label = [0; LABEL_MAX];
        label[..8].copy_from_slice(b"sine_aot");
        ModelInfo {
            label,
            active: true,
            operator_count: 1,
            engine,
            arena_bytes: 34,
            input_low: 0.0,
            input_high: 6.25,
            sha256: [0xce; 32],
            operators: [9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            input_bytes: 1,
        }
    }

    #[test]
    fn model_info_round_trips_with_its_engine() {
        for engine in [ENGINE_INTERPRETER, ENGINE_COMPILED] {
            let bytes = info(engine).encode();
            // The engine's byte, after the label, status and operator count.
            assert_eq!(bytes[18], engine);
            // The input tensor's size last.
            assert_eq!(bytes[80..], [1, 0, 0, 0]);
            assert_eq!(ModelInfo::decode(&bytes), Some(info(engine)));
        }
        assert_eq!(info(ENGINE_COMPILED).engine_name(), "compiled ahead of time");
        assert_eq!(info(ENGINE_INTERPRETER).engine_name(), "interpreter");
        assert_eq!(info(0).label(), "sine_aot");
    }

    #[test]
    fn model_info_with_an_unknown_engine_or_reserved_byte_is_refused() {
        let good = info(ENGINE_COMPILED).encode();
        for (at, value) in [(18, 2), (18, 0xff), (19, 1), (16, 2), (17, 17)] {
            let mut bad = good;
            bad[at] = value;
            assert_eq!(ModelInfo::decode(&bad), None, "byte {at} = {value}");
        }
        assert_eq!(ModelInfo::decode(&good[..83]), None);
    }
}
