//! The field of P-256, integers modulo p = 2^256 - 2^224 + 2^192 + 2^96 - 1.
//!
//! Elements are kept fully reduced (in `[0, p)`), so equality is limb equality.
//! Products are reduced with the NIST (Solinas) method of FIPS 186: the upper half
//! of a 512-bit product is folded in with word-aligned additions and subtractions,
//! then the small signed carry twice more with 2^256 = 2^224 - 2^192 - 2^96 + 1
//! (mod p), then one masked subtraction of p. No branch or index depends on a value.
//!
//! This file is also compiled into `build.rs`, which makes the comb table with it.

use crate::arith::{self, Limbs};

/// p, little-endian limbs.
pub const P: Limbs = [0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0, 0, 0, 1, 0xffff_ffff];

/// p for [`crate::inv`].
const P_INV: crate::inv::Modulus = crate::inv::Modulus::new(&P);

/// An element of GF(p), fully reduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fe(pub Limbs);

impl Fe {
    pub const ZERO: Fe = Fe([0; 8]);
    pub const ONE: Fe = Fe([1, 0, 0, 0, 0, 0, 0, 0]);

    /// The element for big-endian `bytes`, or `None` if they encode p or more
    /// (for `build.rs` and the tests).
    #[allow(dead_code)]
    pub fn from_be_bytes(bytes: &[u8; 32]) -> Option<Fe> {
        let limbs = arith::from_be_bytes(bytes);
        (arith::lt(&limbs, &P) == 1).then_some(Fe(limbs))
    }

    pub fn to_be_bytes(self) -> [u8; 32] {
        arith::to_be_bytes(&self.0)
    }

    pub fn add(&self, b: &Fe) -> Fe {
        let (sum, carry) = arith::add(&self.0, &b.0);
        let (reduced, borrow) = arith::sub(&sum, &P);
        // sum < 2p: keep `sum` when it neither overflowed nor reached p.
        Fe(arith::select(arith::mask(borrow & !carry), &reduced, &sum))
    }

    pub fn sub(&self, b: &Fe) -> Fe {
        let (diff, borrow) = arith::sub(&self.0, &b.0);
        let m = arith::mask(borrow);
        let p_or_zero = [m, m, m, 0, 0, 0, m & 1, m];
        Fe(arith::add(&diff, &p_or_zero).0)
    }

    pub fn double(&self) -> Fe {
        self.add(self)
    }

    pub fn neg(&self) -> Fe {
        Fe::ZERO.sub(self)
    }

    pub fn mul(&self, b: &Fe) -> Fe {
        Fe(reduce(&arith::mul_wide(&self.0, &b.0)))
    }

    /// `c self` for a small `c` (at most 8 here; any `c` below 2^27 works): the
    /// limbs times `c`, then the top word folded in as in [`reduce`], then one
    /// masked subtraction of p. Cheaper than the two or three additions it replaces.
    #[allow(dead_code)] // build.rs compiles this file without the users.
    pub fn mul_small(&self, c: u32) -> Fe {
        let mut r = [0u32; 8];
        let mut carry = 0u32;
        arith::unroll!(i in [0, 1, 2, 3, 4, 5, 6, 7] {
            (r[i], carry) = arith::mad(self.0[i], c, carry, 0);
        });
        // r + carry 2^256 with 0 <= carry < c: the first fold adds a positive
        // multiple below 2^251 of 2^224 - 2^192 - 2^96 + 1, which carries out at most
        // one; after that carry's fold r is small and cannot carry again. r < 2^256 < 2p.
        let (r, carry) = fold(&r, i64::from(carry));
        let (r, _) = fold(&r, carry);
        let (reduced, borrow) = arith::sub(&r, &P);
        Fe(arith::select(arith::mask(borrow), &reduced, &r))
    }

    pub fn sqr(&self) -> Fe {
        Fe(reduce(&arith::sqr_wide(&self.0)))
    }

    /// `self^(2^n)`.
    #[cfg(test)]
    pub fn sqr_n(&self, n: u32) -> Fe {
        let mut r = *self;
        for _ in 0..n {
            r = r.sqr();
        }
        r
    }

    /// The inverse (zero for zero), by constant-time safegcd ([`crate::inv`]).
    pub fn invert(&self) -> Fe {
        Fe(crate::inv::invert(&self.0, &P_INV))
    }

    /// `self^(p - 2)`, the inverse by Fermat (the tests' second opinion), by a
    /// fixed chain of 255 squarings and 12 multiplications. p - 2 is, from the top:
    /// 32 ones, 31 zeros and a one, 96 zeros, 32 ones, 32 ones, 30 ones, 0, 1.
    #[cfg(test)]
    pub fn invert_fermat(&self) -> Fe {
        let x = self;
        let x2 = x.sqr().mul(x); // x^(2^2 - 1)
        let x3 = x2.sqr().mul(x);
        let x6 = x3.sqr_n(3).mul(&x3);
        let x12 = x6.sqr_n(6).mul(&x6);
        let x15 = x12.sqr_n(3).mul(&x3);
        let x30 = x15.sqr_n(15).mul(&x15);
        let x32 = x30.sqr_n(2).mul(&x2);
        let t = x32.sqr_n(32).mul(x);
        let t = t.sqr_n(128).mul(&x32);
        let t = t.sqr_n(32).mul(&x32);
        let t = t.sqr_n(30).mul(&x30);
        t.sqr_n(2).mul(x)
    }

    /// `b` where `mask` is all ones, `a` where it is zero.
    pub fn select(mask: u32, a: &Fe, b: &Fe) -> Fe {
        Fe(arith::select(mask, &a.0, &b.0))
    }

    /// 1 if zero, else 0.
    pub fn is_zero(&self) -> u32 {
        arith::is_zero(&self.0)
    }
}

/// Reduces a 512-bit `c` modulo p (FIPS 186-4 D.2.3):
/// T + 2 S1 + 2 S2 + S3 + S4 - D1 - D2 - D3 - D4, word by word.
#[inline(never)]
fn reduce(c: &[u32; 16]) -> Limbs {
    let w = |i: usize| i64::from(c[i]);
    let mut r = [0u32; 8];
    // Each line is one word of the sum; its carry (signed) goes to the next.
    let mut acc = w(0) + w(8) + w(9) - w(11) - w(12) - w(13) - w(14);
    r[0] = acc as u32;
    acc = (acc >> 32) + w(1) + w(9) + w(10) - w(12) - w(13) - w(14) - w(15);
    r[1] = acc as u32;
    acc = (acc >> 32) + w(2) + w(10) + w(11) - w(13) - w(14) - w(15);
    r[2] = acc as u32;
    acc = (acc >> 32) + w(3) + 2 * (w(11) + w(12)) + w(13) - w(15) - w(8) - w(9);
    r[3] = acc as u32;
    acc = (acc >> 32) + w(4) + 2 * (w(12) + w(13)) + w(14) - w(9) - w(10);
    r[4] = acc as u32;
    acc = (acc >> 32) + w(5) + 2 * (w(13) + w(14)) + w(15) - w(10) - w(11);
    r[5] = acc as u32;
    acc = (acc >> 32) + w(6) + 3 * w(14) + 2 * w(15) + w(13) - w(8) - w(9);
    r[6] = acc as u32;
    acc = (acc >> 32) + w(7) + 3 * w(15) + w(8) - w(10) - w(11) - w(12) - w(13);
    r[7] = acc as u32;
    // The value is r + carry * 2^256 with carry in [-4, 6]. Fold the carry with
    // 2^256 = 2^224 - 2^192 - 2^96 + 1 (mod p): the result is within 2^227 of
    // [0, 2^256), so the second carry is -1, 0 or 1, and folding that one cannot
    // carry again (r is then below 2^227 or above 2^256 - 2^227).
    let carry = acc >> 32;
    let (r, carry) = fold(&r, carry);
    let (r, _) = fold(&r, carry);
    // r < 2^256 < 2p: one masked subtraction.
    let (reduced, borrow) = arith::sub(&r, &P);
    arith::select(arith::mask(borrow), &reduced, &r)
}

/// `r + carry * (2^224 - 2^192 - 2^96 + 1)` as eight words and a signed carry.
#[inline(always)]
fn fold(r: &Limbs, carry: i64) -> (Limbs, i64) {
    let w = |i: usize| i64::from(r[i]);
    let mut out = [0u32; 8];
    let mut acc = w(0) + carry;
    out[0] = acc as u32;
    acc = (acc >> 32) + w(1);
    out[1] = acc as u32;
    acc = (acc >> 32) + w(2);
    out[2] = acc as u32;
    acc = (acc >> 32) + w(3) - carry;
    out[3] = acc as u32;
    acc = (acc >> 32) + w(4);
    out[4] = acc as u32;
    acc = (acc >> 32) + w(5);
    out[5] = acc as u32;
    acc = (acc >> 32) + w(6) - carry;
    out[6] = acc as u32;
    acc = (acc >> 32) + w(7) + carry;
    out[7] = acc as u32;
    (out, acc >> 32)
}
