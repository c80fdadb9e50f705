//! The part of the TFLite schema (`tensorflow/lite/schema/schema.fbs`) the engine
//! reads, over [`crate::flatbuffer`], and the model-level validation.

use crate::flatbuffer::{Buf, Span, Table, Vector};
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
        /// Builtin operators (schema `BuiltinOperator`), by the names TFLite uses.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[allow(non_camel_case_types)]
        pub enum OpCode {
            $($name,)*
            /// Any other builtin code.
            Other(i32),
            /// A custom operator.
            Custom,
        }

        impl OpCode {
            fn from_code(code: i32) -> Self {
                match code {
                    $($code => OpCode::$name,)*
                    other => OpCode::Other(other),
                }
            }

            /// The schema's builtin code (`None` for custom operators and codes
            /// beyond a byte).
            pub fn builtin_code(self) -> Option<u8> {
                match self {
                    $(OpCode::$name => Some($code),)*
                    OpCode::Other(c) => u8::try_from(c).ok(),
                    OpCode::Custom => None,
                }
            }

            /// The name for a builtin code, as [`OpCode::name`] gives it.
            pub fn name_of(code: u8) -> &'static str {
                Self::from_code(code as i32).name()
            }

            /// The name TFLite gives the operator.
            pub fn name(self) -> &'static str {
                match self {
                    $(OpCode::$name => stringify!($name),)*
                    OpCode::Other(_) => "unknown builtin",
                    OpCode::Custom => "custom",
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

/// A tensor's static description.
#[derive(Clone, Copy, Debug)]
pub struct TensorInfo<'a> {
    pub dtype: DType,
    pub dims: [i32; MAX_DIMS],
    pub rank: usize,
    /// Constant data from the model (weights, biases, shapes), if any.
    pub data: Option<&'a [u8]>,
    /// Per-tensor scale and zero point (the first of per-channel ones).
    pub scale: f32,
    pub zero_point: i32,
    /// Per-channel scales, when there are several.
    pub channel_scales: Option<Vector<'a>>,
    pub quantized_dimension: usize,
}

impl TensorInfo<'_> {
    /// A placeholder for [`Model::read_tensor`] to fill.
    pub(crate) const EMPTY: TensorInfo<'static> = TensorInfo {
        dtype: DType::I8,
        dims: [1; MAX_DIMS],
        rank: 0,
        data: None,
        scale: 0.0,
        zero_point: 0,
        channel_scales: None,
        quantized_dimension: 0,
    };

    pub fn dims(&self) -> &[i32] {
        self.dims.get(..self.rank).unwrap_or_default()
    }

    pub fn elements(&self) -> usize {
        self.dims().iter().map(|&d| d as usize).product()
    }

    pub fn bytes(&self) -> usize {
        self.elements() * self.dtype.size()
    }

    /// Quantized tensors carry a positive, finite scale.
    pub fn is_quantized(&self) -> bool {
        positive_finite(self.scale)
    }
}

/// One operator: its code, version, tensor indices (-1: optional input absent) and
/// options table.
#[derive(Clone, Copy)]
pub struct OperatorInfo<'a> {
    pub code: OpCode,
    pub version: i32,
    pub inputs: Vector<'a>,
    pub outputs: Vector<'a>,
    pub options: Option<Table<'a>>,
    pub options_type: u8,
}

/// A model that passed validation; it borrows the flatbuffer (flash on a device).
/// Small (56 bytes): the buffer once and where its six top-level vectors lie.
#[derive(Clone, Copy)]
pub struct Model<'a> {
    buf: &'a [u8],
    buffers: Span,
    codes: Span,
    tensors: Span,
    operators: Span,
    inputs: Span,
    outputs: Span,
}

impl<'a> Model<'a> {
    /// A model of nothing: what an [`crate::Interpreter::empty`] holds.
    pub(crate) const EMPTY: Model<'a> = Model {
        buf: &[],
        buffers: Span::EMPTY,
        codes: Span::EMPTY,
        tensors: Span::EMPTY,
        operators: Span::EMPTY,
        inputs: Span::EMPTY,
        outputs: Span::EMPTY,
    };

    /// Parses and validates `bytes` completely (see the crate documentation).
    pub fn load(bytes: &'a [u8]) -> Result<Self> {
        let buf = Buf(bytes);
        let root = buf.root()?;
        if root.u32_or(0, 0)? != 3 {
            return Err(Error::Malformed(crate::why("schema version is not 3")));
        }
        let need = |v: Option<Vector<'a>>, what| v.ok_or(Error::Malformed(what));
        let codes = need(root.vector(1, 4)?, crate::why("no operator codes"))?;
        let subgraphs = need(root.vector(2, 4)?, crate::why("no subgraphs"))?;
        let buffers = need(root.vector(4, 4)?, crate::why("no buffers"))?;
        if subgraphs.len() != 1 {
            return Err(Error::Malformed(crate::why("exactly one subgraph is supported")));
        }
        let graph = subgraphs.table(0)?;
        let model = Model {
            buf: bytes,
            buffers: buffers.span(),
            codes: codes.span(),
            tensors: need(graph.vector(0, 4)?, crate::why("no tensors"))?.span(),
            inputs: need(graph.vector(1, 4)?, crate::why("no inputs"))?.span(),
            outputs: need(graph.vector(2, 4)?, crate::why("no outputs"))?.span(),
            operators: need(graph.vector(3, 4)?, crate::why("no operators"))?.span(),
        };
        for i in 0..model.tensors().len() {
            model.tensor(i)?;
        }
        for v in [model.inputs(), model.outputs()] {
            for i in 0..v.len() {
                let t = v.i32(i)?;
                if t < 0 || t as usize >= model.tensors().len() {
                    return Err(Error::Malformed(crate::why("graph input or output index")));
                }
                if model.tensor(t as usize)?.data.is_some() {
                    return Err(Error::Malformed(crate::why("graph input or output is a constant")));
                }
            }
        }
        for i in 0..model.operators().len() {
            let op = model.operator(i)?;
            for (v, is_output) in [(op.inputs, false), (op.outputs, true)] {
                for j in 0..v.len() {
                    let t = v.i32(j)?;
                    if t < -1 || t >= model.tensors().len() as i32 || (is_output && t < 0) {
                        return Err(Error::Malformed(crate::why("operator tensor index")));
                    }
                    // Operators write to the arena: an output must not be a constant.
                    if is_output && model.tensor(t as usize)?.data.is_some() {
                        return Err(Error::Malformed(crate::why("an operator output is a constant tensor")));
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

    pub fn inputs(&self) -> Vector<'a> {
        self.inputs.over(self.buf)
    }

    pub fn outputs(&self) -> Vector<'a> {
        self.outputs.over(self.buf)
    }

    fn buffers(&self) -> Vector<'a> {
        self.buffers.over(self.buf)
    }

    fn codes(&self) -> Vector<'a> {
        self.codes.over(self.buf)
    }

    fn tensors(&self) -> Vector<'a> {
        self.tensors.over(self.buf)
    }

    fn operators(&self) -> Vector<'a> {
        self.operators.over(self.buf)
    }

    /// Tensor `i`, validated: type, shape, constant data size, quantization.
    pub fn tensor(&self, i: usize) -> Result<TensorInfo<'a>> {
        let mut info = TensorInfo::EMPTY;
        self.read_tensor(i, &mut info)?;
        Ok(info)
    }

    /// [`Model::tensor`] into `info` (the caller's storage: no `Result` holding a copy).
    #[inline(never)]
    pub(crate) fn read_tensor(&self, i: usize, info: &mut TensorInfo<'a>) -> Result<()> {
        let t = self.tensors().table(i)?;
        let dtype = DType::from_schema(t.u8_or(1, 0)?)?;
        let mut dims = [1i32; MAX_DIMS];
        let mut rank = 0;
        if let Some(shape) = t.vector(0, 4)? {
            if shape.len() > MAX_DIMS {
                return Err(Error::Malformed(crate::why("tensor rank above 6")));
            }
            rank = shape.len();
            for (d, slot) in dims.iter_mut().enumerate().take(rank) {
                *slot = shape.i32(d)?;
                if *slot < 1 {
                    return Err(Error::Malformed(crate::why(
                        "tensor dimension below 1 (dynamic shapes are not supported)",
                    )));
                }
            }
        }
        let mut elements: usize = 1;
        for &d in &dims[..rank] {
            elements = elements
                .checked_mul(d as usize)
                .ok_or(Error::Malformed(crate::why("tensor size overflow")))?;
        }
        let bytes = elements
            .checked_mul(dtype.size())
            .filter(|&b| b <= 1 << 24)
            .ok_or(Error::Malformed(crate::why("tensor too large")))?;
        let buffer = t.u32_or(2, 0)? as usize;
        if buffer >= self.buffers().len() {
            return Err(Error::Malformed(crate::why("tensor buffer index")));
        }
        let data = match self.buffers().table(buffer)?.vector(0, 1)? {
            Some(v) if !v.is_empty() => {
                if v.len() != bytes {
                    return Err(Error::Malformed(crate::why(
                        "constant tensor data size does not match its shape",
                    )));
                }
                Some(v.bytes())
            }
            _ => None,
        };
        *info = TensorInfo {
            dtype,
            dims,
            rank,
            data,
            scale: 0.0,
            zero_point: 0,
            channel_scales: None,
            quantized_dimension: 0,
        };
        if let Some(q) = t.table(4)? {
            if let (Some(scales), Some(zps)) = (q.vector(2, 4)?, q.vector(3, 8)?) {
                if scales.is_empty() || scales.len() != zps.len() {
                    return Err(Error::Malformed(crate::why(
                        "quantization scales and zero points differ in count",
                    )));
                }
                let qd = q.i32_or(6, 0)?;
                if scales.len() > 1 {
                    if qd < 0 || qd as usize >= rank || dims[qd as usize] as usize != scales.len() {
                        return Err(Error::Malformed(crate::why(
                            "per-channel scales do not match the quantized dimension",
                        )));
                    }
                    info.channel_scales = Some(scales);
                    info.quantized_dimension = qd as usize;
                }
                for c in 0..scales.len() {
                    let s = scales.f32(c)?;
                    if !positive_finite(s) {
                        return Err(Error::Malformed(crate::why(
                            "quantization scale is not positive and finite",
                        )));
                    }
                    let zp = zps.i64(c)?;
                    if !(-128..=127).contains(&zp) && dtype == DType::I8 {
                        return Err(Error::Malformed(crate::why("int8 zero point out of range")));
                    }
                    if !(i32::MIN as i64..=i32::MAX as i64).contains(&zp) {
                        return Err(Error::Malformed(crate::why("zero point out of range")));
                    }
                }
                info.scale = scales.f32(0)?;
                info.zero_point = zps.i64(0)? as i32;
            }
        }
        if dtype == DType::I8 && !info.is_quantized() {
            return Err(Error::Malformed(crate::why("int8 tensor without quantization parameters")));
        }
        Ok(())
    }

    /// Operator `i` with its code resolved.
    pub fn operator(&self, i: usize) -> Result<OperatorInfo<'a>> {
        let op = self.operators().table(i)?;
        let index = op.u32_or(0, 0)? as usize;
        if index >= self.codes().len() {
            return Err(Error::Malformed(crate::why("operator code index")));
        }
        let code = self.codes().table(index)?;
        // Schema 3 keeps small codes in a byte (deprecated_builtin_code) and the rest in
        // builtin_code: the larger of the two is the operator (TFLite's GetBuiltinCode).
        let deprecated = code.u8_or(0, 0)? as i8 as i32;
        let builtin = code.i32_or(3, 0)?;
        // Only the custom code's presence matters (its bytes are bounds-checked, its
        // text, never read, is not).
        let opcode = if code.vector(1, 1)?.is_some() && builtin.max(deprecated) == 32 {
            OpCode::Custom
        } else {
            OpCode::from_code(builtin.max(deprecated))
        };
        Ok(OperatorInfo {
            code: opcode,
            version: code.i32_or(2, 1)?,
            inputs: op.vector(1, 4)?.ok_or(Error::Malformed(crate::why("operator without inputs")))?,
            outputs: op.vector(2, 4)?.ok_or(Error::Malformed(crate::why("operator without outputs")))?,
            options_type: op.u8_or(3, 0)?,
            options: op.table(4)?,
        })
    }
}
