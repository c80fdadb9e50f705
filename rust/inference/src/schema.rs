//! The part of the TFLite schema (`tensorflow/lite/schema/schema.fbs`) the engine
//! reads, over [`crate::flatbuffer`], and the model-level validation.

use crate::flatbuffer::{Bad, Buf, Reader, Table, Vector};
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
    fn from_schema(t: u8) -> Result<Self> {
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

            fn from_code(code: i32) -> Self {
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
fn positive_finite(x: f32) -> bool {
    (1..0x7f80_0000).contains(&x.to_bits())
}

/// A tensor's static description. Small (40 bytes on the device): its shape and
/// per-channel scales stay in the model, as TFLM points its tensors' dimensions into
/// the flatbuffer, so that preparation keeps several of these on the stack cheaply.
#[derive(Clone, Copy, Debug)]
pub struct TensorInfo<'a> {
    pub dtype: DType,
    /// Its dimensions: `rank` little-endian i32s in the model, each at least 1.
    shape: &'a [u8],
    /// Their product (validated at load: the bytes fit in 2^24).
    elements: u32,
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
    buf: &'a [u8],
    buffers: Vector,
    codes: Vector,
    tensors: Vector,
    operators: Vector,
    inputs: Vector,
    outputs: Vector,
}

/// Whether the setup reads tensors and operators through [`Reader`]: each validated
/// once, at load, completely, and the later reads (about four a tensor: the loader's
/// operator checks, the planner, each preparation) inlined, with bounds checks only.
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

    /// Parses and validates `bytes` completely (see the crate documentation).
    pub fn load(bytes: &'a [u8]) -> Result<Self> {
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
            // Every operator checks its own constraints in its preparation.
            crate::kernels::prepare(&model, &op, &mut crate::kernels::Persist::counting())?;
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

    /// Whether tensor `i` is a constant (has data in the model): its buffer alone read,
    /// with bounds checks only, as [`Model::read_tensor`] reads (a quarter of its
    /// instructions), for the loader's and the planner's questions.
    /// (Without [`FAST_SETUP`], a whole read that validates it.)
    #[inline(never)]
    pub(crate) fn is_constant(&self, i: usize) -> Result<bool> {
        if !FAST_SETUP {
            let mut info = TensorInfo::EMPTY;
            self.read_tensor(i, &mut info)?;
            return Ok(info.data.is_some());
        }
        let r = Reader::<false>::new(self.buf);
        let read = || {
            let t = r.table_of(self.tensors, i)?;
            let b = r.table_of(self.buffers, r.u32_or(t, 2, 0)? as usize)?;
            Some(r.vector(b, 0, 1)?.1 != 0)
        };
        read().ok_or(Error::Malformed(why!("tensor index, or an offset outside the model")))
    }

    /// [`Model::tensor`] into `info` (the caller's storage: no `Result` holding a
    /// copy). [`Model::load`] validated every tensor, structure and values, before
    /// anything else reads one; so this read, which the setup makes about four times a
    /// tensor (the loader's operator checks, the planner, each preparation), checks
    /// no value again, only that each byte it reads lies in the model
    /// ([`Reader`] without `CHECK`): an index past the tensors or a defect is an error, never a
    /// panic, and the model's bytes cannot change meanwhile (`Model` borrows them).
    /// Without [`FAST_SETUP`], every read validates the tensor.
    #[inline(always)]
    pub(crate) fn read_tensor(&self, i: usize, info: &mut TensorInfo<'a>) -> Result<()> {
        match FAST_SETUP {
            true => self.read_trusted(i, info),
            false => self.read_checking(i, info),
        }
    }

    #[inline(never)]
    fn read_trusted(&self, i: usize, info: &mut TensorInfo<'a>) -> Result<()> {
        self.read_tensor_with::<false>(i, info)
    }

    /// Validates tensor `i` completely, every offset and value, the quantization of
    /// every channel included: what [`Model::load`] does once for each tensor.
    #[inline(always)]
    pub(crate) fn validate_tensor(&self, i: usize, info: &mut TensorInfo<'a>) -> Result<()> {
        match FAST_SETUP {
            true => self.read_tensor_with::<true>(i, info),
            false => self.read_checking(i, info),
        }
    }

    /// [`Model::validate_tensor`] for the loader. Not inlined: the loader's frame then
    /// holds no [`TensorInfo`].
    #[inline(never)]
    fn check_tensor(&self, i: usize) -> Result<()> {
        let mut info = TensorInfo::EMPTY;
        self.validate_tensor(i, &mut info)
    }

    /// Tensor `i` into `info`: `CHECK`, validating it ([`Model::validate_tensor`]), or
    /// not ([`Model::read_tensor`]).
    #[inline(always)]
    fn read_tensor_with<const CHECK: bool>(&self, i: usize, info: &mut TensorInfo<'a>) -> Result<()> {
        let r = Reader::<CHECK>::new(self.buf);
        let bad = || Error::from(Bad);
        let t = r.table_of(self.tensors, i).ok_or_else(bad)?;
        let dtype = r.u8_or(t, 1, 0).ok_or_else(bad)?;
        // Unchecked, the type was validated at load: one of these four.
        let dtype = match (CHECK, dtype) {
            (true, _) => DType::from_schema(dtype)?,
            (false, 0) => DType::F32,
            (false, 2) => DType::I32,
            (false, 4) => DType::I64,
            (false, _) => DType::I8,
        };
        let (shape, rank) = r.vector(t, 0, 4).ok_or_else(bad)?;
        if CHECK && rank > MAX_DIMS {
            return Err(Error::Malformed(why!("tensor rank above 6")));
        }
        let shape = r.bytes(shape, rank.wrapping_mul(4)).ok_or_else(bad)?;
        // Unchecked, the product was validated at load: it fits in 2^24.
        let mut elements: usize = 1;
        for d in shape.chunks_exact(4) {
            let dim = i32::from_le_bytes([d[0], d[1], d[2], d[3]]);
            if !CHECK {
                elements = elements.wrapping_mul(dim as usize);
                continue;
            }
            if dim < 1 {
                return Err(Error::Malformed(why!(
                    "tensor dimension below 1 (dynamic shapes are not supported)"
                )));
            }
            elements =
                elements.checked_mul(dim as usize).ok_or(Error::Malformed(why!("tensor size overflow")))?;
        }
        let bytes = elements.wrapping_mul(dtype.size());
        if CHECK && (elements.checked_mul(dtype.size()).is_none() || bytes > 1 << 24) {
            return Err(Error::Malformed(why!("tensor too large")));
        }
        let buffer = r.u32_or(t, 2, 0).ok_or_else(bad)? as usize;
        if CHECK && buffer >= self.buffers.len() {
            return Err(Error::Malformed(why!("tensor buffer index")));
        }
        let b = r.table_of(self.buffers, buffer).ok_or_else(bad)?;
        let data = match r.vector(b, 0, 1).ok_or_else(bad)? {
            (_, 0) => None,
            (at, len) if len == bytes || !CHECK => Some(r.bytes(at, len).ok_or_else(bad)?),
            _ => return Err(Error::Malformed(why!("constant tensor data size does not match its shape",))),
        };
        *info = TensorInfo {
            dtype,
            shape,
            elements: elements as u32,
            data,
            scale: 0.0,
            zero_point: 0,
            channel_scales: &[],
            quantized_dimension: 0,
        };
        if let Some(q) = r.table(t, 4).ok_or_else(bad)? {
            let (scales, count) = r.vector(q, 2, 4).ok_or_else(bad)?;
            let (zps, zp_count) = r.vector(q, 3, 8).ok_or_else(bad)?;
            if CHECK && count != zp_count {
                return Err(Error::Malformed(why!("quantization scales and zero points differ in count")));
            }
            if count > 1 {
                // Unchecked, validated at load: below the rank (a byte).
                let qd = r.u32_or(q, 6, 0).ok_or_else(bad)? as i32;
                if CHECK && (qd < 0 || qd as usize >= rank || info.dim(qd as usize) as usize != count) {
                    return Err(Error::Malformed(why!(
                        "per-channel scales do not match the quantized dimension",
                    )));
                }
                info.channel_scales = r.bytes(scales, count.wrapping_mul(4)).ok_or_else(bad)?;
                info.quantized_dimension = qd as u8;
            }
            // Zero points within the type's range (int8's, else int32's). Backwards, so
            // that channel 0's values are the ones kept as the per-tensor ones; only
            // those unchecked (validated at load: a zero point fits its low word).
            let (low, high) = match dtype {
                DType::I8 => (-128, 127),
                _ => (i32::MIN.into(), i32::MAX.into()),
            };
            let checked = if CHECK { count } else { count.min(1) };
            for c in (0..checked).rev() {
                let scale = f32::from_bits(r.u32(scales + 4 * c).ok_or_else(bad)?);
                let zp = match CHECK {
                    true => i64::from_le_bytes(r.array(zps + 8 * c).ok_or_else(bad)?),
                    false => r.u32(zps).ok_or_else(bad)? as i32 as i64,
                };
                if CHECK && !positive_finite(scale) {
                    return Err(Error::Malformed(why!("quantization scale is not positive and finite")));
                }
                if CHECK && !(low..=high).contains(&zp) {
                    return Err(Error::Malformed(why!("zero point out of range for the tensor's type")));
                }
                (info.scale, info.zero_point) = (scale, zp as i32);
            }
        }
        if CHECK && dtype == DType::I8 && !info.is_quantized() {
            return Err(Error::Malformed(why!("int8 tensor without quantization parameters")));
        }
        Ok(())
    }

    /// Operator `i` with its code resolved, read as [`Model::read_tensor`] reads a
    /// tensor: [`Model::load`] validated every operator ([`Model::validate_operator`]),
    /// so only the bounds of each byte are checked again.
    /// Without [`FAST_SETUP`], every read checks every offset.
    #[inline(always)]
    pub(crate) fn operator_info(&self, i: usize) -> Result<OperatorInfo> {
        match FAST_SETUP {
            true => self.operator_trusted(i),
            false => self.operator_checking(i),
        }
    }

    #[inline(never)]
    fn operator_trusted(&self, i: usize) -> Result<OperatorInfo> {
        self.operator_with::<false>(i)
    }

    /// Operator `i` with its code resolved, every offset checked: what [`Model::load`]
    /// does once for each operator.
    #[inline(always)]
    pub(crate) fn validate_operator(&self, i: usize) -> Result<OperatorInfo> {
        match FAST_SETUP {
            true => self.operator_validated(i),
            false => self.operator_checking(i),
        }
    }

    #[inline(never)]
    fn operator_validated(&self, i: usize) -> Result<OperatorInfo> {
        self.operator_with::<true>(i)
    }

    #[inline(always)]
    fn operator_with<const CHECK: bool>(&self, i: usize) -> Result<OperatorInfo> {
        let r = Reader::<CHECK>::new(self.buf);
        let bad = || Error::from(Bad);
        let op = r.table_of(self.operators, i).ok_or_else(bad)?;
        let index = r.u32_or(op, 0, 0).ok_or_else(bad)? as usize;
        if CHECK && index >= self.codes.len() {
            return Err(Error::Malformed(why!("operator code index")));
        }
        let code = r.table_of(self.codes, index).ok_or_else(bad)?;
        // Schema 3 keeps small codes in a byte (deprecated_builtin_code) and the rest in
        // builtin_code: the larger of the two is the operator (TFLite's GetBuiltinCode).
        let deprecated = r.u8_or(code, 0, 0).ok_or_else(bad)? as i8 as i32;
        let builtin = (r.u32_or(code, 3, 0).ok_or_else(bad)? as i32).max(deprecated);
        if CHECK {
            // A custom code's text is never read (its bytes are bounds-checked, its text
            // is not): every custom operator is refused by its builtin code, CUSTOM.
            r.vector(code, 1, 1).ok_or_else(bad)?;
        }
        Ok(OperatorInfo {
            code: OpCode::from_code(builtin),
            version: r.u32_or(code, 2, 1).ok_or_else(bad)? as i32,
            inputs: r.vector_handle(op, 1, 4).ok_or_else(bad)?,
            outputs: r.vector_handle(op, 2, 4).ok_or_else(bad)?,
            options_type: r.u8_or(op, 3, 0).ok_or_else(bad)?,
            options: r.table_handle(op, 4).ok_or_else(bad)?,
        })
    }

    /// [`Model::validate_tensor`] through [`Table`], without [`FAST_SETUP`] (whose reads
    /// are all this one).
    #[inline(never)]
    pub(crate) fn read_checking(&self, i: usize, info: &mut TensorInfo<'a>) -> Result<()> {
        let buf = self.buf();
        let t = self.tensors.table(buf, i)?;
        let dtype = DType::from_schema(t.u8_or(buf, 1, 0)?)?;
        let shape = t.vector(buf, 0, 4)?;
        if shape.len() > MAX_DIMS {
            return Err(Error::Malformed(why!("tensor rank above 6")));
        }
        let rank = shape.len();
        let mut elements: usize = 1;
        for d in 0..rank {
            let dim = shape.i32(buf, d)?;
            if dim < 1 {
                return Err(Error::Malformed(why!(
                    "tensor dimension below 1 (dynamic shapes are not supported)"
                )));
            }
            elements =
                elements.checked_mul(dim as usize).ok_or(Error::Malformed(why!("tensor size overflow")))?;
        }
        let bytes = elements
            .checked_mul(dtype.size())
            .filter(|&b| b <= 1 << 24)
            .ok_or(Error::Malformed(why!("tensor too large")))?;
        let buffer = t.u32_or(buf, 2, 0)? as usize;
        if buffer >= self.buffers.len() {
            return Err(Error::Malformed(why!("tensor buffer index")));
        }
        let data = self.buffers.table(buf, buffer)?.vector(buf, 0, 1)?;
        let data = match data.len() {
            0 => None,
            n if n == bytes => Some(buf.bytes(data)),
            _ => return Err(Error::Malformed(why!("constant tensor data size does not match its shape",))),
        };
        *info = TensorInfo {
            dtype,
            shape: buf.bytes_of(shape, 4),
            elements: elements as u32,
            data,
            scale: 0.0,
            zero_point: 0,
            channel_scales: &[],
            quantized_dimension: 0,
        };
        if let Some(q) = t.table(buf, 4)? {
            let (scales, zps) = (q.vector(buf, 2, 4)?, q.vector(buf, 3, 8)?);
            if scales.len() != zps.len() {
                return Err(Error::Malformed(why!("quantization scales and zero points differ in count")));
            }
            if scales.len() > 1 {
                let qd = q.i32_or(buf, 6, 0)?;
                if qd < 0 || qd as usize >= rank || info.dim(qd as usize) as usize != scales.len() {
                    return Err(Error::Malformed(why!(
                        "per-channel scales do not match the quantized dimension",
                    )));
                }
                info.channel_scales = buf.bytes_of(scales, 4);
                info.quantized_dimension = qd as u8;
            }
            // Zero points within the type's range (int8's, else int32's). Backwards, so
            // that channel 0's values are the ones kept as the per-tensor ones.
            let (low, high) = match dtype {
                DType::I8 => (-128, 127),
                _ => (i32::MIN.into(), i32::MAX.into()),
            };
            for c in (0..scales.len()).rev() {
                let (scale, zp) = (scales.f32(buf, c)?, zps.i64(buf, c)?);
                if !positive_finite(scale) {
                    return Err(Error::Malformed(why!("quantization scale is not positive and finite")));
                }
                if !(low..=high).contains(&zp) {
                    return Err(Error::Malformed(why!("zero point out of range for the tensor's type")));
                }
                (info.scale, info.zero_point) = (scale, zp as i32);
            }
        }
        if dtype == DType::I8 && !info.is_quantized() {
            return Err(Error::Malformed(why!("int8 tensor without quantization parameters")));
        }
        Ok(())
    }

    /// [`Model::validate_operator`] through [`Table`], without [`FAST_SETUP`] (whose
    /// reads are all this one).
    #[inline(never)]
    pub(crate) fn operator_checking(&self, i: usize) -> Result<OperatorInfo> {
        let buf = self.buf();
        let op = self.operators.table(buf, i)?;
        let index = op.u32_or(buf, 0, 0)? as usize;
        if index >= self.codes.len() {
            return Err(Error::Malformed(why!("operator code index")));
        }
        let code = self.codes.table(buf, index)?;
        // Schema 3 keeps small codes in a byte (deprecated_builtin_code) and the rest in
        // builtin_code: the larger of the two is the operator (TFLite's GetBuiltinCode).
        let deprecated = code.u8_or(buf, 0, 0)? as i8 as i32;
        let builtin = code.i32_or(buf, 3, 0)?.max(deprecated);
        // A custom code's text is never read (its bytes are bounds-checked, its text is
        // not): every custom operator is refused by its builtin code, CUSTOM.
        code.vector(buf, 1, 1)?;
        let opcode = OpCode::from_code(builtin);
        Ok(OperatorInfo {
            code: opcode,
            version: code.i32_or(buf, 2, 1)?,
            inputs: op.vector(buf, 1, 4)?,
            outputs: op.vector(buf, 2, 4)?,
            options_type: op.u8_or(buf, 3, 0)?,
            options: op.table(buf, 4)?,
        })
    }
}
