//! The float arithmetic TFLite's preparation does on quantization scales, done exactly
//! in integers: an f32 product, an f64 quotient, `QuantizeMultiplier` and the
//! `round(c / scale)` of an activation bound give the same bits as the IEEE 754
//! operations (round to nearest, ties to even; subnormals; overflow), without the
//! soft-float routines a Cortex-M33 without FPU would otherwise link (about 4 kB).
//! Tests compare every function with the float computation it replaces.
// A build without FULLY_CONNECTED uses only some of this.
#![cfg_attr(not(feature = "op-fully-connected-int8"), allow(dead_code))]

/// A positive, finite, non-zero f32 as `(m, e)`: the value is `m x 2^e` with `m` in
/// `[2^23, 2^24)` (a subnormal's significand shifted up); `m` is 0 for zero, negative,
/// infinite and NaN values. (Eight bytes: returned in two registers.)
fn parts(x: f32) -> (u32, i32) {
    let bits = x.to_bits();
    if !(1..0x7f80_0000).contains(&bits) {
        return (0, 0);
    }
    let (exp, frac) = (bits >> 23, bits & 0x7f_ffff);
    let (m, e) = if exp == 0 { (frac, -149) } else { (frac | 1 << 23, exp as i32 - 150) };
    let up = m.leading_zeros() - 8;
    (m << up, e - up as i32)
}

/// `q` without its `drop` lowest bits (`1 <= drop <= 48`), rounded to nearest, ties
/// to even; `sticky` says that something below `q` was not zero. The result may
/// carry into one more bit.
#[inline(never)]
fn round_off(q: u64, sticky: bool, drop: i32) -> u64 {
    let keep = q >> drop;
    let (rem, half) = (q & ((1 << drop) - 1), 1 << (drop - 1));
    keep + u64::from(rem > half || (rem == half && (sticky || keep & 1 == 1)))
}

/// `n / d` for `0 < n < 2^48` and `d` in `[2^23, 2^24)`: `(q, sticky, e)` with `q` of
/// exactly `bits` bits (the top one set, `25 <= bits <= 56`) and
/// `n / d = (q + f) x 2^e`, `0 <= f < 1`, `f > 0` exactly when `sticky`. Long division
/// by `d` eight bits a step, each step one 32-bit hardware division (the remainder
/// stays below `d < 2^24`, so a step's dividend fits in 32 bits): about ten steps,
/// where one bit a step took 55 (setup of a convolution model spent most of its time
/// here, once per output channel).
fn divide(n: u64, d: u64, bits: i32) -> (u64, bool, i32) {
    // d >= 2^23 for every caller; a zero divisor gives a zero quotient, never a panic.
    let Some(d) = core::num::NonZeroU32::new(d as u32) else { return (0, false, 0) };
    // n into [2^47, 2^48) as r; `low` when r < d 2^24, then 2r: the dividend over
    // d 2^24 in [1, 2), and q = floor(dividend 2^(bits - 25) / d).
    let up = n.leading_zeros() as i32 - 16;
    let r = n << up;
    let low = ((r >> 24) as u32) < d.get();
    let e = 25 - up - bits - i32::from(low);
    // The dividend's bits: its 49, then bits - 25 zeros, after `pad` leading zeros that
    // make whole bytes; taken a byte a step from the top of a shift register.
    let total = bits as u32 + 24;
    let pad = total.wrapping_neg() % 8;
    let mut reg = r << (15 - pad + u32::from(low));
    let (mut q, mut rem) = (0u64, 0u32);
    for _ in 0..(total + pad) / 8 {
        let x = rem << 8 | (reg >> 56) as u32;
        q = q << 8 | u64::from(x / d);
        rem = x % d;
        reg <<= 8;
    }
    (q, rem != 0, e)
}

/// TFLite's requantization multiplier and shift for `input x weight / output` (a Q31
/// significand in `[2^30, 2^31)` and a shift, as `QuantizeMultiplier` gives them), the
/// quotient in f64 and the product in f32 when `product_f32` (TFLM's
/// `GetQuantizedConvolutionMultipler`, FULLY_CONNECTED's per-tensor scale), in f64
/// otherwise (exact; `PopulateConvolutionQuantizationParams`, per-channel scales).
/// `(0, 0)` where TFLite's `QuantizeMultiplier` gives it: a zero or infinite product,
/// a scale that is not positive and finite, a multiplier below 2^-32. Not inlined: one
/// body for every caller.
#[inline(never)]
pub fn multiplier(input: f32, weight: f32, output: f32, product_f32: bool) -> (i32, i32) {
    let ((mi, ei), (mw, ew), (mo, eo)) = (parts(input), parts(weight), parts(output));
    if mi == 0 || mw == 0 || mo == 0 {
        return (0, 0);
    }
    // In [2^46, 2^48): exact.
    let (mut mp, mut ep) = (u64::from(mi) * u64::from(mw), ei + ew);
    if product_f32 {
        // 24 significant bits, none below 2^-149 (the subnormal floor).
        let len = 64 - mp.leading_zeros() as i32;
        let drop = (len - 24).max(-149 - ep);
        if drop > len {
            return (0, 0); // below half the smallest subnormal: 0.0
        }
        mp = round_off(mp, false, drop);
        ep += drop;
        if mp == 0 || ep + (64 - mp.leading_zeros() as i32) > 128 {
            return (0, 0); // underflow to zero, or overflow to infinity
        }
    }
    // The f64 quotient (always normal for such operands): 53 bits, from 55 and sticky.
    let (q, sticky, e) = divide(mp, mo.into(), 55);
    let m = round_off(q, sticky, 2);
    // QuantizeMultiplier: frexp gives m / 2^53 in [0.5, 1) and the exponent
    // e + 2 + ep - eo + 53; then round(that x 2^31), half away from zero (upwards).
    let mut shift = e + 55 + ep - eo;
    let mut q31 = (m + (1 << 21)) >> 22;
    if q31 == 1 << 31 {
        q31 >>= 1;
        shift += 1;
    }
    if shift < -31 {
        return (0, 0);
    }
    (q31 as i32, shift)
}

/// [`InOut::shift_above_30`] of one channel (the tests' form).
#[cfg(all(test, any(feature = "op-conv-2d", feature = "op-depthwise-conv-2d")))]
pub fn shift_above_30(input: f32, weight: f32, output: f32) -> bool {
    InOut::new(input, output).shift_above_30(weight)
}

/// A layer's input and output scales taken apart once, for [`InOut::shift_above_30`]
/// on each of its channels' weight scales.
#[cfg(any(feature = "op-conv-2d", feature = "op-depthwise-conv-2d"))]
#[derive(Clone, Copy)]
pub struct InOut {
    input: f32,
    output: f32,
    i: (u32, i32),
    o: (u32, i32),
}

#[cfg(any(feature = "op-conv-2d", feature = "op-depthwise-conv-2d"))]
impl InOut {
    #[inline(always)]
    pub fn new(input: f32, output: f32) -> Self {
        InOut { input, output, i: parts(input), o: parts(output) }
    }

    /// Whether [`multiplier`]`(input, weight, output, false)` has a shift above 30 (which
    /// the kernels refuse), without its division where the exponents alone decide: the
    /// shift is that of the quotient's leading bit, or one more when rounding carries,
    /// so only a shift of exactly 30 needs the whole computation. For validation, which
    /// needs no multiplier.
    #[inline(always)]
    pub fn shift_above_30(&self, weight: f32) -> bool {
        let ((mi, ei), (mw, ew), (mo, eo)) = (self.i, parts(weight), self.o);
        if mi == 0 || mw == 0 || mo == 0 {
            return false;
        }
        // As `multiplier` and `divide` compute it, before rounding.
        let (mp, ep) = (u64::from(mi) * u64::from(mw), ei + ew);
        let up = mp.leading_zeros() as i32 - 16;
        let low = (((mp << up) >> 24) as u32) < mo;
        match 25 - up - i32::from(low) + ep - eo {
            ..30 => false,
            30 => multiplier(self.input, weight, self.output, false).1 > 30,
            _ => true,
        }
    }
}

/// `round(c / scale)` for positive `c` and `scale`, with the division in f32 and the
/// rounding half away from zero (TFLite's `TfLiteRound` of a float): `None` if the
/// quotient overflows to infinity or rounds above 2^31, else the magnitude.
// Not inlined: the activation range calls it at three sites (flash), at preparation only.
#[inline(never)]
pub fn round_quotient(c: f32, scale: f32) -> Option<u32> {
    let ((mc, ec), (ms, es)) = (parts(c), parts(scale));
    if mc == 0 || ms == 0 {
        return None;
    }
    // The f32 quotient: 24 bits, from 26 and sticky. A subnormal one (below 2^-126)
    // would round differently, but to an integer it rounds to 0 all the same.
    let (q, sticky, e) = divide(mc.into(), ms.into(), 26);
    let m = round_off(q, sticky, 2) as u32;
    let e = e + 2 + ec - es;
    // m x 2^e, m in [2^23, 2^24], rounded half upwards to an integer (in u32: no
    // 64-bit shifts).
    match e {
        0..=8 => (m <= 1 << (31 - e)).then_some(m << e),
        9.. => None, // at least 2^32 (infinity included)
        -31..0 => Some((m + (1 << (-e - 1))) >> -e),
        _ => Some(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{quantize_multiplier, round_f32};

    /// The float computations these functions replace.
    fn multiplier_f32_product(i: f32, w: f32, o: f32) -> (i32, i32) {
        multiplier(i, w, o, true)
    }

    fn multiplier_f64_product(i: f32, w: f32, o: f32) -> (i32, i32) {
        multiplier(i, w, o, false)
    }

    fn float_f32_product(i: f32, w: f32, o: f32) -> (i32, i32) {
        quantize_multiplier((i * w) as f64 / o as f64)
    }

    fn float_f64_product(i: f32, w: f32, o: f32) -> (i32, i32) {
        quantize_multiplier(i as f64 * w as f64 / o as f64)
    }

    fn float_round_quotient(c: f32, scale: f32) -> Option<u32> {
        let t = round_f32(c / scale);
        (t >= i32::MIN as f32 && t <= i32::MAX as f32).then_some(t as i64 as u32)
    }

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 32) as u32
        }

        /// A positive scale: any finite f32 sometimes, mostly ones near 2^-8.
        fn scale(&mut self) -> f32 {
            let bits = match self.next() % 4 {
                0 => self.next() & 0x7fff_ffff,
                1 => self.next() % 0x80_0000 + 1, // subnormal
                _ => (self.next() & 0x7f_ffff) | ((120 + self.next() % 14) << 23),
            };
            f32::from_bits(bits.clamp(1, 0x7f7f_ffff))
        }
    }

    #[test]
    fn multipliers_equal_the_float_computation() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut non_zero = 0;
        for _ in 0..300_000 {
            let (i, w, o) = (rng.scale(), rng.scale(), rng.scale());
            let got = multiplier_f32_product(i, w, o);
            assert_eq!(got, float_f32_product(i, w, o), "{i:e} {w:e} {o:e}");
            assert_eq!(multiplier_f64_product(i, w, o), float_f64_product(i, w, o), "{i:e} {w:e} {o:e}");
            non_zero += usize::from(got != (0, 0));
        }
        assert!(non_zero > 100_000, "{non_zero} cases with a multiplier");
        // The sine model's scales, and products that underflow and overflow in f32.
        for (i, w, o) in [
            (0.024_573_976f32, 0.004_705_095f32, 0.010_942_688f32),
            (1e-30, 1e-20, 1e-3),
            (1e30, 1e20, 1e3),
            (f32::MAX, 2.0, 1.0),
            (f32::from_bits(1), f32::from_bits(1), 1.0),
        ] {
            assert_eq!(multiplier_f32_product(i, w, o), float_f32_product(i, w, o), "{i:e} {w:e} {o:e}");
            assert_eq!(multiplier_f64_product(i, w, o), float_f64_product(i, w, o), "{i:e} {w:e} {o:e}");
        }
        assert_eq!(multiplier_f32_product(0.0, 1.0, 1.0), (0, 0));
        assert_eq!(multiplier_f64_product(1.0, f32::NAN, 1.0), (0, 0));
    }

    #[test]
    fn shift_above_30_agrees_with_the_multiplier() {
        let mut rng = Rng(0x6A09_E667_F3BC_C908);
        let (mut above, mut at_30) = (0, 0);
        for n in 0..300_000 {
            let (i, w) = (rng.scale(), rng.scale());
            // Every other case near the limit: an output scale about i w / 2^30.
            let o = if n % 2 == 0 {
                rng.scale()
            } else {
                let near = i * w / (1u64 << 30) as f32;
                f32::from_bits(near.to_bits().wrapping_add(rng.next() % 5).wrapping_sub(2))
                    .max(f32::MIN_POSITIVE)
            };
            let shift = multiplier(i, w, o, false).1;
            assert_eq!(shift_above_30(i, w, o), shift > 30, "{i:e} {w:e} {o:e}");
            above += usize::from(shift > 30);
            at_30 += usize::from(shift == 30);
        }
        assert!(above > 10_000 && at_30 > 10_000, "{above} above 30, {at_30} at 30");
    }

    #[test]
    fn round_quotient_equals_the_float_computation() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let mut in_range = 0;
        for _ in 0..300_000 {
            let s = rng.scale();
            for c in [1.0f32, 6.0] {
                let got = round_quotient(c, s);
                assert_eq!(got, float_round_quotient(c, s), "{c} / {s:e}");
                in_range += usize::from(got.is_some_and(|v| (1..1000).contains(&v)));
            }
        }
        assert!(in_range > 100_000, "{in_range} small quotients");
        // Around the 2^31 limit and the rounding ties.
        for s in [6.0 / 2_147_483_648.0f32, 1.0 / 2_147_483_648.0, 0.4, 2.0 / 3.0, 4.0, 12.0, 1e38] {
            for c in [1.0f32, 6.0] {
                for s in [s, f32::from_bits(s.to_bits() + 1), f32::from_bits(s.to_bits() - 1)] {
                    assert_eq!(round_quotient(c, s), float_round_quotient(c, s), "{c} / {s:e}");
                }
            }
        }
    }
}
