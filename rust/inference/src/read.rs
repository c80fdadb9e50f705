//! How the setup reads a model's tensors and operators: validating everything once,
//! at load, then with bounds checks only ([`FAST_SETUP`]), or validating at every
//! read through [`Table`] in a build without convolutions (less flash).

#[cfg(doc)]
use crate::flatbuffer::Table;
use crate::flatbuffer::{Bad, Reader};
use crate::schema::{positive_finite, DType, Model, OpCode, OperatorInfo, TensorInfo, FAST_SETUP, MAX_DIMS};
use crate::{Error, Result};

impl<'a> Model<'a> {
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
    pub(crate) fn check_tensor(&self, i: usize) -> Result<()> {
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
