//! The part of the TFLite schema (`tensorflow/lite/schema/schema.fbs`) the engine
//! reads, over [`crate::flatbuffer`], and the model-level validation.

use crate::flatbuffer::{Buf, Table, Vector};
use crate::{Error, Result};

/// The most dimensions a tensor may have.
pub const MAX_DIMS: usize = 6;

/// Tensor element types (schema `TensorType`) that the engine handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    I32,
    I8,
    I64,
}

impl DType {
    pub(crate) fn from_schema(t: u8) -> Result<Self> {
        match t {
            0 => Ok(DType::F32),
            2 => Ok(DType::I32),
            4 => Ok(DType::I64),
            9 => Ok(DType::I8),
            other => Err(Error::UnsupportedType(other)),
        }
    }

    pub fn size(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::F32 | DType::I32 => 4,
            DType::I64 => 8,
        }
    }
}

macro_rules! opcodes {
    ($($name:ident = $code:expr,)*) => {
        /// A builtin operator (schema `BuiltinOperator`): its code, with the names
        /// TFLite uses as constants. Two bytes, so that an [`crate::Error`] carrying
        /// one stays 8 bytes; a code beyond `u16` (none exists) reads as
        /// [`OpCode::UNKNOWN`].
        #[derive(Clone, Copy, PartialEq, Eq)]
        pub struct OpCode(u16);

        impl OpCode {
            $(pub const $name: OpCode = OpCode($code);)*
            /// `CUSTOM` (32): an operator known by its custom name only.
            pub const CUSTOM: OpCode = OpCode(32);
            /// A code outside `u16`.
            pub const UNKNOWN: OpCode = OpCode(u16::MAX);

            pub(crate) fn from_code(code: i32) -> Self {
                u16::try_from(code).map_or(Self::UNKNOWN, OpCode)
            }

            /// The schema's builtin code (`None` for custom operators and codes
            /// beyond a byte).
            pub fn builtin_code(self) -> Option<u8> {
                match self {
                    Self::CUSTOM => None,
                    OpCode(code) => u8::try_from(code).ok(),
                }
            }

            /// The name for a builtin code, as [`OpCode::name`] gives it.
            pub fn name_of(code: u8) -> &'static str {
                OpCode(code.into()).name()
            }

            /// The name TFLite gives the operator.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                    Self::CUSTOM => "custom",
                    _ => "unknown builtin",
                }
            }
        }

        impl core::fmt::Debug for OpCode {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match *self {
                    $(Self::$name)|* | Self::CUSTOM => f.write_str(self.name()),
                    OpCode(code) => write!(f, "unknown builtin {code}"),
                }
            }
        }
    };
}

opcodes! {
    ADD = 0,
    AVERAGE_POOL_2D = 1,
    CONCATENATION = 2,
    CONV_2D = 3,
    DEPTHWISE_CONV_2D = 4,
    DEQUANTIZE = 6,
    FULLY_CONNECTED = 9,
    LOGISTIC = 14,
    MAX_POOL_2D = 17,
    MUL = 18,
    RELU = 19,
    RELU6 = 21,
    RESHAPE = 22,
    SOFTMAX = 25,
    TANH = 28,
    PAD = 34,
    MEAN = 40,
    QUANTIZE = 114,
}

/// `x > 0` and finite, on the bits (no soft-float comparison).
pub(crate) fn positive_finite(x: f32) -> bool {
    (1..0x7f80_0000).contains(&x.to_bits())
}

/// A tensor's static description. Small (40 bytes on the device): its shape and
/// per-channel scales stay in the model, as TFLM points its tensors' dimensions into
/// the flatbuffer, so that preparation keeps several of these on the stack cheaply.
#[derive(Clone, Copy, Debug)]
pub struct TensorInfo<'a> {
    pub dtype: DType,
    /// Its dimensions: `rank` little-endian i32s in the model, each at least 1.
    pub(crate) shape: &'a [u8],
    /// Their product (validated at load: the bytes fit in 2^24).
    pub(crate) elements: u32,
    /// Constant data from the model (weights, biases, shapes), if any.
    pub data: Option<&'a [u8]>,
    /// Per-tensor scale and zero point (the first of per-channel ones).
    pub scale: f32,
    pub zero_point: i32,
    /// Per-channel scales (little-endian f32s), when there are several; empty
    /// otherwise.
    pub channel_scales: &'a [u8],
    /// The dimension the per-channel scales lie along.
    pub quantized_dimension: u8,
}

/// A tensor's dimensions, copied out of the model: a slice through `Deref`.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    dims: [i32; MAX_DIMS],
    rank: usize,
}

impl core::ops::Deref for Dims {
    type Target = [i32];

    fn deref(&self) -> &[i32] {
        self.dims.get(..self.rank).unwrap_or_default()
    }
}

impl PartialEq for Dims {
    fn eq(&self, other: &Dims) -> bool {
        **self == **other
    }
}

impl TensorInfo<'_> {
    /// A placeholder for [`Model::read_tensor`] to fill.
    pub(crate) const EMPTY: TensorInfo<'static> = TensorInfo {
        dtype: DType::I8,
        shape: &[],
        elements: 1,
        data: None,
        scale: 0.0,
        zero_point: 0,
        channel_scales: &[],
        quantized_dimension: 0,
    };

    /// The number of dimensions (0 for a scalar).
    pub fn rank(&self) -> usize {
        self.shape.len() / 4
    }

    /// Dimension `d`; 1 past the rank (a scalar has one element).
    pub fn dim(&self, d: usize) -> i32 {
        let at = d.checked_mul(4).and_then(|at| self.shape.get(at..));
        at.and_then(|b| b.first_chunk()).map_or(1, |b| i32::from_le_bytes(*b))
    }

    /// The last dimension (1 for a scalar).
    pub fn last_dim(&self) -> i32 {
        match self.rank() {
            0 => 1,
            rank => self.dim(rank - 1),
        }
    }

    /// All dimensions, copied.
    pub fn dims(&self) -> Dims {
        let mut dims = Dims { dims: [1; MAX_DIMS], rank: self.rank().min(MAX_DIMS) };
        for (d, slot) in dims.dims.iter_mut().enumerate().take(dims.rank) {
            *slot = self.dim(d);
        }
        dims
    }

    /// Whether `other` has the same shape.
    pub fn same_shape(&self, other: &TensorInfo<'_>) -> bool {
        self.shape == other.shape
    }

    pub fn elements(&self) -> usize {
        self.elements as usize
    }

    pub fn bytes(&self) -> usize {
        self.elements() * self.dtype.size()
    }

    /// Whether the tensor has a scale per channel.
    pub fn is_per_channel(&self) -> bool {
        !self.channel_scales.is_empty()
    }

    /// The number of per-channel scales (0 for a per-tensor scale).
    pub fn channel_count(&self) -> usize {
        self.channel_scales.len() / 4
    }

    /// Channel `c`'s scale: its own, or the per-tensor one (also past the end).
    pub fn scale_of(&self, c: usize) -> f32 {
        let own = c.checked_mul(4).and_then(|at| self.channel_scales.get(at..)).and_then(|b| b.first_chunk());
        own.map_or(self.scale, |b| f32::from_le_bytes(*b))
    }

    /// Quantized tensors carry a positive, finite scale.
    pub fn is_quantized(&self) -> bool {
        positive_finite(self.scale)
    }
}

/// One operator: its code, version, tensor indices (-1: optional input absent) and
/// options table.
#[derive(Clone, Copy, Debug)]
pub struct OperatorInfo {
    pub code: OpCode,
    pub version: i32,
    pub inputs: Vector,
    pub outputs: Vector,
    #[allow(dead_code)] // operators without options (RELU, RESHAPE, ...) never read them
    pub options: Option<Table>,
    #[allow(dead_code)]
    pub options_type: u8,
}

/// A model that passed validation; it borrows the flatbuffer (flash on a device).
/// Small (56 bytes): the buffer once and its six top-level vectors.
#[derive(Clone, Copy)]
pub struct Model<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) buffers: Vector,
    pub(crate) codes: Vector,
    pub(crate) tensors: Vector,
    pub(crate) operators: Vector,
    inputs: Vector,
    outputs: Vector,
}

/// Whether the setup reads tensors and operators through
/// [`Reader`](crate::flatbuffer::Reader): each validated once, at load, completely,
/// and the later reads (about four a tensor: the loader's operator checks, the
/// planner, each preparation) inlined, with bounds checks only.
/// Builds with convolutions (the MLPerf Tiny images, the partitions), whose setup
/// reads hundreds of tensors. A build without (the sine model's image, whose flash
/// has a goal to the byte) keeps the compact reads through [`Table`], each of which
/// validates the tensor again, every channel's quantization included.
pub(crate) const FAST_SETUP: bool = cfg!(any(feature = "op-conv-2d", feature = "op-depthwise-conv-2d"));

impl<'a> Model<'a> {
    /// A model of nothing: what an [`crate::Interpreter::empty`] holds.
    pub(crate) const EMPTY: Model<'a> = Model {
        buf: &[],
        buffers: Vector::EMPTY,
        codes: Vector::EMPTY,
        tensors: Vector::EMPTY,
        operators: Vector::EMPTY,
        inputs: Vector::EMPTY,
        outputs: Vector::EMPTY,
    };

    /// Parses and validates `bytes` completely (see the crate documentation):
    /// [`Model::parse`], then every operator's preparation without an arena.
    pub fn load(bytes: &'a [u8]) -> Result<Self> {
        Self::read::<true>(bytes)
    }

    /// Parses and validates `bytes` but for each operator's own constraints (its
    /// options, its tensors' types and shapes as the kernel needs them), which the
    /// operator's preparation checks: [`crate::Interpreter::init`] prepares each once
    /// and refuses the model, before anything runs, where [`Model::load`] would have.
    /// For a model that goes straight to an interpreter, this spares the second
    /// preparation of every operator that `load` runs.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        Self::read::<false>(bytes)
    }

    /// `load` (`PREPARE`) or `parse`: one function, so that an image calls one of them
    /// and carries its code once.
    fn read<const PREPARE: bool>(bytes: &'a [u8]) -> Result<Self> {
        let buf = Buf(bytes);
        let root = buf.root()?;
        if root.u32_or(buf, 0, 0)? != 3 {
            return Err(Error::Malformed(why!("schema version is not 3")));
        }
        let need = |v: Vector, what| if v.is_empty() { Err(Error::Malformed(what)) } else { Ok(v) };
        let codes = need(root.vector(buf, 1, 4)?, why!("no operator codes"))?;
        let subgraphs = root.vector(buf, 2, 4)?;
        let buffers = need(root.vector(buf, 4, 4)?, why!("no buffers"))?;
        if subgraphs.len() != 1 {
            return Err(Error::Malformed(why!("exactly one subgraph is supported")));
        }
        let graph = subgraphs.table(buf, 0)?;
        let model = Model {
            buf: bytes,
            buffers,
            codes,
            tensors: need(graph.vector(buf, 0, 4)?, why!("no tensors"))?,
            inputs: need(graph.vector(buf, 1, 4)?, why!("no inputs"))?,
            outputs: need(graph.vector(buf, 2, 4)?, why!("no outputs"))?,
            operators: need(graph.vector(buf, 3, 4)?, why!("no operators"))?,
        };
        // Every tensor validated, completely ([`FAST_SETUP`]: once, here; otherwise
        // by every read, such as this one).
        for i in 0..model.tensors().len() {
            match FAST_SETUP {
                true => model.check_tensor(i)?,
                false => _ = model.is_constant(i)?,
            }
        }
        for v in [model.input_list(), model.output_list()] {
            for i in 0..v.len() {
                let t = v.i32(buf, i)?;
                if t < 0 || t as usize >= model.tensors().len() {
                    return Err(Error::Malformed(why!("graph input or output index")));
                }
                if model.is_constant(t as usize)? {
                    return Err(Error::Malformed(why!("graph input or output is a constant")));
                }
            }
        }
        for i in 0..model.operators().len() {
            let op = model.validate_operator(i)?;
            let n = model.tensors().len() as i32;
            for j in 0..op.inputs.len() {
                // -1: an optional input left out.
                if !(-1..n).contains(&op.inputs.i32(buf, j)?) {
                    return Err(Error::Malformed(why!("operator tensor index")));
                }
            }
            for j in 0..op.outputs.len() {
                let t = op.outputs.i32(buf, j)?;
                if !(0..n).contains(&t) {
                    return Err(Error::Malformed(why!("operator tensor index")));
                }
                // Operators write to the arena: an output must not be a constant, nor
                // one of the operator's own inputs (no kernel works in place).
                if model.is_constant(t as usize)? {
                    return Err(Error::Malformed(why!("an operator output is a constant tensor")));
                }
                for k in 0..op.inputs.len() {
                    if op.inputs.i32(buf, k)? == t {
                        return Err(Error::Malformed(why!("an operator output is also one of its inputs")));
                    }
                }
            }
            if PREPARE {
                // Every operator checks its own constraints in its preparation.
                crate::kernels::prepare(&model, &op, &mut crate::kernels::Persist::counting())?;
            }
        }
        Ok(model)
    }

    pub fn tensor_count(&self) -> usize {
        self.tensors().len()
    }

    pub fn operator_count(&self) -> usize {
        self.operators().len()
    }

    /// The flatbuffer, for reading the model's vectors and tables.
    pub(crate) fn buf(&self) -> Buf<'a> {
        Buf(self.buf)
    }

    pub(crate) fn input_list(&self) -> Vector {
        self.inputs
    }

    pub(crate) fn output_list(&self) -> Vector {
        self.outputs
    }

    /// The graph's input tensors, as indices for [`Model::tensor`] (in the order
    /// [`crate::Interpreter::input`] numbers them).
    pub fn inputs(&self) -> crate::TensorIndices<'a> {
        crate::TensorIndices::new(self.buf(), self.inputs)
    }

    /// The graph's output tensors, as [`Model::inputs`] gives the inputs.
    pub fn outputs(&self) -> crate::TensorIndices<'a> {
        crate::TensorIndices::new(self.buf(), self.outputs)
    }

    /// Operator `i` (below [`Model::operator_count`]), in execution order: its code,
    /// version and tensors.
    pub fn operator(&self, i: usize) -> Result<crate::Operator<'a>> {
        Ok(crate::Operator::new(self.buf(), self.operator_info(i)?))
    }

    fn tensors(&self) -> Vector {
        self.tensors
    }

    fn operators(&self) -> Vector {
        self.operators
    }

    /// Tensor `i`: type, shape, constant data, quantization (as validated at load).
    pub fn tensor(&self, i: usize) -> Result<TensorInfo<'a>> {
        let mut info = TensorInfo::EMPTY;
        self.read_tensor(i, &mut info)?;
        Ok(info)
    }
}
