//! The inference partition (`secure_api::inference` documents its messages): the
//! models compiled into the secure image, one inference per call, the result as CBOR
//! claims, signed (COSE_Sign1) or signed and encrypted (COSE_Encrypt).
//!
//! Each model is validated when the partition starts; one that fails stays listed as
//! not loaded and refuses inferences. Inputs are checked (one value, finite, inside the
//! model's input range; or a whole input tensor of exactly the model's size, checked
//! before any of it is read) before anything runs, and the result's claims carry that
//! input as the request gave it next to the output (a tensor by its SHA-256). Every result takes a number from the
//! [`counter::ResultCounter`]; signing is the identity partition's (key 0x5002).

pub mod counter;
pub mod results;

use crate::Platform;
use cose_results::Claims;
use inference::{DType, Interpreter, Model};
/// The comb table of the ENCRYPT0 recipient's key that [`InferenceService::new`] fills.
pub use p256_sign::PublicKeyTable;
use psa::{Message, Service, ServiceInfo, Status};
use results::{Recipient, Signer};
use secure_api::inference as api;
use sha2::{Digest, Sha256};

/// The interpreter as results name it (claim -80001).
pub const ENGINE: &str = concat!("secure-inference ", env!("CARGO_PKG_VERSION"));
/// The ahead-of-time engine (`aot-models`) as results name it.
pub const ENGINE_COMPILED: &str = concat!("secure-inference-aot ", env!("CARGO_PKG_VERSION"));

/// The recipient of ENCRYPT0 results as the image was built: the SEC1 point in hex in
/// `SECURE_INFER_RESULT_RECIPIENT`, else the demo recipient (keys/demo-recipient.pem,
/// whose private key is public: see keys/README.md). A malformed value fails the build.
pub const BUILD_RECIPIENT: [u8; 65] = match option_env!("SECURE_INFER_RESULT_RECIPIENT") {
    Some(hex) => match parse_point_hex(hex) {
        Some(point) => point,
        None => panic!(
            "SECURE_INFER_RESULT_RECIPIENT must be 130 hex digits: an uncompressed P-256 point (04...)"
        ),
    },
    None => match parse_point_hex(DEMO_RECIPIENT) {
        Some(point) => point,
        None => panic!("the demo recipient is malformed"),
    },
};

const DEMO_RECIPIENT: &str = "041f4af89af4f526492ddb75009c75803fb56877aa4970f20178511daee149dcc1\
                              dacd71b07b1fa30e51016a1572a63b83fa075914955e45fe7fe7038e25d1ef07";

/// A SEC1 uncompressed P-256 point: 130 hex digits starting with `04` (also at compile
/// time, for the build's recipient).
pub const fn parse_point_hex(hex: &str) -> Option<[u8; 65]> {
    let h = hex.as_bytes();
    if h.len() != 130 {
        return None;
    }
    let mut out = [0u8; 65];
    let mut i = 0;
    while i < 65 {
        let (Some(hi), Some(lo)) = (hex_digit(h[2 * i]), hex_digit(h[2 * i + 1])) else {
            return None;
        };
        out[i] = hi << 4 | lo;
        i += 1;
    }
    if out[0] != 0x04 {
        return None;
    }
    Some(out)
}

const fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A model as compiled in.
pub struct ModelSource {
    pub label: &'static str,
    pub bytes: &'static [u8],
    /// The range of the model's one input value (the sine models: radians).
    pub input_range: (f32, f32),
    pub engine: Engine,
}

/// Which engine serves a model.
#[derive(Clone, Copy)]
pub enum Engine {
    /// The interpreter, over the model's flatbuffer, planned and prepared at boot.
    Interpreter,
    /// The model compiled into Rust ahead of time (`aot-models`) from the same
    /// flatbuffer: no loader, no arena to plan.
    Compiled(Compiled),
}

/// A model compiled ahead of time with one int8 input and one int8 output.
#[derive(Clone, Copy)]
pub struct Compiled {
    /// The input's and output's scale and zero point.
    pub input: (f32, i32),
    pub output: (f32, i32),
    /// The engine's bytes (arena, input and output), for `infer model`.
    pub bytes: u32,
    /// One inference.
    pub run: fn(i8) -> i8,
}

/// MLPerf Tiny's keyword-spotting model (`model-kws`; build.rs finds it).
#[cfg(kws_model)]
mod kws {
    include!(concat!(env!("OUT_DIR"), "/kws.rs"));
}

/// The sine model compiled ahead of time: its engine lives on the stack of the call
/// (34 bytes).
#[cfg(feature = "model-sine")]
fn sine_compiled(x: i8) -> i8 {
    let mut engine = aot_models::sine::Engine::new();
    engine.input()[0] = x;
    engine.invoke();
    engine.output()[0]
}

/// The models of this image, as its features chose them
/// (`CONFIG_SECURE_INFER_MODEL_*` on the device).
pub static MODELS: &[ModelSource] = &[
    #[cfg(feature = "model-sine")]
    ModelSource {
        label: "sine",
        bytes: include_bytes!("../../../../models/sine/sine_int8.tflite"),
        input_range: (0.0, core::f32::consts::TAU),
        engine: Engine::Interpreter,
    },
    #[cfg(feature = "model-sine-f32")]
    ModelSource {
        label: "sine_f32",
        bytes: include_bytes!("../../../../models/sine/sine_float.tflite"),
        input_range: (0.0, core::f32::consts::TAU),
        engine: Engine::Interpreter,
    },
    // The same int8 model through the other engine, as the original sample served
    // sine through TFLM and microTVM.
    #[cfg(feature = "model-sine")]
    ModelSource {
        label: "sine_aot",
        bytes: include_bytes!("../../../../models/sine/sine_int8.tflite"),
        input_range: (0.0, core::f32::consts::TAU),
        engine: Engine::Compiled(Compiled {
            input: (aot_models::sine::INPUT_SCALE, aot_models::sine::INPUT_ZERO_POINT),
            output: (aot_models::sine::OUTPUT_SCALE, aot_models::sine::OUTPUT_ZERO_POINT),
            bytes: (aot_models::sine::ARENA_BYTES
                + aot_models::sine::INPUT_BYTES
                + aot_models::sine::OUTPUT_BYTES) as u32,
            run: sine_compiled,
        }),
    },
    // Keyword spotting: 49x10 int8 MFCC features in (INFER_TENSOR), 12 class scores
    // out (silence, unknown, yes, no, up, down, left, right, on, off, stop, go).
    #[cfg(kws_model)]
    ModelSource { label: "kws", bytes: kws::MODEL, input_range: (0.0, 0.0), engine: Engine::Interpreter },
];

/// Arena bytes for all compiled-in models together: each model keeps its own part,
/// planned and prepared once at boot (the sine models use 224 and 128 bytes; keyword
/// spotting what build.rs planned for it, and 16 bytes for its part's alignment).
pub const ARENA_BYTES: usize = 2048 + KWS.arena;
const MAX_TENSORS: usize = max(KWS.tensors, 32);
const MAX_OPERATORS: usize = max(KWS.operators, 16);

/// `Ord::max` for constants (a comparison with a constant that is 0 without keyword
/// spotting would be one clippy calls absurd).
const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// What keyword spotting adds to the sizes above (nothing when it is left out).
struct Sizes {
    arena: usize,
    tensors: usize,
    operators: usize,
}
#[cfg(kws_model)]
const KWS: Sizes = Sizes { arena: kws::ARENA_BYTES + 16, tensors: kws::TENSORS, operators: kws::OPERATORS };
#[cfg(not(kws_model))]
const KWS: Sizes = Sizes { arena: 0, tensors: 0, operators: 0 };
/// The models compiled in, as a constant for the service's array.
const MODEL_COUNT: usize = MODELS.len();

/// A model prepared to run: its interpreter, planned and prepared at boot over its own
/// part of the service's arena, so that a request only computes.
type Prepared<'a> = Interpreter<'static, 'a, MAX_TENSORS, MAX_OPERATORS>;

struct Loaded<'a> {
    source: &'static ModelSource,
    /// `None` if the model was refused (see its `info`).
    interp: Option<Prepared<'a>>,
    info: api::ModelInfo,
}

/// The inference partition's state. `'a` is its arena's: the caller's storage for the
/// service's whole life (a static on the device).
pub struct InferenceService<'a, P: Platform> {
    platform: P,
    models: [Option<Loaded<'a>>; MODEL_COUNT],
    counter: counter::ResultCounter,
    /// Read from the identity partition at the first result.
    signer: Option<Signer>,
    /// `None` if the configured key is not a curve point: ENCRYPT0 is then refused.
    recipient: Option<Recipient<'a>>,
}

impl<'a, P: Platform> InferenceService<'a, P> {
    /// Validates, plans and prepares every compiled-in model, each over its own part of
    /// `arena` ([`ARENA_BYTES`] suffice for the compiled-in models; a model that does
    /// not fit is refused); `recipient` is the SEC1 point that ENCRYPT0 results are
    /// encrypted for ([`BUILD_RECIPIENT`] on the device), whose comb table is made
    /// once here in `recipient_table` (32 KiB, the caller's for the service's life, a
    /// static on the device; about 12 M instructions on the M33), so that each
    /// result's ECDH is a fixed-base multiplication.
    pub fn new(
        platform: P,
        recipient: &[u8],
        recipient_table: &'a mut PublicKeyTable,
        arena: &'a mut [u8],
    ) -> Self {
        let mut service = InferenceService {
            platform,
            models: [const { None }; MODEL_COUNT],
            counter: counter::ResultCounter::new(),
            signer: None,
            recipient: Recipient::new(recipient, recipient_table),
        };
        let mut free = arena;
        for (slot, source) in service.models.iter_mut().zip(MODELS) {
            let mut info = api::ModelInfo {
                label: [0; api::LABEL_MAX],
                active: false,
                operator_count: 0,
                engine: match source.engine {
                    Engine::Interpreter => api::ENGINE_INTERPRETER,
                    Engine::Compiled(_) => api::ENGINE_COMPILED,
                },
                arena_bytes: 0,
                input_low: source.input_range.0,
                input_high: source.input_range.1,
                sha256: Sha256::digest(source.bytes).into(),
                operators: [0; api::MAX_OPERATORS],
                input_bytes: 0,
            };
            let n = source.label.len().min(api::LABEL_MAX);
            info.label[..n].copy_from_slice(&source.label.as_bytes()[..n]);
            let loaded = slot.insert(Loaded { source, interp: None, info });
            // Each operator's own checks come with its one preparation, in init.
            let Ok(m) = Model::parse(source.bytes) else { continue };
            let info = &mut loaded.info;
            for i in 0..m.operator_count() {
                let Ok(op) = m.operator(i) else { continue };
                let code = op.code().builtin_code().unwrap_or(0xff);
                let known = &info.operators[..usize::from(info.operator_count)];
                if !known.contains(&code) && usize::from(info.operator_count) < api::MAX_OPERATORS {
                    info.operators[usize::from(info.operator_count)] = code;
                    info.operator_count += 1;
                }
            }
            if let Engine::Compiled(compiled) = source.engine {
                // Nothing to prepare: the model is code.
                info.arena_bytes = compiled.bytes;
                info.active = true;
                continue;
            }
            // Prepared in place over what is left of the arena, which then gives back
            // what its plan does not use to the next model.
            let interp = loaded.interp.insert(Prepared::empty(core::mem::take(&mut free)));
            let prepared = interp.init(m).is_ok();
            free = interp.release_unused();
            if prepared {
                info.arena_bytes = interp.arena_used() as u32;
                // What INFER_TENSOR takes; 0 for a one-value model, which takes INFER.
                if !one_value(interp) {
                    info.input_bytes = interp.input_info(0).map_or(0, |t| t.bytes() as u32);
                }
                info.active = interp.input_info(1).is_err() && interp.output_info(1).is_err();
            }
            if !info.active {
                loaded.interp = None;
            }
        }
        service
    }

    /// Each model's info, for the boot log.
    pub fn models(&self) -> impl Iterator<Item = &api::ModelInfo> {
        self.models.iter().flatten().map(|m| &m.info)
    }

    /// The thumbprint of the ENCRYPT0 recipient key, for the boot log; `None` if the
    /// configured key is not a curve point.
    pub fn recipient_kid(&self) -> Option<&[u8; 32]> {
        self.recipient.as_ref().map(Recipient::kid)
    }

    fn dispatch(&mut self, msg: &mut dyn Message) -> Result<(), Status> {
        match msg.msg_type() {
            api::MODEL_INFO => {
                crate::require(msg, 1, api::MODEL_INFO_LEN)?;
                let index = crate::read_u32(msg, 0)? as usize;
                let loaded =
                    self.models.get(index).and_then(Option::as_ref).ok_or(Status::ERROR_DOES_NOT_EXIST)?;
                msg.write(0, &loaded.info.encode())
            }
            api::INFER => self.infer(msg),
            api::INFER_TENSOR => self.infer_tensor(msg),
            _ => Err(Status::ERROR_NOT_SUPPORTED),
        }
    }

    fn infer(&mut self, msg: &mut dyn Message) -> Result<(), Status> {
        // Sizes first, then each input read once.
        let label_len = msg.in_size(0);
        let nonce_len = msg.in_size(2);
        if !(1..=api::LABEL_MAX).contains(&label_len)
            || msg.in_size(1) != api::INFER_REQUEST_LEN
            || !(nonce_len == 0 || (api::NONCE_MIN..=api::NONCE_MAX).contains(&nonce_len))
            || msg.in_size(3) != 0
        {
            return Err(Status::ERROR_INVALID_ARGUMENT);
        }
        let mut label = [0u8; api::LABEL_MAX];
        let label = psa::read_exact(msg, 0, &mut label[..label_len])?;
        let mut request = [0u8; api::INFER_REQUEST_LEN];
        psa::read_exact(msg, 1, &mut request)?;
        let request = api::InferRequest::decode(&request);
        let mut nonce = [0u8; api::NONCE_MAX];
        let nonce = psa::read_exact(msg, 2, &mut nonce[..nonce_len])?;
        let loaded = self
            .models
            .iter_mut()
            .flatten()
            .find(|m| m.source.label.as_bytes() == label)
            .ok_or(Status::ERROR_DOES_NOT_EXIST)?;
        if !loaded.info.active {
            return Err(Status::ERROR_BAD_STATE);
        }
        if loaded.interp.as_ref().is_some_and(|interp| !one_value(interp)) {
            return Err(Status::ERROR_NOT_SUPPORTED); // a tensor model: INFER_TENSOR
        }
        let (low, high) = loaded.source.input_range;
        if !(request.value >= low && request.value <= high) {
            return Err(Status::ERROR_INVALID_ARGUMENT); // NaN fails both comparisons
        }
        let recipient = match request.format {
            api::FORMAT_CBOR | api::FORMAT_SIGN1 => None,
            api::FORMAT_ENCRYPT0 => Some(self.recipient.ok_or(Status::ERROR_NOT_SUPPORTED)?),
            _ => return Err(Status::ERROR_INVALID_ARGUMENT),
        };
        if msg.out_size(0) < results::max_len(request.format, 1, 1) {
            return Err(Status::ERROR_BUFFER_TOO_SMALL);
        }
        let (output, engine) = match loaded.source.engine {
            Engine::Interpreter => {
                let interp = loaded.interp.as_mut().ok_or(Status::ERROR_BAD_STATE)?;
                (run(interp, request.value).ok_or(Status::ERROR_GENERIC_ERROR)?, ENGINE)
            }
            Engine::Compiled(compiled) => (run_compiled(&compiled, request.value), ENGINE_COMPILED),
        };
        let value = output.to_le_bytes();
        // The input as the request gave it (checked above): what the model was asked
        // about, before an int8 model quantizes it (docs/formats.md, `-80005`).
        let input = request.value.to_le_bytes();
        let (label, sha256) = (loaded.source.label, loaded.info.sha256);
        let made = Made { values: &value, inputs: &input, input_sha256: None, engine, label, sha256 };
        self.result(msg, made, request.format, recipient, nonce)
    }

    /// INFER_TENSOR: the input tensor's size is checked against the model's before any
    /// of it is read; then it is read once, straight into the model's input tensor.
    fn infer_tensor(&mut self, msg: &mut dyn Message) -> Result<(), Status> {
        let label_len = msg.in_size(0);
        let request_len = msg.in_size(1);
        let nonce_len = request_len.wrapping_sub(api::TENSOR_REQUEST_LEN);
        if !(1..=api::LABEL_MAX).contains(&label_len)
            || request_len < api::TENSOR_REQUEST_LEN
            || !(nonce_len == 0 || (api::NONCE_MIN..=api::NONCE_MAX).contains(&nonce_len))
            || msg.in_size(3) != 0
        {
            return Err(Status::ERROR_INVALID_ARGUMENT);
        }
        let mut label = [0u8; api::LABEL_MAX];
        let label = psa::read_exact(msg, 0, &mut label[..label_len])?;
        let mut request = [0u8; api::TENSOR_REQUEST_LEN + api::NONCE_MAX];
        let request = psa::read_exact(msg, 1, &mut request[..request_len])?;
        let (format, nonce) = request.split_at(api::TENSOR_REQUEST_LEN);
        let format = u32::from_le_bytes([format[0], format[1], format[2], format[3]]);
        let recipient = match format {
            api::FORMAT_CBOR | api::FORMAT_SIGN1 => None,
            api::FORMAT_ENCRYPT0 => Some(self.recipient.ok_or(Status::ERROR_NOT_SUPPORTED)?),
            _ => return Err(Status::ERROR_INVALID_ARGUMENT),
        };
        let loaded = self
            .models
            .iter_mut()
            .flatten()
            .find(|m| m.source.label.as_bytes() == label)
            .ok_or(Status::ERROR_DOES_NOT_EXIST)?;
        if !loaded.info.active {
            return Err(Status::ERROR_BAD_STATE);
        }
        // A one-value model (the sine models) takes INFER, whose input is checked
        // against its range; INFER_TENSOR is for the models that take a tensor.
        let Some(interp) = loaded.interp.as_mut().filter(|_| loaded.info.input_bytes != 0) else {
            return Err(Status::ERROR_NOT_SUPPORTED);
        };
        let outputs = interp.output_info(0).map_err(|_| Status::ERROR_GENERIC_ERROR)?.elements();
        if outputs > api::MAX_OUTPUT_VALUES {
            return Err(Status::ERROR_NOT_SUPPORTED);
        }
        if msg.in_size(2) != loaded.info.input_bytes as usize {
            return Err(Status::ERROR_INVALID_ARGUMENT);
        }
        if msg.out_size(0) < results::max_len(format, outputs, 8) {
            return Err(Status::ERROR_BUFFER_TOO_SMALL);
        }
        let input = interp.input(0).map_err(|_| Status::ERROR_GENERIC_ERROR)?;
        psa::read_exact(msg, 2, input)?;
        let input_sha256 = Some(Sha256::digest(&*input).into());
        interp.invoke().map_err(|_| Status::ERROR_GENERIC_ERROR)?;
        let mut values = [0u8; 4 * api::MAX_OUTPUT_VALUES];
        let n_values = dequantize(interp, &mut values).ok_or(Status::ERROR_GENERIC_ERROR)?;
        let (label, sha256) = (loaded.source.label, loaded.info.sha256);
        let made = Made {
            values: &values[..4 * n_values],
            inputs: &[],
            input_sha256,
            engine: ENGINE,
            label,
            sha256,
        };
        self.result(msg, made, format, recipient, nonce)
    }

    /// Numbers the result, encodes it in `format` (signed or encrypted as it asks) and
    /// writes it to the client's output.
    fn result(
        &mut self,
        msg: &mut dyn Message,
        made: Made<'_>,
        format: u32,
        recipient: Option<Recipient<'a>>,
        nonce: &[u8],
    ) -> Result<(), Status> {
        let signer = match self.signer {
            Some(signer) => signer,
            None => *self.signer.insert(results::signer(&mut self.platform)?),
        };
        let claims = Claims {
            values: made.values,
            inputs: made.inputs,
            input_sha256: made.input_sha256,
            engine: made.engine,
            model_sha256: made.sha256,
            model: made.label,
            counter: self.counter.take(&mut self.platform)?,
            device: signer.device,
            nonce: (!nonce.is_empty()).then_some(nonce),
        };
        let mut result = [0u8; api::RESULT_MAX];
        let n = match recipient {
            None if format == api::FORMAT_CBOR => results::cbor(&claims, &mut result)?,
            None => results::sign1(&mut self.platform, &signer, &claims, &mut result)?,
            Some(recipient) => {
                results::encrypt0(&mut self.platform, &signer, &recipient, &claims, &mut result)?
            }
        };
        if msg.out_size(0) < n {
            return Err(Status::ERROR_BUFFER_TOO_SMALL);
        }
        msg.write(0, &result[..n])
    }
}

/// What one inference made, for [`InferenceService::result`].
struct Made<'r> {
    values: &'r [u8],
    inputs: &'r [u8],
    input_sha256: Option<[u8; 32]>,
    engine: &'static str,
    label: &'static str,
    sha256: [u8; 32],
}

/// The output tensor, dequantized, as float32 little-endian into `out`; the number of
/// values.
fn dequantize(interp: &Prepared<'_>, out: &mut [u8; 4 * api::MAX_OUTPUT_VALUES]) -> Option<usize> {
    let info = interp.output_info(0).ok()?;
    let bytes = interp.output(0).ok()?;
    let n = info.elements();
    if n > api::MAX_OUTPUT_VALUES {
        return None;
    }
    for (i, slot) in out.chunks_exact_mut(4).take(n).enumerate() {
        let value = match info.dtype {
            DType::I8 => (*bytes.get(i)? as i8 as i32 - info.zero_point) as f32 * info.scale,
            DType::F32 => f32::from_le_bytes(bytes.get(4 * i..4 * i + 4)?.try_into().ok()?),
            _ => return None,
        };
        slot.copy_from_slice(&value.to_le_bytes());
    }
    Some(n)
}

/// The models served here take one value and give one value.
fn one_value<const T: usize, const O: usize>(interp: &Interpreter<'_, '_, T, O>) -> bool {
    let ok = |info: inference::Result<inference::TensorInfo<'_>>| info.is_ok_and(|t| t.elements() == 1);
    ok(interp.input_info(0)) && ok(interp.output_info(0)) && interp.input_info(1).is_err()
}

/// One inference on a compiled model, quantized and dequantized as [`run`] does it.
fn run_compiled(compiled: &Compiled, x: f32) -> f32 {
    let (scale, zero_point) = compiled.input;
    let q = (inference::quant::round_f32(x / scale) as i32).saturating_add(zero_point);
    let y = (compiled.run)(q.clamp(-128, 127) as i8);
    let (scale, zero_point) = compiled.output;
    (i32::from(y) - zero_point) as f32 * scale
}

/// One inference: quantizes the input as the model's input tensor says, runs, and
/// dequantizes the output.
fn run(interp: &mut Prepared<'_>, x: f32) -> Option<f32> {
    let input = interp.input_info(0).ok()?;
    match input.dtype {
        DType::I8 => {
            let q = (inference::quant::round_f32(x / input.scale) as i32).saturating_add(input.zero_point);
            interp.input(0).ok()?[0] = q.clamp(-128, 127) as i8 as u8;
        }
        DType::F32 => interp.input(0).ok()?.copy_from_slice(&x.to_le_bytes()),
        _ => return None,
    }
    interp.invoke().ok()?;
    let output = interp.output_info(0).ok()?;
    let bytes = interp.output(0).ok()?;
    match output.dtype {
        DType::I8 => Some((*bytes.first()? as i8 as i32 - output.zero_point) as f32 * output.scale),
        DType::F32 => Some(f32::from_le_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

impl<P: Platform> Service for InferenceService<'_, P> {
    fn info(&self) -> ServiceInfo {
        crate::stateless_info(api::SERVICE)
    }

    fn handle(&mut self, msg: &mut dyn Message) -> i32 {
        crate::reply_status(self.dispatch(msg))
    }
}

#[cfg(test)]
mod tests;
