//! ADD and MUL, int8 and f32, with numpy broadcasting, as TFLM's reference kernels
//! compute them (`reference_integer_ops::Add`/`Mul` and their `BroadcastXxx6DSlow`,
//! `reference_ops::Add`/`Mul` for f32). Either input may be a constant of the model.
//!
//! Preparation merges the broadcast into at most six loops (adjacent axes along which
//! each input either moves or stays merge into one), stored in the arena's persistent
//! part; invoke walks the outer loops and runs the innermost as a flat loop in which a
//! broadcast operand is read, and for int8 rescaled, once.

use super::{required, Io, Persist, Slot};
use crate::quant::{quantize_multiplier, Activation, Requant};
use crate::schema::{DType, Model, OpCode, OperatorInfo, TensorInfo, MAX_DIMS};
use crate::{Error, Result};

const ADD_OPTIONS: u8 = 11;
const MUL_OPTIONS: u8 = 21;
/// TFLM's int8 ADD works on inputs scaled up by 2^20 (`left_shift`).
const ADD_LEFT_SHIFT: u32 = 20;

/// ADD or MUL, prepared.
#[derive(Clone, Copy, Debug)]
pub struct AddMul<'m> {
    inputs: [Operand<'m>; 2],
    output: usize,
    /// Where the broadcast loops are, in the persistent part.
    loops: usize,
    kind: Kind,
}

/// An input: a planned tensor, or a constant read from the model.
#[derive(Clone, Copy, Debug)]
enum Operand<'m> {
    Arena(usize),
    Constant(&'m [u8]),
}

impl<'m> Operand<'m> {
    fn new(index: usize, t: &TensorInfo<'m>) -> Self {
        match t.data {
            Some(data) => Operand::Constant(data),
            None => Operand::Arena(index),
        }
    }

    /// The slot to ask the arena for (an empty one for a constant).
    fn slot(&self, slots: &[Slot]) -> Result<Slot> {
        match *self {
            Operand::Arena(t) => super::slot(slots, t),
            Operand::Constant(_) => Ok(Slot::default()),
        }
    }

    /// The operand's bytes, given what the arena returned for its slot.
    fn bytes<'a>(&self, arena: &'a [u8]) -> &'a [u8]
    where
        'm: 'a,
    {
        match *self {
            Operand::Arena(_) => arena,
            Operand::Constant(data) => data,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    AddF32 { min: f32, max: f32 },
    MulF32 { min: f32, max: f32 },
    AddI8(AddI8),
    MulI8(MulI8),
}

/// TFLM's int8 ADD: each input, offset and shifted up by 2^20, is rescaled to the
/// common scale 2 x max(input scales); the sum is rescaled to the output's.
#[derive(Clone, Copy, Debug)]
struct AddI8 {
    offsets: [i32; 2],
    /// (multiplier, shift) of input 1, input 2 and the output; shifts <= 0.
    multipliers: [(i32, i32); 3],
    output_offset: i32,
    act_min: i32,
    act_max: i32,
}

/// TFLM's int8 MUL: the product of the offset inputs, rescaled once.
#[derive(Clone, Copy, Debug)]
struct MulI8 {
    offsets: [i32; 2],
    multiplier: (i32, i32),
    output_offset: i32,
    act_min: i32,
    act_max: i32,
}

pub fn prepare<'m>(model: &Model<'m>, op: &OperatorInfo, persist: &mut Persist<'_>) -> Result<AddMul<'m>> {
    let code = op.code;
    let bad = |why| Error::InvalidOperator(code, why);
    if op.inputs.len() != 2 || op.outputs.len() != 1 {
        return Err(bad(why!("needs two inputs and one output")));
    }
    let is_add = code == OpCode::ADD;
    let mut activation = Activation::None;
    if let Some(options) = op.options {
        if op.options_type != if is_add { ADD_OPTIONS } else { MUL_OPTIONS } {
            return Err(bad(why!("options of another operator")));
        }
        activation = Activation::from_schema(options.u8_or(model.buf(), 0, 0)?)
            .ok_or(bad(why!("unsupported fused activation")))?;
    }
    let (i1, t1) = required(model, op.inputs, 0, code)?;
    let (i2, t2) = required(model, op.inputs, 1, code)?;
    let (output, out_t) = required(model, op.outputs, 0, code)?;
    if out_t.data.is_some() {
        return Err(bad(why!("output is a constant")));
    }
    if t1.dtype != out_t.dtype || t2.dtype != out_t.dtype {
        return Err(bad(why!("inputs and output differ in type")));
    }
    let loops = Loops::new(&t1.dims(), &t2.dims(), &out_t.dims())
        .ok_or(bad(why!("output shape is not the broadcast of the input shapes")))?;
    let at = loops.store(persist)?;
    let kind = match (out_t.dtype, is_add) {
        (DType::F32, true) => {
            let (min, max) = activation.float_range();
            Kind::AddF32 { min, max }
        }
        (DType::F32, false) => {
            let (min, max) = activation.float_range();
            Kind::MulF32 { min, max }
        }
        (DType::I8, _) => {
            let (act_min, act_max) = activation
                .int8_range(out_t.scale, out_t.zero_point)
                .ok_or(bad(why!("activation range overflows")))?;
            let offsets = [-t1.zero_point, -t2.zero_point];
            if is_add {
                // As TFLM: the larger scale as float, then doubled in double.
                let twice_max = 2.0 * t1.scale.max(t2.scale) as f64;
                let real_output = twice_max / ((1u32 << ADD_LEFT_SHIFT) as f64 * out_t.scale as f64);
                Kind::AddI8(AddI8 {
                    offsets,
                    multipliers: [
                        smaller_than_one(t1.scale as f64 / twice_max, code)?,
                        smaller_than_one(t2.scale as f64 / twice_max, code)?,
                        smaller_than_one(real_output, code)?,
                    ],
                    output_offset: out_t.zero_point,
                    act_min,
                    act_max,
                })
            } else {
                let real = t1.scale as f64 * t2.scale as f64 / out_t.scale as f64;
                Kind::MulI8(MulI8 {
                    offsets,
                    multiplier: super::requant_multiplier(real, code)?,
                    output_offset: out_t.zero_point,
                    act_min,
                    act_max,
                })
            }
        }
        _ => return Err(bad(why!("f32 or int8 only"))),
    };
    Ok(AddMul { inputs: [Operand::new(i1, &t1), Operand::new(i2, &t2)], output, loops: at, kind })
}

/// TFLite's `QuantizeMultiplierSmallerThanOneExp`, whose checks abort TFLM: the real
/// multiplier must lie in (0, 1) and quantize with a shift <= 0.
fn smaller_than_one(real: f64, code: OpCode) -> Result<(i32, i32)> {
    let (m, s) = quantize_multiplier(real);
    if !(real > 0.0 && real < 1.0) || s > 0 {
        return Err(Error::InvalidOperator(code, why!("rescaling factor is not below one")));
    }
    Ok((m, s))
}

/// The broadcast as nested loops, outermost first: each loop's count and how far
/// each input moves per step (0 along a broadcast axis). The innermost steps are 0
/// or 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Loops {
    rank: usize,
    counts: [usize; MAX_DIMS],
    steps: [[usize; MAX_DIMS]; 2],
}

impl Loops {
    /// Words in the persistent part: rank, then counts and both inputs' steps.
    const WORDS: usize = 1 + 3 * MAX_DIMS;

    /// The loops for `a` and `b` broadcast to `out` (right-aligned, numpy rules), or
    /// `None` if `out` is not exactly that broadcast.
    fn new(a: &[i32], b: &[i32], out: &[i32]) -> Option<Loops> {
        let rank = a.len().max(b.len()).max(out.len());
        let dim = |s: &[i32], i: usize| -> usize {
            // Axis i of `rank` axes, with leading ones for a shorter shape.
            (i + s.len()).checked_sub(rank).and_then(|k| s.get(k)).map_or(1, |&d| d as usize)
        };
        // Innermost first while building.
        let mut loops = Loops { rank: 0, counts: [0; MAX_DIMS], steps: [[0; MAX_DIMS]; 2] };
        let mut moves_prev = None;
        let (mut size_a, mut size_b) = (1usize, 1usize);
        for i in (0..rank).rev() {
            let (da, db, o) = (dim(a, i), dim(b, i), dim(out, i));
            if (da != o && da != 1) || (db != o && db != 1) || o != da.max(db) {
                return None;
            }
            if o == 1 {
                continue;
            }
            let moves = (da != 1, db != 1);
            if moves_prev == Some(moves) {
                let k = loops.rank - 1;
                loops.counts[k] *= o;
            } else {
                let k = loops.rank;
                loops.counts[k] = o;
                loops.steps[0][k] = if moves.0 { size_a } else { 0 };
                loops.steps[1][k] = if moves.1 { size_b } else { 0 };
                loops.rank += 1;
                moves_prev = Some(moves);
            }
            size_a *= da;
            size_b *= db;
        }
        if loops.rank == 0 {
            loops.counts[0] = 1;
            loops.rank = 1;
        }
        let r = loops.rank;
        loops.counts[..r].reverse();
        loops.steps[0][..r].reverse();
        loops.steps[1][..r].reverse();
        Some(loops)
    }

    fn store(&self, persist: &mut Persist<'_>) -> Result<usize> {
        let at = persist.alloc(4 * Self::WORDS)?;
        let words = core::iter::once(self.rank).chain(self.counts).chain(self.steps[0]).chain(self.steps[1]);
        for (k, w) in words.enumerate() {
            persist.put_i32(at + 4 * k, w as i32);
        }
        Ok(at)
    }

    fn load(persistent: &[u8], at: usize) -> Result<Loops> {
        let bytes = persistent.get(at..at + 4 * Self::WORDS).ok_or(Error::BadTensor)?;
        let mut words = bytes.chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize);
        let mut next = || words.next().unwrap_or(0);
        let rank = next();
        let mut loops = Loops { rank, counts: [0; MAX_DIMS], steps: [[0; MAX_DIMS]; 2] };
        for c in loops.counts.iter_mut() {
            *c = next();
        }
        for input in 0..2 {
            for s in loops.steps[input].iter_mut() {
                *s = next();
            }
        }
        if !(1..=MAX_DIMS).contains(&rank) {
            return Err(Error::BadTensor);
        }
        Ok(loops)
    }

    /// Calls `row(a, b, out)` with the element offsets at which each run of the
    /// innermost loop starts, in output order.
    fn for_each_row(&self, mut row: impl FnMut(usize, usize, usize) -> Result<()>) -> Result<()> {
        let r = self.rank.clamp(1, MAX_DIMS);
        let inner = self.counts[r - 1];
        let mut index = [0usize; MAX_DIMS];
        let (mut a, mut b, mut out) = (0usize, 0usize, 0usize);
        loop {
            row(a, b, out)?;
            out = out.wrapping_add(inner);
            let mut k = r - 1;
            loop {
                if k == 0 {
                    return Ok(());
                }
                k -= 1;
                // (Wrapping: a corrupt plan then fails the caller's range check.)
                index[k] += 1;
                a = a.wrapping_add(self.steps[0][k]);
                b = b.wrapping_add(self.steps[1][k]);
                if index[k] < self.counts[k] {
                    break;
                }
                a = a.wrapping_sub(self.steps[0][k].wrapping_mul(self.counts[k]));
                b = b.wrapping_sub(self.steps[1][k].wrapping_mul(self.counts[k]));
                index[k] = 0;
            }
        }
    }
}

/// An int8 binary operator split so that a broadcast operand's share is computed
/// once per run: `combine(first(x), second(y))`.
trait Int8Op {
    fn first(&self, x: u8) -> i32;
    fn second(&self, y: u8) -> i32;
    fn combine(&self, p: i32, q: i32) -> u8;
}

struct AddI8Eval {
    offsets: [i32; 2],
    requant: [Requant; 3],
    output_offset: i32,
    act_min: i32,
    act_max: i32,
}

impl AddI8Eval {
    #[inline(always)]
    fn scaled(&self, x: u8, input: usize) -> i32 {
        let shifted = (x as i8 as i32 + self.offsets[input]) << ADD_LEFT_SHIFT;
        self.requant[input].apply(shifted)
    }
}

impl Int8Op for AddI8Eval {
    #[inline(always)]
    fn first(&self, x: u8) -> i32 {
        self.scaled(x, 0)
    }

    #[inline(always)]
    fn second(&self, y: u8) -> i32 {
        self.scaled(y, 1)
    }

    #[inline(always)]
    fn combine(&self, p: i32, q: i32) -> u8 {
        let raw = self.requant[2].apply(p.wrapping_add(q)).wrapping_add(self.output_offset);
        raw.max(self.act_min).min(self.act_max) as i8 as u8
    }
}

struct MulI8Eval {
    offsets: [i32; 2],
    requant: Requant,
    output_offset: i32,
    act_min: i32,
    act_max: i32,
}

impl Int8Op for MulI8Eval {
    #[inline(always)]
    fn first(&self, x: u8) -> i32 {
        x as i8 as i32 + self.offsets[0]
    }

    #[inline(always)]
    fn second(&self, y: u8) -> i32 {
        y as i8 as i32 + self.offsets[1]
    }

    #[inline(always)]
    fn combine(&self, p: i32, q: i32) -> u8 {
        // |p|, |q| <= 255: the product cannot overflow.
        let raw = self.output_offset.wrapping_add(self.requant.apply(p * q));
        raw.max(self.act_min).min(self.act_max) as i8 as u8
    }
}

/// TFLM's float activation clamp, `min(max(x, lo), hi)` (NaN passes through).
#[inline(always)]
fn clamp_f32(x: f32, lo: f32, hi: f32) -> f32 {
    let y = if x < lo { lo } else { x };
    if hi < y {
        hi
    } else {
        y
    }
}

impl AddMul<'_> {
    pub fn eval(&self, slots: &[Slot], io: &mut Io<'_>) -> Result<()> {
        let loops = Loops::load(io.persistent, self.loops)?;
        let out_slot = super::slot(slots, self.output)?;
        let in_slots = [self.inputs[0].slot(slots)?, self.inputs[1].slot(slots)?];
        let ([va, vb], out) = io.inputs_and_output(in_slots, out_slot)?;
        let (a, b) = (self.inputs[0].bytes(va), self.inputs[1].bytes(vb));
        match self.kind {
            Kind::AddI8(p) => {
                let [m1, m2, mo] = p.multipliers;
                let op = AddI8Eval {
                    offsets: p.offsets,
                    requant: [Requant::new(m1.0, m1.1), Requant::new(m2.0, m2.1), Requant::new(mo.0, mo.1)],
                    output_offset: p.output_offset,
                    act_min: p.act_min,
                    act_max: p.act_max,
                };
                run_i8(&loops, a, b, out, &op)
            }
            Kind::MulI8(p) => {
                let op = MulI8Eval {
                    offsets: p.offsets,
                    requant: Requant::new(p.multiplier.0, p.multiplier.1),
                    output_offset: p.output_offset,
                    act_min: p.act_min,
                    act_max: p.act_max,
                };
                run_i8(&loops, a, b, out, &op)
            }
            Kind::AddF32 { min, max } => run_f32(&loops, a, b, out, |x, y| clamp_f32(x + y, min, max)),
            Kind::MulF32 { min, max } => run_f32(&loops, a, b, out, |x, y| clamp_f32(x * y, min, max)),
        }
    }
}

/// The elements of one innermost run of an input: `n` of them, or one when the run
/// broadcasts it.
fn run_of(bytes: &[u8], start: usize, step: usize, n: usize, size: usize) -> Result<&[u8]> {
    let len = if step == 0 { 1 } else { n };
    let end = start.checked_add(len).and_then(|e| e.checked_mul(size)).ok_or(Error::BadTensor)?;
    bytes.get(start * size..end).ok_or(Error::BadTensor)
}

/// f32 from four little-endian bytes (0.0 if fewer: never, for validated runs).
#[inline(always)]
fn f32_le(c: &[u8]) -> f32 {
    c.get(..4).and_then(|c| <[u8; 4]>::try_from(c).ok()).map_or(0.0, f32::from_le_bytes)
}

fn run_i8(loops: &Loops, a: &[u8], b: &[u8], out: &mut [u8], op: &impl Int8Op) -> Result<()> {
    let r = loops.rank.clamp(1, MAX_DIMS);
    let (n, step_a, step_b) = (loops.counts[r - 1], loops.steps[0][r - 1], loops.steps[1][r - 1]);
    loops.for_each_row(|ia, ib, io| {
        let x = run_of(a, ia, step_a, n, 1)?;
        let y = run_of(b, ib, step_b, n, 1)?;
        let o = out.get_mut(io..io + n).ok_or(Error::BadTensor)?;
        if step_a == 0 {
            let p = op.first(x.first().copied().unwrap_or(0));
            for (o, &y) in o.iter_mut().zip(y) {
                *o = op.combine(p, op.second(y));
            }
        } else if step_b == 0 {
            let q = op.second(y.first().copied().unwrap_or(0));
            for (o, &x) in o.iter_mut().zip(x) {
                *o = op.combine(op.first(x), q);
            }
        } else {
            for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
                *o = op.combine(op.first(x), op.second(y));
            }
        }
        Ok(())
    })
}

fn run_f32(loops: &Loops, a: &[u8], b: &[u8], out: &mut [u8], op: impl Fn(f32, f32) -> f32) -> Result<()> {
    let r = loops.rank.clamp(1, MAX_DIMS);
    let (n, step_a, step_b) = (loops.counts[r - 1], loops.steps[0][r - 1], loops.steps[1][r - 1]);
    loops.for_each_row(|ia, ib, io| {
        let x = run_of(a, ia, step_a, n, 4)?;
        let y = run_of(b, ib, step_b, n, 4)?;
        let o = out.get_mut(4 * io..4 * (io + n)).ok_or(Error::BadTensor)?.chunks_exact_mut(4);
        if step_a == 0 {
            let x = f32_le(x);
            for (o, y) in o.zip(y.chunks_exact(4)) {
                o.copy_from_slice(&op(x, f32_le(y)).to_le_bytes());
            }
        } else if step_b == 0 {
            let y = f32_le(y);
            for (o, x) in o.zip(x.chunks_exact(4)) {
                o.copy_from_slice(&op(f32_le(x), y).to_le_bytes());
            }
        } else {
            for ((o, x), y) in o.zip(x.chunks_exact(4)).zip(y.chunks_exact(4)) {
                o.copy_from_slice(&op(f32_le(x), f32_le(y)).to_le_bytes());
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// (counts, steps of a, steps of b), outermost first.
    fn loops(a: &[i32], b: &[i32], out: &[i32]) -> Option<(Vec<usize>, Vec<usize>, Vec<usize>)> {
        Loops::new(a, b, out).map(|l| {
            let r = l.rank;
            (l.counts[..r].to_vec(), l.steps[0][..r].to_vec(), l.steps[1][..r].to_vec())
        })
    }

    #[test]
    fn broadcast_merges_axes_along_which_each_input_behaves_alike() {
        let v = |s: &[usize]| s.to_vec();
        assert_eq!(loops(&[1, 4, 4, 3], &[1, 4, 4, 3], &[1, 4, 4, 3]), Some((v(&[48]), v(&[1]), v(&[1]))));
        assert_eq!(
            loops(&[1, 4, 4, 3], &[1, 1, 1, 3], &[1, 4, 4, 3]),
            Some((v(&[16, 3]), v(&[3, 1]), v(&[0, 1])))
        );
        assert_eq!(loops(&[1, 4, 4, 3], &[], &[1, 4, 4, 3]), Some((v(&[48]), v(&[1]), v(&[0]))));
        assert_eq!(loops(&[3], &[1, 4, 4, 3], &[1, 4, 4, 3]), Some((v(&[16, 3]), v(&[0, 1]), v(&[3, 1]))));
        assert_eq!(
            loops(&[2, 1, 3], &[1, 4, 1], &[2, 4, 3]),
            Some((v(&[2, 4, 3]), v(&[3, 0, 1]), v(&[0, 1, 0])))
        );
        assert_eq!(loops(&[], &[], &[]), Some((v(&[1]), v(&[0]), v(&[0]))));
        assert_eq!(loops(&[4], &[4], &[1, 1, 4]), Some((v(&[4]), v(&[1]), v(&[1]))));
    }

    #[test]
    fn shapes_that_do_not_broadcast_are_refused() {
        assert_eq!(loops(&[4], &[3], &[4]), None);
        assert_eq!(loops(&[1, 4], &[1, 4], &[4, 4]), None, "output larger than the broadcast");
        assert_eq!(loops(&[2, 4], &[1, 4], &[1, 4]), None, "output smaller than the broadcast");
        assert_eq!(loops(&[1, 4], &[2, 1], &[2, 1]), None);
    }

    #[test]
    fn rows_visit_the_numpy_broadcast() {
        let (a, b, out) = ([2, 1, 3], [1, 4, 1], [2, 4, 3]);
        let l = Loops::new(&a, &b, &out).unwrap();
        let mut got = Vec::new();
        l.for_each_row(|ia, ib, io| {
            for k in 0..l.counts[l.rank - 1] {
                got.push((ia + k * l.steps[0][l.rank - 1], ib + k * l.steps[1][l.rank - 1], io + k));
            }
            Ok(())
        })
        .unwrap();
        let mut want = Vec::new();
        for i in 0..2 {
            for j in 0..4 {
                for k in 0..3 {
                    want.push((i * 3 + k, j, (i * 4 + j) * 3 + k));
                }
            }
        }
        assert_eq!(got, want);
    }

    #[test]
    fn loops_survive_the_persistent_part() {
        let l = Loops::new(&[2, 1, 3], &[1, 4, 1], &[2, 4, 3]).unwrap();
        let mut buf = [0u8; 4 * Loops::WORDS + 8];
        let mut persist = Persist::new(&mut buf);
        persist.alloc(8).unwrap();
        let at = l.store(&mut persist).unwrap();
        assert_eq!(Loops::load(&buf, at), Ok(l));
        assert_eq!(Loops::load(&buf[..at + 8], at), Err(Error::BadTensor));
    }
}
