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
//! Operators (int8): FULLY_CONNECTED (per-tensor weights), CONV_2D and
//! DEPTHWISE_CONV_2D (per-channel weights, padding, strides, dilation, depthwise
//! multipliers), AVERAGE_POOL_2D (windows inside the image), ADD (inputs of one
//! shape), SOFTMAX and RESHAPE; the fused activations NONE, RELU, RELU6,
//! RELU_N1_TO_1. Another operator is refused by name ([`Error::Unsupported`]); each
//! is a module (`fully_connected.rs`, `conv.rs`, `simple.rs`) and an arm in
//! [`generate`].

use inference::{DType, Model, OpCode, TensorInfo};
use std::collections::BTreeMap;
use std::fmt::{self, Write};

mod conv;
mod fully_connected;
mod options;
mod plan;
mod simple;

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

/// The statement of `invoke` that runs step `n`: its tensors taken from the input and
/// output fields or split off the arena at their planned offsets.
fn invoke_step(
    n: usize,
    step: &dyn Step,
    input: &Activation,
    output: &Activation,
    plan: &plan::Plan,
    tensors: &BTreeMap<usize, Activation>,
) -> Result<String> {
    // Arena regions: (offset, length, name, mutable), lowest first.
    let mut regions: Vec<(usize, usize, String, bool)> = Vec::new();
    let mut args = Vec::new();
    for &t in step.reads() {
        if t == input.index {
            args.push("&self.input".to_string());
            continue;
        }
        let at = *plan.offsets.get(&t).ok_or(Error::Malformed)?;
        let name = format!("t{t}");
        if !regions.iter().any(|r| r.2 == name) {
            regions.push((at, tensors[&t].bytes, name.clone(), false));
        }
        args.push(name);
    }
    let y = step.writes();
    if y == output.index {
        args.push("&mut self.output".to_string());
    } else {
        let at = *plan.offsets.get(&y).ok_or(Error::Malformed)?;
        regions.push((at, tensors[&y].bytes, format!("t{y}"), true));
        args.push(format!("t{y}"));
    }
    regions.sort();
    let mut s = String::new();
    if regions.is_empty() {
        writeln!(s, "        op{n}({});", args.join(", "))?;
        return Ok(s);
    }
    writeln!(s, "        'op{n}: {{")?;
    writeln!(s, "            let rest = &mut self.arena[..];")?;
    let mut end = 0;
    for (at, len, name, mutable) in &regions {
        if *at < end {
            return Err(Error::Unsupported {
                op: "model",
                what: "an arena plan whose tensors overlap in a step",
            });
        }
        writeln!(
            s,
            "            let Some((_, rest)) = rest.split_at_mut_checked({}) else {{ break 'op{n} }};",
            at - end
        )?;
        writeln!(
            s,
            "            let Some((r, rest)) = rest.split_at_mut_checked({len}) else {{ break 'op{n} }};"
        )?;
        let chunk = if *mutable { "first_chunk_mut" } else { "first_chunk" };
        writeln!(s, "            let Some({name}) = r.{chunk}::<{len}>() else {{ break 'op{n} }};")?;
        end = at + len;
    }
    writeln!(s, "            op{n}({});", args.join(", "))?;
    writeln!(s, "        }}")?;
    Ok(s)
}

/// The per-channel requantization of the convolutions, once per module.
const REQUANT: &str = r#"
/// A channel's bias and requantization: TFLM's `MultiplyByQuantizedMultiplier` as
/// `inference::quant::Requant` computes it (one 64-bit multiply-add, two shifts).
#[allow(dead_code)]
struct Rq {
    /// The bias, with the input offset's share folded in.
    bias: i32,
    multiplier: i32,
    left_factor: i32,
    /// The right shift less one; -1 for none (the left factor applies).
    shift: i32,
    /// `2^30 + 2^(30 + right shift)`.
    round: i64,
}

/// `MultiplyByQuantizedMultiplier(acc, q)`.
#[allow(dead_code)]
#[inline(always)]
fn requant(acc: i32, q: &Rq) -> i32 {
    if q.shift < 0 {
        ((i64::from(acc.wrapping_mul(q.left_factor)) * i64::from(q.multiplier) + (1 << 30)) >> 31) as i32
    } else {
        requant_right(acc, q)
    }
}

/// [`requant`] for a right shift of 1 or more.
#[allow(dead_code)]
#[inline(always)]
fn requant_right(acc: i32, q: &Rq) -> i32 {
    let k = q.round + (i64::from(acc >> 31) << 31);
    (((i64::from(acc) * i64::from(q.multiplier) + k) >> 32) as i32) >> q.shift
}

/// [`requant_right`] for a non-negative `acc`; for a negative one, a result of 0 or
/// less (`acc * multiplier < 0` and `round < 2^(31 + right)`), which a clamp whose
/// floor is at or above the output offset turns into the floor, as it does the
/// exact result (also 0 or less).
#[allow(dead_code)]
#[inline(always)]
fn requant_right_relu(acc: i32, q: &Rq) -> i32 {
    (((i64::from(acc) * i64::from(q.multiplier) + q.round) >> 32) as i32) >> q.shift
}
"#;

/// A per-channel table as Rust (`Rq` entries), from each channel's bias and TFLite
/// multiplier and shift.
fn rq_table(name: &str, multipliers: &[(i32, i32)], biases: &[i32]) -> String {
    let mut s = format!("static {name}: [Rq; {}] = [\n", multipliers.len());
    for (&(m, shift), &bias) in multipliers.iter().zip(biases) {
        let left = 1i32.wrapping_shl(shift.max(0) as u32);
        let right = (-shift).clamp(0, 31);
        let round = (1i64 << 30) + (1i64 << (30 + right));
        let _ = writeln!(
            s,
            "    Rq {{ bias: {bias}, multiplier: {m}, left_factor: {left}, shift: {}, round: {round} }},",
            right - 1
        );
    }
    s.push_str("];\n");
    s
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

    let mut tensors = BTreeMap::new();
    tensors.insert(input.index, input.clone());
    let mut steps: Vec<Box<dyn Step>> = Vec::new();
    for n in 0..m.operator_count() {
        let op = m.operator(n)?;
        let step: Box<dyn Step> = match op.code() {
            OpCode::FULLY_CONNECTED => Box::new(fully_connected::FullyConnected::new(&m, model, n, &op)?),
            OpCode::CONV_2D => Box::new(conv::Conv::new(&m, model, n, &op, false)?),
            OpCode::DEPTHWISE_CONV_2D => Box::new(conv::Conv::new(&m, model, n, &op, true)?),
            OpCode::AVERAGE_POOL_2D => Box::new(simple::AveragePool::new(&m, model, n, &op)?),
            OpCode::SOFTMAX => Box::new(simple::Softmax::new(&m, model, n, &op)?),
            OpCode::ADD => Box::new(simple::Add::new(&m, model, n, &op)?),
            OpCode::RESHAPE => Box::new(simple::Reshape::new(&m, &op)?),
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
    let output = Activation::of(&m, single(m.outputs(), "more or fewer than one output")?, "model output")?;
    if steps.iter().any(|step| step.reads().contains(&output.index)) {
        return Err(Error::Unsupported { op: "model", what: "an operator that reads the model's output" });
    }
    if !tensors.contains_key(&output.index) {
        return Err(Error::Unsupported { op: "model", what: "an output no operator computes" });
    }

    // The input and output are fields of their own (the input is kept, the output
    // stays readable); the other tensors share the arena, planned by their lifetimes
    // in steps: from the step that writes one to the last that reads it.
    let mut lives: BTreeMap<usize, (usize, usize, usize)> = BTreeMap::new();
    for (n, step) in steps.iter().enumerate() {
        for &t in step.reads() {
            if let Some(life) = lives.get_mut(&t) {
                life.2 = life.2.max(n);
            }
        }
        let t = step.writes();
        if t != output.index {
            lives.entry(t).or_insert((tensors[&t].bytes, n, n));
        }
    }
    let plan = plan::greedy(lives.iter().map(|(&t, &(bytes, first, last))| plan::Need {
        tensor: t,
        bytes,
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
    writeln!(out, "    /// Runs the model on the input. The arena is split at constant offsets,")?;
    writeln!(out, "    /// decided when the engine is compiled: the checks leave no code.")?;
    writeln!(out, "    #[allow(unused_variables)]")?;
    writeln!(out, "    pub fn invoke(&mut self) {{")?;
    for (n, step) in steps.iter().enumerate() {
        let call = invoke_step(n, step.as_ref(), &input, &output, &plan, &tensors)?;
        out.push_str(&call);
    }
    writeln!(out, "    }}\n}}\n")?;
    fully_connected::emit_packed_constants(&mut out)?;
    out.push_str(REQUANT);
    for (n, step) in steps.iter().enumerate() {
        writeln!(out)?;
        step.emit(n, &mut out)?;
    }
    Ok(out)
}

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
