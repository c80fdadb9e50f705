//! `expf` and `tanhf` without libm, for the f32 SOFTMAX, LOGISTIC and TANH kernels
//! (TFLM calls the C library's). Both are computed in f64 and rounded once to f32, so
//! they are correctly rounded except within about 1e-13 relative of a rounding
//! boundary: at most one f32 ulp from any faithful C library.
// A build with only some of SOFTMAX, LOGISTIC and TANH uses only some of this.
#![cfg_attr(not(all(feature = "op-softmax", feature = "op-logistic", feature = "op-tanh")), allow(dead_code))]

use crate::quant::round_f64;

/// 2^(j/32) for j = 0..32, correctly rounded (computed to 60 digits).
const TWO_POW_J_OVER_32: [u64; 32] = [
    0x3ff0000000000000,
    0x3ff059b0d3158574,
    0x3ff0b5586cf9890f,
    0x3ff11301d0125b51,
    0x3ff172b83c7d517b,
    0x3ff1d4873168b9aa,
    0x3ff2387a6e756238,
    0x3ff29e9df51fdee1,
    0x3ff306fe0a31b715,
    0x3ff371a7373aa9cb,
    0x3ff3dea64c123422,
    0x3ff44e086061892d,
    0x3ff4bfdad5362a27,
    0x3ff5342b569d4f82,
    0x3ff5ab07dd485429,
    0x3ff6247eb03a5585,
    0x3ff6a09e667f3bcd,
    0x3ff71f75e8ec5f74,
    0x3ff7a11473eb0187,
    0x3ff82589994cce13,
    0x3ff8ace5422aa0db,
    0x3ff93737b0cdc5e5,
    0x3ff9c49182a3f090,
    0x3ffa5503b23e255d,
    0x3ffae89f995ad3ad,
    0x3ffb7f76f2fb5e47,
    0x3ffc199bdd85529c,
    0x3ffcb720dcef9069,
    0x3ffd5818dcfba487,
    0x3ffdfc97337b9b5f,
    0x3ffea4afa2a490da,
    0x3fff50765b6e4540,
];

/// 32 / ln 2.
const THIRTY_TWO_OVER_LN2: f64 = 46.16624130844683;
/// ln 2 / 32 split so that n x HI is exact for |n| < 2^21.
const LN2_OVER_32_HI: f64 = 0.02166084938653512; // 0x3f962e42fee00000
const LN2_OVER_32_LO: f64 = 5.9631716539705866e-12;

/// e^x for |x| <= 200, to about 1e-15 relative: x = (32m + j) ln2/32 + r with
/// |r| <= ln2/64, e^x = 2^m x 2^(j/32) x e^r, e^r by its Taylor series to r^5.
fn exp_f64(x: f64) -> f64 {
    let n = round_f64(x * THIRTY_TWO_OVER_LN2) as i32;
    let nf = n as f64;
    let r = (x - nf * LN2_OVER_32_HI) - nf * LN2_OVER_32_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0)))));
    let j = n.rem_euclid(32);
    let m = (n - j) / 32;
    let table = f64::from_bits(TWO_POW_J_OVER_32[j as usize & 31]);
    let scale = f64::from_bits(((m + 1023) as u64) << 52);
    table * p * scale
}

/// The C library's `expf`.
pub fn exp_f32(x: f32) -> f32 {
    if x.is_nan() {
        x
    } else if x > 89.0 {
        f32::INFINITY
    } else if x < -110.0 {
        0.0
    } else {
        exp_f64(x as f64) as f32
    }
}

/// The C library's `tanhf`.
pub fn tanh_f32(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    let a = (x as f64).abs();
    let t = if a > 10.0 {
        1.0 // tanh(10) is within 5e-9 of 1: rounds to 1.0 in f32
    } else if a < 0.0625 {
        // Odd Taylor series; the next term is below 1e-15 relative.
        let a2 = a * a;
        a * (1.0 + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 + a2 * (-17.0 / 315.0 + a2 * (62.0 / 2835.0)))))
    } else {
        let e = exp_f64(2.0 * a);
        (e - 1.0) / (e + 1.0)
    };
    if x < 0.0 {
        -(t as f32)
    } else {
        t as f32
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    /// Distance in f32 ulps (same sign assumed).
    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn table_and_constants() {
        for (j, &bits) in TWO_POW_J_OVER_32.iter().enumerate() {
            let want = 2f64.powf(j as f64 / 32.0);
            assert!((f64::from_bits(bits) - want).abs() <= 2.0 * f64::EPSILON, "2^({j}/32)");
        }
        assert_eq!(LN2_OVER_32_HI.to_bits(), 0x3f962e42fee00000);
        assert!((LN2_OVER_32_HI + LN2_OVER_32_LO - core::f64::consts::LN_2 / 32.0).abs() < 1e-18);
        assert!((THIRTY_TWO_OVER_LN2 - 32.0 / core::f64::consts::LN_2).abs() < 1e-14);
    }

    #[test]
    fn exp_is_within_one_ulp_of_the_host_libm_and_mostly_exact() {
        let (mut x, mut exact, mut total) = (-104.0f32, 0, 0);
        while x < 89.0 {
            let (got, want) = (exp_f32(x), (x as f64).exp() as f32);
            assert!(ulps(got, want) <= 1, "exp({x}): {got} vs {want}");
            exact += usize::from(got == want);
            total += 1;
            x += 0.000_731;
        }
        assert!(exact * 1000 >= total * 999, "{exact} of {total} exact");
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-200.0), 0.0);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
    }

    #[test]
    fn tanh_is_within_one_ulp_of_the_host_libm() {
        let mut x = -12.0f32;
        while x < 12.0 {
            let (got, want) = (tanh_f32(x), (x as f64).tanh() as f32);
            assert!(
                ulps(got.abs(), want.abs()) <= 1 && (got == 0.0 || got.signum() == want.signum()),
                "tanh({x}): {got} vs {want}"
            );
            x += 0.000_617;
        }
        for x in [1e-30f32, -1e-7, 0.0625, -0.0624, 1e-40] {
            assert!(ulps(tanh_f32(x).abs(), (x as f64).tanh().abs() as f32) <= 1, "tanh({x})");
        }
        assert_eq!(tanh_f32(0.0), 0.0);
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(-50.0), -1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
    }
}
