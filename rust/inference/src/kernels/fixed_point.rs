//! gemmlowp's fixed-point transcendental functions (`fixedpoint/fixedpoint.h`, the
//! version TFLM pins), on raw int32 values, as TFLite's int8 SOFTMAX, LOGISTIC and TANH
//! use them. A raw value with `ib` integer bits stands for raw / 2^(31 - ib); every
//! result here is Q0.31. Additions wrap, as gemmlowp's plain int32 `+` does on every
//! target TFLM runs on; multiplications are `SaturatingRoundingDoublingHighMul`.
// A build with only some of SOFTMAX, LOGISTIC and TANH uses only some of this.
#![cfg_attr(not(all(feature = "op-softmax", feature = "op-logistic", feature = "op-tanh")), allow(dead_code))]

use crate::quant::{rounding_divide_by_pot, saturating_rounding_doubling_high_mul as mul};

/// 1.0 in Q0.31, as gemmlowp rounds it (the largest raw value).
pub const ONE_Q0: i32 = i32::MAX;

/// round(e^(-1/8) x 2^31): the centre of the polynomial's interval.
const EXP_MINUS_ONE_EIGHTH: i32 = 1_895_147_668;
/// round(2^31 / 3).
const ONE_THIRD: i32 = 715_827_883;
/// round(e^(-2^k) x 2^31) for k = -2 ..= 4: the barrel shifter's factors.
const EXP_MINUS_POT: [i32; 7] =
    [1_672_461_947, 1_302_514_674, 790_015_084, 290_630_308, 39_332_535, 720_401, 242];
/// 48/17 and -32/17 in Q2.29: the Newton-Raphson start for 1/d with d in [1/2, 1].
const FORTY_EIGHT_SEVENTEENTHS: i32 = 1_515_870_810;
const MINUS_THIRTY_TWO_SEVENTEENTHS: i32 = -1_010_580_540;
/// 1.0 in Q2.29.
const ONE_Q2: i32 = 1 << 29;

/// x x 2^exponent for 0 < exponent < 31, saturating to the int32 range (gemmlowp's
/// `SaturatingRoundingMultiplyByPOT` with a positive exponent).
#[inline(always)]
pub fn saturating_shl(x: i32, exponent: u32) -> i32 {
    let threshold = (1i32 << (31 - exponent)) - 1;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x << exponent
    }
}

/// gemmlowp's `RoundingHalfSum`: (a + b) / 2, rounded half away from zero.
#[inline(always)]
fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = a as i64 + b as i64;
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// e^a for a in [-1/4, 0) (Q0.31): a degree-4 Taylor polynomial around -1/8.
fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    let x = a.wrapping_add(1 << 28); // a + 1/8
    let x2 = mul(x, x);
    let x3 = mul(x2, x);
    let x4 = mul(x2, x2);
    let x4_over_4 = rounding_divide_by_pot(x4, 2);
    // (x^4/4 + x^3) / 3 + x^2, halved: x^2/2 + x^3/6 + x^4/24.
    let higher = rounding_divide_by_pot(mul(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2), 1);
    EXP_MINUS_ONE_EIGHTH.wrapping_add(mul(EXP_MINUS_ONE_EIGHTH, x.wrapping_add(higher)))
}

/// e^a for a <= 0 with `ib` integer bits (0 ..= 5), in Q0.31 (gemmlowp's
/// `exp_on_negative_values`): the fraction modulo 1/4 by polynomial, then one factor
/// e^(-2^k) per set bit of the rest.
pub fn exp_on_negative_values(a: i32, ib: u32) -> i32 {
    let frac_bits = 31 - ib;
    let one_quarter = 1i32 << (frac_bits - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);
    let rescaled = if ib == 0 {
        a_mod_quarter_minus_one_quarter
    } else {
        saturating_shl(a_mod_quarter_minus_one_quarter, ib)
    };
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(rescaled);
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
    for (k, &factor) in EXP_MINUS_POT.iter().enumerate() {
        let exponent = k as i32 - 2;
        if (ib as i32) > exponent {
            let bit = (frac_bits as i32 + exponent) as u32;
            if remainder & (1i32 << bit) != 0 {
                result = mul(result, factor);
            }
        }
    }
    // (gemmlowp clamps inputs below -32 here, which only exists for ib > 5.)
    if a == 0 {
        ONE_Q0
    } else {
        result
    }
}

/// Three Newton-Raphson steps towards 1 / half_denominator, in Q2.29.
fn newton_reciprocal(half_denominator: i32) -> i32 {
    let mut x = FORTY_EIGHT_SEVENTEENTHS.wrapping_add(mul(half_denominator, MINUS_THIRTY_TWO_SEVENTEENTHS));
    for _ in 0..3 {
        let one_minus_half_denominator_times_x = ONE_Q2.wrapping_sub(mul(half_denominator, x));
        // Q2 x Q2 is Q4; back to Q2.
        x = x.wrapping_add(saturating_shl(mul(x, one_minus_half_denominator_times_x), 2));
    }
    x
}

/// 1 / (1 + a) for a in [0, 1] (Q0.31), in Q0.31.
pub fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    let x = newton_reciprocal(rounding_half_sum(a, ONE_Q0));
    // x / 2 reinterpreted from Q2 as Q1, then rescaled to Q0.
    saturating_shl(x, 1)
}

/// (1 - a) / (1 + a) for a in [0, 1] (Q0.31), in Q0.31.
fn one_minus_x_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    let x = newton_reciprocal(rounding_half_sum(a, ONE_Q0));
    saturating_shl(x.wrapping_sub(ONE_Q2), 2)
}

/// The logistic function of `a` (`ib` integer bits, at most 5), in Q0.31.
pub fn logistic(a: i32, ib: u32) -> i32 {
    if a == 0 {
        return 1 << 30;
    }
    let abs = if a > 0 { a } else { a.wrapping_neg() };
    let if_positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(abs.wrapping_neg(), ib));
    if a > 0 {
        if_positive
    } else {
        ONE_Q0.wrapping_sub(if_positive)
    }
}

/// tanh of `a` (`ib` integer bits, at most 4), in Q0.31: (1 - e^(2n)) / (1 + e^(2n))
/// with n = -|a|, the doubling done by reading the raw value with one more integer bit.
pub fn tanh(a: i32, ib: u32) -> i32 {
    if a == 0 {
        return 0;
    }
    let n = if a < 0 { a } else { a.wrapping_neg() };
    let t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, ib + 1));
    if a < 0 {
        t.wrapping_neg()
    } else {
        t
    }
}

/// TFLite's `GetReciprocal`: for a positive `x` with `integer_bits` integer bits, a
/// Q0.31 scale in [1/2, 1] and the number of bits `x` has above 1.0, such that
/// 1/x = scale / 2^bits.
pub fn reciprocal(x: i32, integer_bits: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros();
    let bits_over_unit = integer_bits - headroom_plus_one as i32;
    let shifted_minus_one = (x as u32).wrapping_shl(headroom_plus_one).wrapping_sub(1 << 31) as i32;
    (one_over_one_plus_x_for_x_in_0_1(shifted_minus_one), bits_over_unit)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    fn q(x: i32, ib: u32) -> f64 {
        x as f64 / (1u64 << (31 - ib)) as f64
    }

    fn raw(v: f64, ib: u32) -> i32 {
        (v * (1u64 << (31 - ib)) as f64).round() as i32
    }

    #[test]
    fn constants_are_the_rounded_reals() {
        let q31 = |v: f64| (v * 2f64.powi(31)).round() as i32;
        assert_eq!(EXP_MINUS_ONE_EIGHTH, q31((-0.125f64).exp()));
        assert_eq!(ONE_THIRD, q31(1.0 / 3.0));
        for (k, &c) in EXP_MINUS_POT.iter().enumerate() {
            assert_eq!(c, q31((-2f64.powi(k as i32 - 2)).exp()), "e^-2^{}", k as i32 - 2);
        }
        assert_eq!(FORTY_EIGHT_SEVENTEENTHS, (48.0 / 17.0 * 2f64.powi(29)).round() as i32);
        assert_eq!(MINUS_THIRTY_TWO_SEVENTEENTHS, (-32.0 / 17.0 * 2f64.powi(29)).round() as i32);
    }

    #[test]
    fn saturating_shift_saturates() {
        assert_eq!(saturating_shl(1 << 29, 1), 1 << 30);
        assert_eq!(saturating_shl(1 << 30, 1), i32::MAX);
        assert_eq!(saturating_shl(-(1 << 30) + 1, 1), i32::MIN + 2);
        assert_eq!(saturating_shl(-(1 << 30), 1), i32::MIN);
        assert_eq!(saturating_shl(i32::MIN, 2), i32::MIN);
    }

    #[test]
    fn exp_on_negative_values_is_close_to_exp() {
        for ib in [4u32, 5] {
            let mut v = -(1i64 << ib) as f64 + 1e-6;
            while v < 0.0 {
                let got = q(exp_on_negative_values(raw(v, ib), ib), 0);
                assert!((got - v.exp()).abs() < 2e-8 * (1 << ib) as f64, "ib {ib} e^{v}: {got}");
                v += 0.0173;
            }
            assert_eq!(exp_on_negative_values(0, ib), ONE_Q0);
        }
    }

    #[test]
    fn logistic_tanh_and_reciprocal_are_close_to_the_reals() {
        let mut v = -15.9f64;
        let mut worst = (0.0, 0.0);
        while v < 15.9 {
            let l = q(logistic(raw(v, 4), 4), 0);
            worst.0 = f64::max(worst.0, (l - 1.0 / (1.0 + (-v).exp())).abs());
            let t = q(tanh(raw(v, 4), 4), 0);
            worst.1 = f64::max(worst.1, (t - v.tanh()).abs());
            v += 0.0137;
        }
        assert!(worst.0 < 2e-7 && worst.1 < 2e-7, "{worst:?}");
        assert_eq!(logistic(0, 4), 1 << 30);
        assert_eq!(tanh(0, 4), 0);
        for sum in [1.0f64, 1.5, 3.0, 100.25, 511.0] {
            let (scale, bits) = reciprocal(raw(sum, 12), 12);
            let inv = q(scale, 0) / 2f64.powi(bits);
            assert!((inv - 1.0 / sum).abs() < 1e-8 / sum, "1/{sum}: {inv}");
        }
    }
}
