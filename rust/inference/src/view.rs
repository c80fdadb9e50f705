//! What a user reads of a loaded model's graph: its operators and their tensors, as
//! types a user can name ([`Model::inputs`](crate::Model::inputs),
//! [`Model::operator`](crate::Model::operator)).

use crate::flatbuffer::{Buf, Vector};
use crate::schema::{OpCode, OperatorInfo};

/// Tensor indices of a graph or an operator, for [`Model::tensor`](crate::Model::tensor):
/// `None` for an optional operator input left out (never for the graph's inputs and
/// outputs).
///
/// ```
/// # let bytes = include_bytes!("../testdata/sine_int8.tflite");
/// let model = inference::Model::load(bytes)?;
/// assert_eq!(model.inputs().len(), 1);
/// let input = model.tensor(model.inputs().flatten().next().unwrap())?;
/// assert_eq!(input.dtype, inference::DType::I8);
/// # Ok::<(), inference::Error>(())
/// ```
#[derive(Clone)]
pub struct TensorIndices<'a> {
    buf: Buf<'a>,
    list: Vector,
    next: usize,
}

impl<'a> TensorIndices<'a> {
    pub(crate) fn new(buf: Buf<'a>, list: Vector) -> Self {
        TensorIndices { buf, list, next: 0 }
    }

    /// Index `i` of the list, if `i` is below its length and the tensor is present.
    pub fn get(&self, i: usize) -> Option<usize> {
        // The list's elements were checked to lie in the model when it was read.
        self.list.i32(self.buf, i).ok().and_then(|t| usize::try_from(t).ok())
    }
}

impl Iterator for TensorIndices<'_> {
    type Item = Option<usize>;

    fn next(&mut self) -> Option<Option<usize>> {
        let i = self.next;
        if i >= self.list.len() {
            return None;
        }
        self.next += 1;
        Some(self.get(i))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.list.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for TensorIndices<'_> {}

impl core::fmt::Debug for TensorIndices<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// One operator of a loaded model: what [`Model::operator`](crate::Model::operator)
/// returns.
///
/// ```
/// # let bytes = include_bytes!("../testdata/sine_int8.tflite");
/// let model = inference::Model::load(bytes)?;
/// let first = model.operator(0)?;
/// assert_eq!(first.code(), inference::OpCode::FULLY_CONNECTED);
/// assert_eq!(first.inputs().len(), 3); // input, weights, bias
/// # Ok::<(), inference::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Operator<'a> {
    buf: Buf<'a>,
    info: OperatorInfo,
}

impl<'a> Operator<'a> {
    pub(crate) fn new(buf: Buf<'a>, info: OperatorInfo) -> Self {
        Operator { buf, info }
    }

    /// The builtin operator.
    pub fn code(&self) -> OpCode {
        self.info.code
    }

    /// The operator's version (the model's operator code table).
    pub fn version(&self) -> i32 {
        self.info.version
    }

    /// The tensors it reads (`None`: an optional input left out).
    pub fn inputs(&self) -> TensorIndices<'a> {
        TensorIndices::new(self.buf, self.info.inputs)
    }

    /// The tensors it writes.
    pub fn outputs(&self) -> TensorIndices<'a> {
        TensorIndices::new(self.buf, self.info.outputs)
    }
}

impl core::fmt::Debug for Operator<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Operator")
            .field("code", &self.code())
            .field("version", &self.version())
            .field("inputs", &self.inputs())
            .field("outputs", &self.outputs())
            .finish()
    }
}
