//! Integers modulo the group order n, in Montgomery form (R = 2^256) where a
//! product is needed.
//!
//! The Montgomery reduction is product-scanned like the products in [`arith`]; the
//! quotient digit of each column is computed, never tested, and the one final
//! subtraction of n is masked. Inversion is Fermat's `a^(n - 2)` along a fixed chain
//! (the exponent is public): timing does not depend on the value.

use crate::arith::{self, add_word, mac, next, Limbs};

/// n, little-endian limbs.
pub const N: Limbs =
    [0xfc63_2551, 0xf3b9_cac2, 0xa717_9e84, 0xbce6_faad, 0xffff_ffff, 0xffff_ffff, 0, 0xffff_ffff];

/// -n^-1 mod 2^32, by Newton's iteration (each step doubles the correct bits).
const N0_INV: u32 = {
    let mut inv = 1u32; // n^-1 mod 2 (n is odd)
    let mut i = 0;
    while i < 5 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(N[0].wrapping_mul(inv)));
        i += 1;
    }
    inv.wrapping_neg()
};

/// R^2 mod n = 2^512 mod n, by 512 modular doublings of 1.
const R2: Limbs = {
    let mut r = [0u32; 8];
    r[0] = 1;
    let mut i = 0;
    while i < 512 {
        // r = 2r mod n (r < n < 2^256, so 2r < 2^257).
        let mut doubled = [0u32; 8];
        let mut j = 0;
        let mut carry = 0u32;
        while j < 8 {
            doubled[j] = (r[j] << 1) | carry;
            carry = r[j] >> 31;
            j += 1;
        }
        let mut reduced = [0u32; 8];
        let mut borrow = 0u64;
        j = 0;
        while j < 8 {
            let t = (doubled[j] as u64).wrapping_sub(N[j] as u64 + borrow);
            reduced[j] = t as u32;
            borrow = t >> 63;
            j += 1;
        }
        if carry == 1 || borrow == 0 {
            r = reduced;
        } else {
            r = doubled;
        }
        i += 1;
    }
    r
};

/// `t * 2^-256 mod n` for `t < n * 2^256`, fully reduced.
#[inline(never)]
fn mont_reduce(t: &[u32; 16]) -> Limbs {
    let mut m = [0u32; 8];
    let mut r = [0u32; 8];
    let (mut acc, mut top) = (0u64, 0u32);
    add_word(&mut acc, &mut top, t[0]);
    m[0] = (acc as u32).wrapping_mul(N0_INV);
    mac(&mut acc, &mut top, m[0], N[0]);
    next(&mut acc, &mut top);
    mac(&mut acc, &mut top, m[0], N[1]);
    add_word(&mut acc, &mut top, t[1]);
    m[1] = (acc as u32).wrapping_mul(N0_INV);
    mac(&mut acc, &mut top, m[1], N[0]);
    next(&mut acc, &mut top);
    mac(&mut acc, &mut top, m[0], N[2]);
    mac(&mut acc, &mut top, m[1], N[1]);
    add_word(&mut acc, &mut top, t[2]);
    m[2] = (acc as u32).wrapping_mul(N0_INV);
    mac(&mut acc, &mut top, m[2], N[0]);
    next(&mut acc, &mut top);
    mac(&mut acc, &mut top, m[0], N[3]);
    mac(&mut acc, &mut top, m[1], N[2]);
    mac(&mut acc, &mut top, m[2], N[1]);
    add_word(&mut acc, &mut top, t[3]);
    m[3] = (acc as u32).wrapping_mul(N0_INV);
    mac(&mut acc, &mut top, m[3], N[0]);
    next(&mut acc, &mut top);
    mac(&mut acc, &mut top, m[0], N[4]);
    mac(&mut acc, &mut top, m[1], N[3]);
    mac(&mut acc, &mut top, m[2], N[2]);
    mac(&mut acc, &mut top, m[3], N[1]);
    add_word(&mut acc, &mut top, t[4]);
    m[4] = (acc as u32).wrapping_mul(N0_INV);
    mac(&mut acc, &mut top, m[4], N[0]);
    next(&mut acc, &mut top);
    mac(&mut acc, &mut top, m[0], N[5]);
    mac(&mut acc, &mut top, m[1], N[4]);
    mac(&mut acc, &mut top, m[2], N[3]);
    mac(&mut acc, &mut top, m[3], N[2]);
    mac(&mut acc, &mut top, m[4], N[1]);
    add_word(&mut acc, &mut top, t[5]);
    m[5] = (acc as u32).wrapping_mul(N0_INV);
    mac(&mut acc, &mut top, m[5], N[0]);
    next(&mut acc, &mut top);
    mac(&mut acc, &mut top, m[0], N[6]);
    mac(&mut acc, &mut top, m[1], N[5]);
    mac(&mut acc, &mut top, m[2], N[4]);
    mac(&mut acc, &mut top, m[3], N[3]);
    mac(&mut acc, &mut top, m[4], N[2]);
    mac(&mut acc, &mut top, m[5], N[1]);
    add_word(&mut acc, &mut top, t[6]);
    m[6] = (acc as u32).wrapping_mul(N0_INV);
    mac(&mut acc, &mut top, m[6], N[0]);
    next(&mut acc, &mut top);
    mac(&mut acc, &mut top, m[0], N[7]);
    mac(&mut acc, &mut top, m[1], N[6]);
    mac(&mut acc, &mut top, m[2], N[5]);
    mac(&mut acc, &mut top, m[3], N[4]);
    mac(&mut acc, &mut top, m[4], N[3]);
    mac(&mut acc, &mut top, m[5], N[2]);
    mac(&mut acc, &mut top, m[6], N[1]);
    add_word(&mut acc, &mut top, t[7]);
    m[7] = (acc as u32).wrapping_mul(N0_INV);
    mac(&mut acc, &mut top, m[7], N[0]);
    next(&mut acc, &mut top);
    mac(&mut acc, &mut top, m[1], N[7]);
    mac(&mut acc, &mut top, m[2], N[6]);
    mac(&mut acc, &mut top, m[3], N[5]);
    mac(&mut acc, &mut top, m[4], N[4]);
    mac(&mut acc, &mut top, m[5], N[3]);
    mac(&mut acc, &mut top, m[6], N[2]);
    mac(&mut acc, &mut top, m[7], N[1]);
    add_word(&mut acc, &mut top, t[8]);
    r[0] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, m[2], N[7]);
    mac(&mut acc, &mut top, m[3], N[6]);
    mac(&mut acc, &mut top, m[4], N[5]);
    mac(&mut acc, &mut top, m[5], N[4]);
    mac(&mut acc, &mut top, m[6], N[3]);
    mac(&mut acc, &mut top, m[7], N[2]);
    add_word(&mut acc, &mut top, t[9]);
    r[1] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, m[3], N[7]);
    mac(&mut acc, &mut top, m[4], N[6]);
    mac(&mut acc, &mut top, m[5], N[5]);
    mac(&mut acc, &mut top, m[6], N[4]);
    mac(&mut acc, &mut top, m[7], N[3]);
    add_word(&mut acc, &mut top, t[10]);
    r[2] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, m[4], N[7]);
    mac(&mut acc, &mut top, m[5], N[6]);
    mac(&mut acc, &mut top, m[6], N[5]);
    mac(&mut acc, &mut top, m[7], N[4]);
    add_word(&mut acc, &mut top, t[11]);
    r[3] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, m[5], N[7]);
    mac(&mut acc, &mut top, m[6], N[6]);
    mac(&mut acc, &mut top, m[7], N[5]);
    add_word(&mut acc, &mut top, t[12]);
    r[4] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, m[6], N[7]);
    mac(&mut acc, &mut top, m[7], N[6]);
    add_word(&mut acc, &mut top, t[13]);
    r[5] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, m[7], N[7]);
    add_word(&mut acc, &mut top, t[14]);
    r[6] = next(&mut acc, &mut top);
    add_word(&mut acc, &mut top, t[15]);
    r[7] = acc as u32;
    let carry = (acc >> 32) as u32;
    // The value (t + m n) / 2^256 is below 2n: subtract n unless that borrows.
    let (reduced, borrow) = arith::sub(&r, &N);
    arith::select(arith::mask(borrow & !carry), &reduced, &r)
}

/// `a * b / R mod n` (Montgomery product; `a, b < n`).
pub fn mont_mul(a: &Limbs, b: &Limbs) -> Limbs {
    mont_reduce(&arith::mul_wide(a, b))
}

#[cfg(test)]
fn mont_sqr(a: &Limbs) -> Limbs {
    mont_reduce(&arith::sqr_wide(a))
}

#[cfg(test)]
fn mont_sqr_n(a: &Limbs, n: u32) -> Limbs {
    let mut r = *a;
    for _ in 0..n {
        r = mont_sqr(&r);
    }
    r
}

/// `a * R mod n`, for `a < n`.
pub fn to_mont(a: &Limbs) -> Limbs {
    mont_mul(a, &R2)
}

/// `a / R mod n`.
#[cfg(test)]
pub fn from_mont(a: &Limbs) -> Limbs {
    mont_reduce(&{
        let mut wide = [0u32; 16];
        wide[..8].copy_from_slice(a);
        wide
    })
}

/// `a mod n` for any 256-bit `a` (below 2n, so one masked subtraction).
pub fn reduce_once(a: &Limbs) -> Limbs {
    let (reduced, borrow) = arith::sub(a, &N);
    arith::select(arith::mask(borrow), &reduced, a)
}

/// `a + b mod n` for `a, b < n`.
pub fn add(a: &Limbs, b: &Limbs) -> Limbs {
    let (sum, carry) = arith::add(a, b);
    let (reduced, borrow) = arith::sub(&sum, &N);
    arith::select(arith::mask(borrow & !carry), &reduced, &sum)
}

/// `n - a` for `0 < a < n`.
pub fn neg(a: &Limbs) -> Limbs {
    arith::sub(&N, a).0
}

/// `a^-1 mod n` for `0 < a < n` (normal form), by constant-time safegcd.
pub fn invert(a: &Limbs) -> Limbs {
    crate::inv::invert(a, &N_INV)
}

const N_INV: crate::inv::Modulus = crate::inv::Modulus::new(&N);

/// The inverse of `a` (Montgomery form in and out): `a^(n-2)`, by Fermat (the
/// tests' second opinion). The top 128 bits of n - 2 are
/// `ffffffff 00000000 ffffffff ffffffff`, reached through `a^(2^32 - 1)`; the low
/// 128 bits are taken four at a time from a table of `a^1 .. a^15`.
#[cfg(test)]
pub fn invert_mont(a: &Limbs) -> Limbs {
    let mut pow = [*a; 15]; // pow[i] = a^(i + 1)
    pow[1] = mont_sqr(a);
    for i in 2..15 {
        pow[i] = mont_mul(&pow[i - 1], a);
    }
    let x4 = pow[14]; // a^(2^4 - 1)
    let x8 = mont_mul(&mont_sqr_n(&x4, 4), &x4);
    let x16 = mont_mul(&mont_sqr_n(&x8, 8), &x8);
    let x32 = mont_mul(&mont_sqr_n(&x16, 16), &x16);
    let t = mont_sqr_n(&x32, 64); // ffffffff 00000000
    let t = mont_mul(&t, &x32);
    let t = mont_mul(&mont_sqr_n(&t, 32), &x32);
    // The low 128 bits of n - 2, most significant limb first.
    let mut t = t;
    for limb in [N[3], N[2], N[1], N[0] - 2] {
        for shift in (0..8).rev() {
            t = mont_sqr_n(&t, 4);
            let nibble = (limb >> (4 * shift)) & 0xf;
            if let Some(p) = nibble.checked_sub(1).and_then(|i| pow.get(i as usize)) {
                t = mont_mul(&t, p);
            }
        }
    }
    t
}
