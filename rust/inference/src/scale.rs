//! The float arithmetic TFLite's preparation does on quantization scales, done exactly
//! in integers: an f32 product, an f64 quotient, `QuantizeMultiplier` and the
//! `round(c / scale)` of an activation bound give the same bits as the IEEE 754
//! operations (round to nearest, ties to even; subnormals; overflow), without the
//! soft-float routines a Cortex-M33 without FPU would otherwise link (about 4 kB).
//! Tests compare every function with the float computation it replaces.
// A build without FULLY_CONNECTED uses only some of this.
#![cfg_attr(not(feature = "op-fully-connected-int8"), allow(dead_code))]

/// A positive, finite, non-zero f32 as `(m, e)`: the value is `m x 2^e`.
fn parts(x: f32) -> Option<(u64, i32)> {
    let bits = x.to_bits();
    let (exp, frac) = (bits >> 23, u64::from(bits & 0x7f_ffff));
    match exp {
        0 if frac != 0 => Some((frac, -149)),
        1..=254 => Some((frac | 1 << 23, exp as i32 - 150)),
        _ => None, // zero, negative, infinite or NaN
    }
}

/// `(q + f) x 2^e`, with `0 <= f < 1` and `f > 0` exactly when `sticky`, rounded to
/// nearest (ties to even) with at most `p` significant bits and no bit below
/// `2^min_lsb` (the subnormal floor): `(m, e)` with the value `m x 2^e`. The callers
/// give `q` at least `p + 2` bits whenever `sticky` is set.
fn round(q: u64, sticky: bool, e: i32, p: u32, min_lsb: i32) -> (u64, i32) {
    let len = 64 - q.leading_zeros() as i32;
    let drop = (len - p as i32).max(min_lsb - e);
    if drop <= 0 {
        return (q, e);
    }
    if drop > len {
        return (0, e); // below half the smallest step
    }
    let keep = q >> drop;
    let rem = q & ((1 << drop) - 1);
    let half = 1u64 << (drop - 1);
    let up = rem > half || (rem == half && (sticky || keep & 1 == 1));
    let m = keep + u64::from(up);
    if m >> p != 0 {
        (m >> 1, e + drop + 1)
    } else {
        (m, e + drop)
    }
}

/// `n / d` for `0 < n, d < 2^49`: `(q, sticky, e)` with `q` of 62 bits and
/// `n / d = (q + f) x 2^e`, `f` as in [`round`]. Long division, one bit per step.
fn divide(n: u64, d: u64) -> (u64, bool, i32) {
    let (ln, ld) = (64 - n.leading_zeros() as i32, 64 - d.leading_zeros() as i32);
    let (mut r, d, mut e) =
        if ln >= ld { (n, d << (ln - ld), ln - ld) } else { (n << (ld - ln), d, ln - ld) };
    if r < d {
        r <<= 1;
        e -= 1;
    }
    let mut q = 0u64;
    for _ in 0..62 {
        q <<= 1;
        if r >= d {
            r -= d;
            q |= 1;
        }
        r <<= 1;
    }
    (q, r != 0, e - 61)
}

/// The f64 nearest `n / d x 2^e` (it is normal for every quotient of scale products).
fn quotient_f64(n: u64, d: u64, e: i32) -> (u64, i32) {
    let (q, sticky, qe) = divide(n, d);
    round(q, sticky, qe + e, 53, -1074)
}

/// TFLite's `QuantizeMultiplier` of the positive value `m x 2^e` (`m < 2^53`): a Q31
/// significand in `[2^30, 2^31)` and a shift, or `(0, 0)` below 2^-32.
fn quantize(m: u64, e: i32) -> (i32, i32) {
    if m == 0 {
        return (0, 0);
    }
    let len = 64 - m.leading_zeros() as i32;
    // frexp: m x 2^e = (m / 2^len) x 2^(e + len); then round((m / 2^len) x 2^31),
    // half away from zero (upwards, for a positive value).
    let mut shift = e + len;
    let mut q = if len <= 31 { m << (31 - len) } else { (m + (1 << (len - 32))) >> (len - 31) };
    if q == 1 << 31 {
        q >>= 1;
        shift += 1;
    }
    if shift < -31 {
        return (0, 0);
    }
    (q as i32, shift)
}

/// TFLite's requantization multiplier and shift for `input x weight / output`, with
/// the product in f32 and the quotient in f64, as TFLM's FULLY_CONNECTED prepares a
/// per-tensor scale (`GetQuantizedConvolutionMultipler`). `(0, 0)` where TFLite's
/// `QuantizeMultiplier` gives it (a zero or infinite product, a scale that is not
/// positive and finite).
#[inline]
pub fn multiplier_f32_product(input: f32, weight: f32, output: f32) -> (i32, i32) {
    multiplier(input, weight, output, true)
}

/// The same with the product in f64 (exact), as TFLM prepares per-channel scales
/// (`PopulateConvolutionQuantizationParams`).
#[inline]
pub fn multiplier_f64_product(input: f32, weight: f32, output: f32) -> (i32, i32) {
    multiplier(input, weight, output, false)
}

/// Both of the above: one body (not inlined into both), whose product is rounded to
/// f32 when `product_f32`.
#[inline(never)]
fn multiplier(input: f32, weight: f32, output: f32, product_f32: bool) -> (i32, i32) {
    let (Some((mi, ei)), Some((mw, ew)), Some((mo, eo))) = (parts(input), parts(weight), parts(output))
    else {
        return (0, 0);
    };
    let (mut mp, mut ep) = (mi * mw, ei + ew);
    if product_f32 {
        (mp, ep) = round(mp, false, ep, 24, -149);
        if mp == 0 || ep + (64 - mp.leading_zeros() as i32) > 128 {
            return (0, 0); // underflow to zero, or overflow to infinity
        }
    }
    let (m, e) = quotient_f64(mp, mo, ep - eo);
    quantize(m, e)
}

/// `round(c / scale)` for positive `c` and `scale`, with the division in f32 and the
/// rounding half away from zero (TFLite's `TfLiteRound` of a float): `None` if the
/// quotient overflows to infinity or rounds above 2^31, else the magnitude.
// Not inlined: the activation range calls it at three sites (flash), at preparation only.
#[inline(never)]
pub fn round_quotient(c: f32, scale: f32) -> Option<u32> {
    let ((mc, ec), (ms, es)) = (parts(c)?, parts(scale)?);
    let (q, sticky, qe) = divide(mc, ms);
    let (m, e) = round(q, sticky, qe + ec - es, 24, -149);
    if m == 0 {
        return Some(0);
    }
    let len = 64 - m.leading_zeros() as i32;
    if e + len > 32 {
        return None; // at least 2^32 (infinity included)
    }
    let v = if e >= 0 {
        m << e
    } else if -e > len {
        0
    } else {
        (m + (1 << (-e - 1))) >> -e
    };
    u32::try_from(v).ok().filter(|&v| v <= 1 << 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{quantize_multiplier, round_f32};

    /// The float computations these functions replace.
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
