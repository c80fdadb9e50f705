//! An ahead-of-time compiler for int8 TFLite models: [`generate`] turns a `.tflite`
//! into Rust source for a build script to write into `OUT_DIR` and a crate to
//! `include!`. The generated engine has the model's shapes, quantization and
//! execution order fixed at compile time: weights are `static` arrays, the
//! requantization multipliers and shifts are constants, the bias already holds the
//! input offset's share, and the arena is planned here (an array the engine owns,
//! no loader, no planner, no validation at run time: every int8 input is valid).
//!
//! The arithmetic is TFLM's reference kernels', as `inference` computes it, so the
//! outputs are bit-exact with TFLM; the generated code needs only `core`.
//!
//! ```
//! let model = include_bytes!("../../../models/sine/sine_int8.tflite");
//! let source = inference_aot::generate(model, "sine_int8.tflite")?;
//! assert!(source.contains("pub struct Engine"));
//! assert!(source.contains("pub const ARENA_BYTES: usize = 32;"));
//! # Ok::<(), inference_aot::Error>(())
//! ```
//!
//! Operators: FULLY_CONNECTED (int8, per-tensor weights, fused NONE/RELU/RELU6/
//! RELU_N1_TO_1). Another operator is refused by name ([`Error::Unsupported`]);
//! each new one is a module beside `fully_connected.rs` and an arm in [`generate`].

use inference::{DType, Model, OpCode, TensorInfo};
use std::collections::BTreeMap;
use std::fmt::{self, Write};

mod fully_connected;
mod options;
mod plan;

/// What [`generate`] can refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `inference` refused the model (not a valid model, or an operator's constraints).
    Model(inference::Error),
    /// The flatbuffer's operator options could not be read.
    Malformed,
    /// Something this compiler does not generate yet: the operator (or "model") and what.
    Unsupported { op: &'static str, what: &'static str },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Model(e) => write!(f, "the model is refused: {e}"),
            Error::Malformed => f.write_str("an operator's options lie outside the model"),
            Error::Unsupported { op, what } => {
                write!(f, "{op}: {what} is not supported by the ahead-of-time compiler yet (the interpreter runs it)")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<inference::Error> for Error {
    fn from(e: inference::Error) -> Self {
        Error::Model(e)
    }
}

impl From<fmt::Error> for Error {
    fn from(_: fmt::Error) -> Self {
        Error::Malformed // writing into a String does not fail
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An int8 tensor the engine computes (not a constant): its index in the model and
/// what the generated code needs of it.
#[derive(Clone, Debug)]
struct Activation {
    index: usize,
    shape: Vec<usize>,
    bytes: usize,
    scale: f32,
    zero_point: i32,
}

impl Activation {
    fn of(model: &Model<'_>, index: usize, op: &'static str) -> Result<Self> {
        let t = model.tensor(index)?;
        if t.dtype != DType::I8 || t.data.is_some() {
            return Err(Error::Unsupported { op, what: "a tensor that is not a computed int8 tensor" });
        }
        Ok(Activation {
            index,
            shape: t.dims().iter().map(|&d| d as usize).collect(),
            bytes: t.elements(),
            scale: t.scale,
            zero_point: t.zero_point,
        })
    }
}

/// One generated operator: its tensors, and how it writes itself.
trait Step {
    /// The computed tensors it reads, then the one it writes.
    fn reads(&self) -> &[usize];
    fn writes(&self) -> usize;
    /// Its statics and its function (`op{n}`), which takes its inputs as `&[i8; N]`
    /// and its output as `&mut [i8; N]`.
    fn emit(&self, n: usize, out: &mut String) -> Result<()>;
    /// One line for the generated module's documentation.
    fn describe(&self) -> String;
}

/// The constant tensor `index` of a model.
fn constant<'m>(
    model: &Model<'m>,
    index: Option<usize>,
    op: &'static str,
    what: &'static str,
) -> Result<TensorInfo<'m>> {
    let t = model.tensor(index.ok_or(Error::Unsupported { op, what })?)?;
    match t.data {
        Some(_) => Ok(t),
        None => Err(Error::Unsupported { op, what }),
    }
}

/// The Rust source of an engine for `model` (the `.tflite` bytes; `source_name` is
/// only quoted in the generated header): items for a module of their own, chiefly
/// `pub struct Engine` with `new`, `input`, `invoke` and `output`.
pub fn generate(model: &[u8], source_name: &str) -> Result<String> {
    let m = Model::load(model)?;
    let single = |mut list: inference::TensorIndices<'_>, what| match (list.next(), list.next()) {
        (Some(Some(t)), None) => Ok(t),
        _ => Err(Error::Unsupported { op: "model", what }),
    };
    let input = Activation::of(&m, single(m.inputs(), "more or fewer than one input")?, "model input")?;
    let output = Activation::of(&m, single(m.outputs(), "more or fewer than one output")?, "model output")?;

    let mut tensors = BTreeMap::new();
    tensors.insert(input.index, input.clone());
    let mut steps: Vec<Box<dyn Step>> = Vec::new();
    for n in 0..m.operator_count() {
        let op = m.operator(n)?;
        let step: Box<dyn Step> = match op.code() {
            OpCode::FULLY_CONNECTED => Box::new(fully_connected::FullyConnected::new(&m, model, n, &op)?),
            other => {
                return Err(Error::Unsupported { op: other.name(), what: "this operator" });
            }
        };
        for &t in step.reads() {
            if !tensors.contains_key(&t) {
                return Err(Error::Unsupported {
                    op: "model",
                    what: "an operator input no earlier operator computed",
                });
            }
        }
        tensors.insert(step.writes(), Activation::of(&m, step.writes(), "operator output")?);
        steps.push(step);
    }
    if !tensors.contains_key(&output.index) {
        return Err(Error::Unsupported { op: "model", what: "an output no operator computes" });
    }

    // The input and output are fields of their own (the input is kept, the output
    // stays readable); the other tensors share the arena, planned by their lifetimes
    // in steps: from the step that writes one to the last that reads it.
    let mut lives: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for (n, step) in steps.iter().enumerate() {
        for &t in step.reads() {
            if let Some(life) = lives.get_mut(&t) {
                life.1 = life.1.max(n);
            }
        }
        let t = step.writes();
        if t != output.index {
            lives.entry(t).or_insert((n, n));
        }
    }
    let plan = plan::greedy(lives.iter().map(|(&t, &(first, last))| plan::Need {
        tensor: t,
        bytes: tensors[&t].bytes,
        first,
        last,
    }));

    let mut out = String::new();
    writeln!(out, "// Generated by inference-aot from {source_name}: do not edit.")?;
    writeln!(out)?;
    writeln!(out, "/// The arena's size in bytes: the tensors between operators, planned at build time")?;
    writeln!(out, "/// (the input and output have their own fields).")?;
    writeln!(out, "pub const ARENA_BYTES: usize = {};", plan.bytes)?;
    for (what, t) in [("INPUT", &input), ("OUTPUT", &output)] {
        let lower = what.to_lowercase();
        writeln!(out, "/// The {lower} tensor's shape.")?;
        writeln!(out, "pub const {what}_SHAPE: [usize; {}] = {:?};", t.shape.len(), t.shape)?;
        writeln!(out, "/// The {lower} tensor's quantization: `real = scale * (q - zero_point)`.")?;
        writeln!(out, "pub const {what}_SCALE: f32 = {};", float(t.scale))?;
        writeln!(out, "pub const {what}_ZERO_POINT: i32 = {};", t.zero_point)?;
        writeln!(out, "/// The {lower} tensor's bytes.")?;
        writeln!(out, "pub const {what}_BYTES: usize = {};", t.bytes)?;
    }
    writeln!(out)?;
    writeln!(out, "/// The model, compiled: its input, output and arena, and nothing else.")?;
    writeln!(out, "/// Operators, in order:")?;
    for (n, step) in steps.iter().enumerate() {
        writeln!(out, "/// {n}. {}", step.describe())?;
    }
    writeln!(out, "pub struct Engine {{")?;
    writeln!(out, "    input: [i8; INPUT_BYTES],")?;
    writeln!(out, "    output: [i8; OUTPUT_BYTES],")?;
    writeln!(out, "    arena: [i8; ARENA_BYTES],")?;
    writeln!(out, "}}\n")?;
    writeln!(
        out,
        "impl Default for Engine {{\n    fn default() -> Self {{\n        Self::new()\n    }}\n}}\n"
    )?;
    writeln!(out, "impl Engine {{")?;
    writeln!(out, "    /// An engine with zeroed tensors.")?;
    writeln!(out, "    pub const fn new() -> Self {{")?;
    writeln!(
        out,
        "        Engine {{ input: [0; INPUT_BYTES], output: [0; OUTPUT_BYTES], arena: [0; ARENA_BYTES] }}"
    )?;
    writeln!(out, "    }}\n")?;
    writeln!(out, "    /// The input tensor, to write before [`Engine::invoke`] (which keeps it).")?;
    writeln!(
        out,
        "    pub fn input(&mut self) -> &mut [i8; INPUT_BYTES] {{\n        &mut self.input\n    }}\n"
    )?;
    writeln!(out, "    /// The output tensor, as the last [`Engine::invoke`] left it.")?;
    writeln!(out, "    pub fn output(&self) -> &[i8; OUTPUT_BYTES] {{\n        &self.output\n    }}\n")?;
    writeln!(out, "    /// Runs the model on the input. The checks on constant offsets below are")?;
    writeln!(out, "    /// decided when the engine is compiled: they leave no code.")?;
    writeln!(out, "    pub fn invoke(&mut self) {{")?;
    let place =
        |t: usize| -> Option<(usize, usize)> { plan.offsets.get(&t).map(|&at| (at, tensors[&t].bytes)) };
    for (n, step) in steps.iter().enumerate() {
        // One input per operator so far (FULLY_CONNECTED's); an operator of two
        // computed inputs (ADD) will need a three-way split of the arena here.
        let (&[x], y) = (step.reads(), step.writes()) else {
            return Err(Error::Unsupported {
                op: "model",
                what: "an operator with other than one computed input",
            });
        };
        let call = match (x == input.index, y == output.index, place(x), place(y)) {
            (true, true, _, _) => format!("op{n}(&self.input, &mut self.output);"),
            (true, false, _, Some((at, len))) => format!(
                "if let Some(y) = tensor_mut::<{at}, {len}>(&mut self.arena) {{\n            op{n}(&self.input, y);\n        }}"
            ),
            (false, true, Some((at, len)), _) => format!(
                "if let Some(x) = tensor::<{at}, {len}>(&self.arena) {{\n            op{n}(x, &mut self.output);\n        }}"
            ),
            (false, false, Some((xa, xl)), Some((ya, yl))) => format!(
                "if let Some((x, y)) = split::<{xa}, {xl}, {ya}, {yl}>(&mut self.arena) {{\n            op{n}(x, y);\n        }}"
            ),
            _ => return Err(Error::Unsupported { op: "model", what: "an operator that reads the model's output" }),
        };
        writeln!(out, "        {call}")?;
    }
    writeln!(out, "    }}\n}}\n")?;
    out.push_str(ARENA_HELPERS);
    writeln!(out)?;
    fully_connected::emit_packed_constants(&mut out)?;
    for (n, step) in steps.iter().enumerate() {
        writeln!(out)?;
        step.emit(n, &mut out)?;
    }
    Ok(out)
}

/// Tensors of the arena by constant offsets (`None` only if the plan were wrong).
const ARENA_HELPERS: &str = r#"/// `N` bytes at `AT`.
#[inline(always)]
#[allow(dead_code)]
fn tensor<const AT: usize, const N: usize>(arena: &[i8; ARENA_BYTES]) -> Option<&[i8; N]> {
    arena.get(AT..)?.first_chunk::<N>()
}

/// `N` bytes at `AT`, to write.
#[inline(always)]
#[allow(dead_code)]
fn tensor_mut<const AT: usize, const N: usize>(arena: &mut [i8; ARENA_BYTES]) -> Option<&mut [i8; N]> {
    arena.get_mut(AT..)?.first_chunk_mut::<N>()
}

/// An operator's input (`N` bytes at `X`) and output (`M` at `Y`), which the plan
/// keeps apart.
#[inline(always)]
#[allow(dead_code)]
fn split<const X: usize, const N: usize, const Y: usize, const M: usize>(
    arena: &mut [i8; ARENA_BYTES],
) -> Option<(&[i8; N], &mut [i8; M])> {
    if X < Y {
        let (low, high) = arena.split_at_mut_checked(Y)?;
        Some((low.get(X..)?.first_chunk::<N>()?, high.first_chunk_mut::<M>()?))
    } else {
        let (low, high) = arena.split_at_mut_checked(X)?;
        Some((high.first_chunk::<N>()?, low.get_mut(Y..)?.first_chunk_mut::<M>()?))
    }
}
"#;

/// An f32 as a Rust literal that reads back as the same bits.
fn float(x: f32) -> String {
    let s = format!("{x:?}");
    if s.contains(['.', 'e', 'E']) || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

/// A list of integers as a Rust array literal, 16 a line.
fn list<T: fmt::Display>(values: impl IntoIterator<Item = T>) -> String {
    let mut s = String::from("[");
    for (i, v) in values.into_iter().enumerate() {
        if i % 16 == 0 {
            s.push_str("\n    ");
        } else {
            s.push(' ');
        }
        let _ = write!(s, "{v},");
    }
    s.push_str("\n]");
    s
}

#[cfg(test)]
mod tests;
