//! Integer requantization exactly as TFLite's reference kernels do it (the default
//! "double rounding" build of `tensorflow/lite/kernels/internal/common.cc` and gemmlowp's
//! fixed-point helpers), and the multipliers computed from float scales the way TFLite's
//! preparation computes them. No libm: rounding and `frexp` are done on the bits.

/// Rounds half away from zero (C's `round`), for |x| < 2^62.
pub fn round_f64(x: f64) -> f64 {
    let t = x as i64 as f64; // truncates toward zero
    let diff = x - t;
    if diff >= 0.5 {
        t + 1.0
    } else if diff <= -0.5 {
        t - 1.0
    } else {
        t
    }
}

/// Rounds half away from zero (C's `roundf`), for |x| < 2^62.
pub fn round_f32(x: f32) -> f32 {
    let t = x as i64 as f32;
    let diff = x - t;
    if diff >= 0.5 {
        t + 1.0
    } else if diff <= -0.5 {
        t - 1.0
    } else {
        t
    }
}

/// C's `frexp` for finite, non-zero `x`: `x = m * 2^e` with 0.5 <= |m| < 1.
pub fn frexp(x: f64) -> (f64, i32) {
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: scale into the normal range first.
        let (m, e) = frexp(x * f64::from_bits(0x4350_0000_0000_0000)); // 2^54
        return (m, e - 54);
    }
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, exp - 1022)
}

/// TFLite's `QuantizeMultiplier`: a real multiplier as a Q31 significand and a shift
/// (positive: left).
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    if real == 0.0 || !real.is_finite() {
        return (0, 0);
    }
    let (q, mut shift) = frexp(real);
    let mut q_fixed = round_f64(q * (1i64 << 31) as f64) as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    (q_fixed as i32, shift)
}

/// gemmlowp's `SaturatingRoundingDoublingHighMul`.
#[inline(always)]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge = if ab >= 0 { 1i64 << 30 } else { 1 - (1i64 << 30) };
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp's `RoundingDivideByPOT`: x / 2^exponent, rounding half away from zero.
#[inline(always)]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// TFLite's `MultiplyByQuantizedMultiplier` (double rounding).
#[inline(always)]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left = if shift > 0 { shift } else { 0 };
    let right = if shift > 0 { 0 } else { -shift };
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x.wrapping_mul(1 << left), multiplier),
        right,
    )
}

/// Fused activations (schema `ActivationFunctionType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    None,
    Relu,
    ReluN1To1,
    Relu6,
}

impl Activation {
    pub fn from_schema(v: u8) -> Option<Self> {
        match v {
            0 => Some(Activation::None),
            1 => Some(Activation::Relu),
            2 => Some(Activation::ReluN1To1),
            3 => Some(Activation::Relu6),
            _ => None, // TANH and SIGN_BIT are not fused by the converter for these ops
        }
    }

    /// The clamp of a float output.
    pub fn float_range(self) -> (f32, f32) {
        match self {
            Activation::None => (f32::MIN, f32::MAX),
            Activation::Relu => (0.0, f32::MAX),
            Activation::ReluN1To1 => (-1.0, 1.0),
            Activation::Relu6 => (0.0, 6.0),
        }
    }

    /// The clamp of an int8 output (TFLite's `CalculateActivationRangeQuantized`):
    /// `zero_point + round(c / scale)` for the bounds `c`, the division in f32 (done
    /// exactly in integers, `scale::round_quotient`); `None` where TFLite's
    /// rounded bound leaves the int32 range.
    pub fn int8_range(self, scale: f32, zero_point: i32) -> Option<(i32, i32)> {
        let q = |c: f32, negative: bool| -> Option<i32> {
            let t = crate::scale::round_quotient(c, scale)?;
            // As the float code converts: 2^31 saturates to i32::MAX, -2^31 is exact.
            let t = if negative { (t as i32).wrapping_neg() } else { t.min(i32::MAX as u32) as i32 };
            Some(zero_point.wrapping_add(t))
        };
        let (lo, hi) = (-128, 127);
        Some(match self {
            Activation::None => (lo, hi),
            Activation::Relu => (lo.max(zero_point), hi),
            Activation::Relu6 => (lo.max(zero_point), hi.min(q(6.0, false)?)),
            Activation::ReluN1To1 => (lo.max(q(1.0, true)?), hi.min(q(1.0, false)?)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_and_round_match_c() {
        assert_eq!(frexp(1.0), (0.5, 1));
        assert_eq!(frexp(0.75), (0.75, 0));
        assert_eq!(frexp(-3.0), (-0.75, 2));
        assert_eq!(frexp(f64::MIN_POSITIVE / 4.0), (0.5, -1023));
        assert_eq!(round_f64(2.5), 3.0);
        assert_eq!(round_f64(-2.5), -3.0);
        assert_eq!(round_f64(2.4999), 2.0);
        assert_eq!(round_f32(-0.5), -1.0);
    }

    #[test]
    fn quantize_multiplier_edges() {
        assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
        assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
        assert_eq!(quantize_multiplier(0.0), (0, 0));
        // Rounds up to 2^31: halved, shift incremented.
        assert_eq!(quantize_multiplier(0.99999999999), (1 << 30, 1));
        assert_eq!(quantize_multiplier(1e-12), (0, 0), "below 2^-31 flushes to zero");
    }

    #[test]
    fn gemmlowp_fixed_point_helpers() {
        assert_eq!(saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN), i32::MAX);
        assert_eq!(saturating_rounding_doubling_high_mul(1 << 30, 1 << 30), 1 << 29);
        assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1, "rounds half away from zero");
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(-4, 1), -2);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
        assert_eq!(multiply_by_quantized_multiplier(100, 1 << 30, -1), 25);
    }

    /// The float computation `Activation::int8_range` replaces.
    fn float_int8_range(a: Activation, scale: f32, zero_point: i32) -> Option<(i32, i32)> {
        let q = |f: f32| -> Option<i32> {
            let t = round_f32(f / scale);
            if !(t >= i32::MIN as f32 && t <= i32::MAX as f32) {
                return None;
            }
            Some(zero_point.wrapping_add(t as i32))
        };
        let (lo, hi) = (-128, 127);
        Some(match a {
            Activation::None => (lo, hi),
            Activation::Relu => (lo.max(q(0.0)?), hi),
            Activation::Relu6 => (lo.max(q(0.0)?), hi.min(q(6.0)?)),
            Activation::ReluN1To1 => (lo.max(q(-1.0)?), hi.min(q(1.0)?)),
        })
    }

    /// A fixed, dependency-free stream of test values.
    fn xorshift32(mut state: u32) -> impl FnMut() -> u32 {
        move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        }
    }

    #[test]
    fn int8_range_equals_the_float_computation() {
        let mut next = xorshift32(0x1234_5678u32);
        let all = [Activation::None, Activation::Relu, Activation::Relu6, Activation::ReluN1To1];
        for i in 0..200_000 {
            let bits = if i % 2 == 0 {
                next() % 0x7f80_0000
            } else {
                (next() & 0x7f_ffff) | (110 + next() % 30) << 23
            };
            let scale = f32::from_bits(bits.max(1));
            let zp = (next() % 256) as i32 - 128;
            for a in all {
                assert_eq!(a.int8_range(scale, zp), float_int8_range(a, scale, zp), "{a:?} {scale:e} {zp}");
            }
        }
    }

    #[test]
    fn prepared_requant_equals_the_reference_formula() {
        let mut next = xorshift32(0x2545_F491u32);
        for _ in 0..200_000 {
            let x = next() as i32 >> (next() % 31);
            let m = match next() % 4 {
                0 => (next() >> 1) as i32,
                1 => (next() >> (next() % 32)) as i32 & i32::MAX,
                _ => (next() >> 1) as i32 | (1 << 30),
            };
            let s = (next() % 62) as i32 - 31;
            let s = s.min(30);
            let x = if next().is_multiple_of(8) {
                [i32::MIN, i32::MAX, -1, 0, 1][(next() % 5) as usize]
            } else {
                x
            };
            let rq = Requant::new(m, s);
            assert_eq!(rq.apply(x), multiply_by_quantized_multiplier(x, m, s), "{x} {m} {s}");
            assert_eq!(Requant::from_bytes(&rq.to_bytes()), rq);
            #[cfg(any(feature = "op-conv-2d", feature = "op-depthwise-conv-2d"))]
            {
                let mut words = [0u8; Requant::BYTES];
                for (b, w) in words.chunks_exact_mut(4).zip(rq.to_words()) {
                    b.copy_from_slice(&w.to_le_bytes());
                }
                assert_eq!(words, rq.to_bytes());
            }
        }
    }
}

/// A requantization step prepared once: [`multiply_by_quantized_multiplier`] with its
/// shift split and its rounding constant computed, for the invoke loop. Same results
/// for every multiplier from 0 to `i32::MAX` (which covers [`quantize_multiplier`]'s,
/// in `0..2^31`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requant {
    multiplier: i32,
    /// 2^left_shift: a multiply is one instruction, a masked variable shift two.
    left_factor: i32,
    right_shift: u32,
    /// `2^30 + 2^(30 + right_shift)` for a right shift (see [`Requant::apply`]).
    round: i64,
}

impl Requant {
    /// The bytes of [`Requant::to_bytes`].
    pub const BYTES: usize = 20;

    /// From a multiplier (at least 0) and shift as [`quantize_multiplier`] gives them
    /// (shift <= 30).
    pub fn new(multiplier: i32, shift: i32) -> Self {
        let left_factor = 1i32.wrapping_shl(shift.max(0) as u32);
        let right_shift = (-shift).clamp(0, 31) as u32;
        let round = (1i64 << 30) + (1i64 << (30 + right_shift));
        Requant { multiplier, left_factor, right_shift, round }
    }

    /// The prepared values, to keep in an arena ([`Requant::from_bytes`] reads them).
    pub fn to_bytes(&self) -> [u8; Self::BYTES] {
        let mut b = [0u8; Self::BYTES];
        let (lo, hi) = (self.round as i32, (self.round >> 32) as i32);
        let words = [self.multiplier, self.left_factor, self.right_shift as i32, lo, hi];
        for (chunk, w) in b.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        b
    }

    /// [`Requant::to_bytes`] as five little-endian words, for a store that writes them
    /// one by one in place (no array on the stack, no `memcpy`): a convolution's
    /// preparation stores one per output channel.
    #[cfg(any(feature = "op-conv-2d", feature = "op-depthwise-conv-2d"))]
    #[inline(always)]
    pub fn to_words(&self) -> [i32; 5] {
        let (lo, hi) = (self.round as i32, (self.round >> 32) as i32);
        [self.multiplier, self.left_factor, self.right_shift as i32, lo, hi]
    }

    /// Values [`Requant::to_bytes`] wrote (other bytes give some other requantization,
    /// never a panic).
    #[inline(always)]
    pub fn from_bytes(b: &[u8; Self::BYTES]) -> Self {
        let w = |i: usize| i32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let round = i64::from(w(12) as u32) | i64::from(w(16)) << 32;
        Requant { multiplier: w(0), left_factor: w(4), right_shift: w(8) as u32 & 31, round }
    }

    /// `multiply_by_quantized_multiplier(x, multiplier, shift)`, in one 64-bit
    /// multiply-accumulate and one shift.
    ///
    /// With `ab` the product of the shifted `x` and the multiplier (at least 0), the
    /// doubling high multiply is `high = floor((ab + 2^30) / 2^31)` (gemmlowp's nudge
    /// and truncating division are that floor for every such product), and
    /// RoundingDivideByPOT by `r >= 1` is `floor((high + 2^(r-1) - [high < 0]) / 2^r)`.
    /// Folding the inner floor into the outer one: `floor((ab + 2^30 + 2^(30+r) -
    /// [high < 0] 2^31) / 2^(31+r))`, and `[high < 0]` may be replaced by `[x' < 0]`
    /// (`x'` the shifted `x`): they differ only where `high` is 0, and the quotient is
    /// then 0 either way.
    #[inline(always)]
    pub fn apply(&self, x: i32) -> i32 {
        if self.right_shift == 0 {
            self.apply_left(x)
        } else {
            self.apply_right(x)
        }
    }

    /// The right shift (0: [`Requant::apply_left`] applies, else [`Requant::apply_right`]).
    pub fn right_shift(&self) -> u32 {
        self.right_shift
    }

    /// [`Requant::apply`] for a right shift of 0.
    #[inline(always)]
    pub fn apply_left(&self, x: i32) -> i32 {
        let ab = i64::from(x.wrapping_mul(self.left_factor)) * i64::from(self.multiplier);
        ((ab + (1 << 30)) >> 31) as i32
    }

    /// [`Requant::apply`] for a right shift of 1 or more (the left factor is then 1).
    #[inline(always)]
    pub fn apply_right(&self, x: i32) -> i32 {
        let ab = i64::from(x) * i64::from(self.multiplier);
        // round - 2^31 for a negative x (its sign word, shifted).
        let k = self.round + (i64::from(x >> 31) << 31);
        // The quotient by 2^32 fits in 32 bits; the last r - 1 bits go in a 32-bit shift.
        (((ab + k) >> 32) as i32) >> (self.right_shift.wrapping_sub(1) & 31)
    }
}
