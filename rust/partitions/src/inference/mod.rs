//! The inference partition (`secure_api::inference` documents its messages): the
//! models compiled into the secure image, one inference per call, the result as CBOR.
//!
//! Each model is validated when the partition starts; one that fails stays listed as
//! not loaded and refuses inferences. Inputs are checked (one value, finite, inside the
//! model's input range) before anything runs.

use cose_results::encode_plain;
use inference::{DType, Interpreter, Model};
use psa::{Message, Service, ServiceInfo, Status};
use secure_api::inference as api;
use sha2::{Digest, Sha256};

/// A model as compiled in.
pub struct ModelSource {
    pub label: &'static str,
    pub bytes: &'static [u8],
    /// The range of the model's one input value (the sine models: radians).
    pub input_range: (f32, f32),
}

/// The models of this image.
pub static MODELS: &[ModelSource] = &[
    ModelSource {
        label: "sine",
        bytes: include_bytes!("../../../models/sine/sine_int8.tflite"),
        input_range: (0.0, core::f32::consts::TAU),
    },
    ModelSource {
        label: "sine_f32",
        bytes: include_bytes!("../../../models/sine/sine_float.tflite"),
        input_range: (0.0, core::f32::consts::TAU),
    },
];

/// Arena for one inference; the sine models need about 200 bytes.
pub const ARENA_BYTES: usize = 2048;
const MAX_TENSORS: usize = 32;
const MAX_OPERATORS: usize = 16;

struct Loaded {
    source: &'static ModelSource,
    model: Option<Model<'static>>,
    info: api::ModelInfo,
}

pub struct InferenceService {
    models: [Option<Loaded>; 4],
    arena: [u8; ARENA_BYTES],
}

impl InferenceService {
    /// Validates and plans every compiled-in model.
    pub fn new() -> Self {
        let mut service = InferenceService { models: [None, None, None, None], arena: [0; ARENA_BYTES] };
        for (slot, source) in service.models.iter_mut().zip(MODELS) {
            let mut info = api::ModelInfo {
                label: [0; api::LABEL_MAX],
                active: false,
                operator_count: 0,
                arena_bytes: 0,
                input_low: source.input_range.0,
                input_high: source.input_range.1,
                sha256: Sha256::digest(source.bytes).into(),
                operators: [0; api::MAX_OPERATORS],
            };
            let n = source.label.len().min(api::LABEL_MAX);
            info.label[..n].copy_from_slice(&source.label.as_bytes()[..n]);
            let model = Model::load(source.bytes).ok();
            if let Some(m) = model {
                for i in 0..m.operator_count() {
                    let Ok(op) = m.operator(i) else { continue };
                    let code = op.code.builtin_code().unwrap_or(0xff);
                    let known = &info.operators[..usize::from(info.operator_count)];
                    if !known.contains(&code) && usize::from(info.operator_count) < api::MAX_OPERATORS {
                        info.operators[usize::from(info.operator_count)] = code;
                        info.operator_count += 1;
                    }
                }
                if let Ok(interp) = Interpreter::<MAX_TENSORS, MAX_OPERATORS>::new(m, &mut service.arena) {
                    info.arena_bytes = interp.arena_used() as u32;
                    info.active = one_value(&interp);
                }
            }
            *slot = Some(Loaded { source, model: model.filter(|_| info.active), info });
        }
        service
    }

    /// Each model's info, for the boot log.
    pub fn models(&self) -> impl Iterator<Item = &api::ModelInfo> {
        self.models.iter().flatten().map(|m| &m.info)
    }

    fn dispatch(&mut self, msg: &mut dyn Message) -> Result<(), Status> {
        match msg.msg_type() {
            api::MODEL_INFO => {
                if msg.out_size(0) < api::MODEL_INFO_LEN || msg.in_size(1) != 0 {
                    return Err(Status::ERROR_INVALID_ARGUMENT);
                }
                let index = crate::read_u32(msg, 0)? as usize;
                let loaded =
                    self.models.get(index).and_then(Option::as_ref).ok_or(Status::ERROR_DOES_NOT_EXIST)?;
                msg.write(0, &loaded.info.encode())
            }
            api::INFER => self.infer(msg),
            _ => Err(Status::ERROR_NOT_SUPPORTED),
        }
    }

    fn infer(&mut self, msg: &mut dyn Message) -> Result<(), Status> {
        // Sizes first, then each input read once.
        let label_len = msg.in_size(0);
        if !(1..=api::LABEL_MAX).contains(&label_len)
            || msg.in_size(1) != 4
            || msg.in_size(2) != 4
            || msg.in_size(3) != 0
        {
            return Err(Status::ERROR_INVALID_ARGUMENT);
        }
        let mut label = [0u8; api::LABEL_MAX];
        let label = psa::read_exact(msg, 0, &mut label[..label_len])?;
        let mut value = [0u8; 4];
        let value = f32::from_le_bytes(psa::read_exact(msg, 1, &mut value)?.try_into().unwrap_or([0; 4]));
        let format = crate::read_u32(msg, 2)?;
        let loaded = self
            .models
            .iter()
            .flatten()
            .find(|m| m.source.label.as_bytes() == label)
            .ok_or(Status::ERROR_DOES_NOT_EXIST)?;
        let model = loaded.model.ok_or(Status::ERROR_BAD_STATE)?;
        let (low, high) = loaded.source.input_range;
        if !(value >= low && value <= high) {
            return Err(Status::ERROR_INVALID_ARGUMENT); // NaN fails both comparisons
        }
        if format != api::FORMAT_CBOR {
            return Err(Status::ERROR_NOT_SUPPORTED);
        }
        let output = run(model, &mut self.arena, value).ok_or(Status::ERROR_GENERIC_ERROR)?;
        let mut result = [0u8; api::RESULT_MAX];
        let n = encode_plain(output, &mut result).map_err(|_| Status::ERROR_GENERIC_ERROR)?;
        if msg.out_size(0) < n {
            return Err(Status::ERROR_BUFFER_TOO_SMALL);
        }
        msg.write(0, &result[..n])
    }
}

impl Default for InferenceService {
    fn default() -> Self {
        Self::new()
    }
}

/// The models served here take one value and give one value.
fn one_value<const T: usize, const O: usize>(interp: &Interpreter<'_, '_, T, O>) -> bool {
    let ok = |info: inference::Result<inference::TensorInfo<'_>>| info.is_ok_and(|t| t.elements() == 1);
    ok(interp.input_info(0)) && ok(interp.output_info(0)) && interp.input_info(1).is_err()
}

/// One inference: quantizes the input as the model's input tensor says, runs, and
/// dequantizes the output.
fn run(model: Model<'static>, arena: &mut [u8], x: f32) -> Option<f32> {
    let mut interp = Interpreter::<MAX_TENSORS, MAX_OPERATORS>::new(model, arena).ok()?;
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

impl Service for InferenceService {
    fn info(&self) -> ServiceInfo {
        crate::stateless_info(api::SERVICE)
    }

    fn handle(&mut self, msg: &mut dyn Message) -> i32 {
        crate::reply_status(self.dispatch(msg))
    }
}
