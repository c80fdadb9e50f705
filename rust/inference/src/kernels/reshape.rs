//! RESHAPE: the same bytes under another shape (the new shape comes from the output
//! tensor, which the converter always sets for static models).

use super::{required, Io, Slot};
use crate::schema::{Model, OperatorInfo};
use crate::{Error, Result};

#[derive(Clone, Copy, Debug)]
pub struct Reshape {
    input: usize,
    output: usize,
}

pub fn prepare(model: &Model<'_>, op: &OperatorInfo) -> Result<Reshape> {
    let bad = |why| Error::InvalidOperator(op.code, why);
    if !(1..=2).contains(&op.inputs.len()) || op.outputs.len() != 1 {
        return Err(bad(why!("needs the input, an optional shape and one output")));
    }
    let (input, in_t) = required(model, op.inputs, 0, op.code)?;
    let (output, out_t) = required(model, op.outputs, 0, op.code)?;
    // Constants stay in the model and get no arena bytes (found by fuzzing).
    if in_t.data.is_some() || out_t.data.is_some() {
        return Err(bad(why!("input and output must not be constants")));
    }
    if in_t.bytes() != out_t.bytes() || in_t.dtype != out_t.dtype {
        return Err(bad(why!("input and output differ in size or type")));
    }
    Ok(Reshape { input, output })
}

impl Reshape {
    pub fn eval(&self, slots: &[Slot], io: &mut Io<'_>) -> Result<()> {
        let (input, output) = io.split(super::slot(slots, self.input)?, super::slot(slots, self.output)?)?;
        output.copy_from_slice(input);
        Ok(())
    }
}
