//! Field, scalar and comb-table tests against `crypto-bigint` and RustCrypto `p256`.

use super::{limbs, Rng};
use crate::arith::{self, Limbs};
use crate::field::{Fe, P};
use crate::point::{self, TABLE};
use crate::scalar::{self, N};
use crypto_bigint::{Encoding, NonZero, U256};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::elliptic_curve::PrimeField;

fn big(l: &Limbs) -> U256 {
    U256::from_be_slice(&arith::to_be_bytes(l))
}

fn mul_mod(a: &Limbs, b: &Limbs, m: &Limbs) -> Limbs {
    let (lo, hi) = big(a).mul_wide(&big(b));
    let m = NonZero::new(U256::ZERO.concat(&big(m))).unwrap();
    let (_, r) = hi.concat(&lo).rem(&m).split();
    arith::from_be_bytes(&r.to_be_bytes())
}

/// Values where carries and reductions are at their limits, below `m`.
fn edges(m: &Limbs) -> Vec<Limbs> {
    let one = [1, 0, 0, 0, 0, 0, 0, 0];
    let mut v = vec![
        [0; 8],
        one,
        [2, 0, 0, 0, 0, 0, 0, 0],
        arith::sub(m, &one).0,
        arith::sub(m, &[2, 0, 0, 0, 0, 0, 0, 0]).0,
    ];
    for word in 0..8 {
        let mut l = [0u32; 8];
        l[word] = 0x8000_0000;
        v.push(l);
        l[word] = u32::MAX;
        v.push(l);
    }
    v.push(limbs("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"));
    v.push(limbs("00000000ffffffffffffffffffffffffffffffffffffffffffffffffffffffff"));
    v.push(limbs("fffffffe00000001ffffffffffffffff00000000000000000000000000000000"));
    v.retain(|l| arith::lt(l, m) == 1);
    v
}

/// Edge values and 300 random ones, all below `m`.
fn samples(m: &Limbs, seed: u64) -> Vec<Limbs> {
    let mut rng = Rng::new(seed);
    let mut v = edges(m);
    while v.len() < 300 {
        let l = rng.limbs();
        if arith::lt(&l, m) == 1 {
            v.push(l);
        }
    }
    v
}

#[test]
fn field_mul_and_sqr_match_reference() {
    let xs = samples(&P, 1);
    for a in &xs {
        assert_eq!(Fe(*a).sqr().0, mul_mod(a, a, &P), "{a:x?}");
        for b in xs.iter().step_by(7) {
            assert_eq!(Fe(*a).mul(&Fe(*b)).0, mul_mod(a, b, &P), "{a:x?} {b:x?}");
        }
    }
}

#[test]
fn field_add_sub_neg_match_reference() {
    let xs = samples(&P, 2);
    let (p, m) = (big(&P), NonZero::new(big(&P)).unwrap());
    for a in &xs {
        assert_eq!(big(&Fe(*a).neg().0), big(a).neg_mod(&p), "{a:x?}");
        for b in xs.iter().step_by(5) {
            assert_eq!(big(&Fe(*a).add(&Fe(*b)).0), big(a).add_mod(&big(b), &p));
            assert_eq!(big(&Fe(*a).sub(&Fe(*b)).0), big(a).sub_mod(&big(b), &p));
            assert!(big(&Fe(*a).add(&Fe(*b)).0) < *m);
        }
    }
}

#[test]
fn field_mul_small_matches_reference() {
    for a in samples(&P, 4) {
        for c in [0u32, 1, 2, 3, 4, 5, 7, 8, 255, (1 << 27) - 1] {
            assert_eq!(Fe(a).mul_small(c).0, mul_mod(&a, &[c, 0, 0, 0, 0, 0, 0, 0], &P), "{a:x?} * {c}");
        }
    }
}

#[test]
fn field_invert() {
    assert_eq!(Fe::ZERO.invert(), Fe::ZERO);
    for a in samples(&P, 3).into_iter().filter(|a| arith::is_zero(a) == 0) {
        assert_eq!(Fe(a).invert().mul(&Fe(a)), Fe::ONE, "{a:x?}");
        assert_eq!(Fe(a).invert(), Fe(a).invert_fermat(), "{a:x?}");
    }
}

#[test]
fn field_decoding_refuses_p_and_above() {
    assert_eq!(Fe::from_be_bytes(&arith::to_be_bytes(&P)), None);
    assert_eq!(Fe::from_be_bytes(&[0xff; 32]), None);
    let p_minus_1 = arith::sub(&P, &[1, 0, 0, 0, 0, 0, 0, 0]).0;
    assert_eq!(Fe::from_be_bytes(&arith::to_be_bytes(&p_minus_1)), Some(Fe(p_minus_1)));
}

/// R mod n, and R^-1 mod n as the inverse of R.
fn r_mod_n() -> Limbs {
    let r = U256::MAX.rem(&NonZero::new(big(&N)).unwrap()).wrapping_add(&U256::ONE);
    arith::from_be_bytes(&r.to_be_bytes())
}

#[test]
fn scalar_montgomery_arithmetic_matches_reference() {
    let r = r_mod_n();
    let xs = samples(&N, 4);
    for a in &xs {
        // to_mont(a) = a R; mont_mul(a R, b) = a b.
        let am = scalar::to_mont(a);
        assert_eq!(am, mul_mod(a, &r, &N), "{a:x?}");
        assert_eq!(scalar::from_mont(&am), *a);
        for b in xs.iter().step_by(9) {
            assert_eq!(scalar::mont_mul(&am, b), mul_mod(a, b, &N), "{a:x?} {b:x?}");
        }
    }
}

#[test]
fn scalar_invert_add_neg_reduce() {
    let one = [1, 0, 0, 0, 0, 0, 0, 0];
    let n = big(&N);
    for a in samples(&N, 5).into_iter().filter(|a| arith::is_zero(a) == 0) {
        let inv = scalar::invert(&a);
        assert_eq!(mul_mod(&a, &inv, &N), one, "{a:x?}");
        assert_eq!(scalar::from_mont(&scalar::invert_mont(&scalar::to_mont(&a))), inv, "{a:x?}");
        assert_eq!(big(&scalar::neg(&a)), big(&a).neg_mod(&n));
        assert_eq!(big(&scalar::add(&a, &inv)), big(&a).add_mod(&big(&inv), &n));
    }
    // Any 256-bit value reduces with one subtraction.
    for a in [[u32::MAX; 8], N, arith::add(&N, &one).0] {
        assert_eq!(big(&scalar::reduce_once(&a)), big(&a).rem(&NonZero::new(n).unwrap()));
    }
}

fn rustcrypto_mul_base(k: &[u8; 32]) -> [u8; 65] {
    let k = Option::<p256::Scalar>::from(p256::Scalar::from_repr((*k).into())).unwrap();
    let p = (p256::ProjectivePoint::GENERATOR * k).to_affine();
    p.to_encoded_point(false).as_bytes().try_into().unwrap()
}

#[test]
fn comb_table_matches_rustcrypto() {
    for (i, window) in TABLE.iter().enumerate() {
        for (j, entry) in window.iter().enumerate() {
            let expected = rustcrypto_mul_base(&super::comb_scalar(i, j));
            assert_eq!(arith::to_be_bytes(&entry[0]), expected[1..33], "x of {j}/{i}");
            assert_eq!(arith::to_be_bytes(&entry[1]), expected[33..], "y of {j}/{i}");
        }
    }
}

/// The one odd scalar whose last comb addition is a doubling, `2^256 - n`, and its
/// complement `n` less it, `2n - 2^256` (even, so recoded as the first).
#[test]
fn comb_exceptional_scalars() {
    let odd = U256::ZERO.wrapping_sub(&big(&N));
    let even = big(&N).wrapping_sub(&odd);
    for k in [odd, even] {
        let bytes = k.to_be_bytes();
        let q = point::mul_base(&arith::from_be_bytes(&bytes)).to_affine();
        let expected = rustcrypto_mul_base(&bytes);
        assert_eq!(q.x.to_be_bytes(), expected[1..33]);
        assert_eq!(q.y.to_be_bytes(), expected[33..]);
    }
}
