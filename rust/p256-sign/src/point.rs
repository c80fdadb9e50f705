//! Fixed-base scalar multiplication `k G` with a precomputed comb table.
//!
//! The scalar is recoded into 64 signed odd digits of 4 bits,
//! `k = sum d_i 16^i` with `d_i` in {±1, ±3, .., ±15} (Joye–Tunstall: digit `i` is
//! bits `4i .. 4i + 4` of `k`, with bit `4i` forced to one, less 16; the top digit is
//! the top nibble forced odd). An odd scalar always has such a recoding, so `k` is
//! replaced by `n - k` when even and the result negated. The table holds
//! `j 16^i G` for odd `j` in 1..=15 and each `i` in 0..64 (`build.rs`), in affine
//! coordinates: `k G` is then 63 mixed additions and no doubling.
//!
//! Exceptional cases: before window `i` is added the running sum is `m G` with
//! `m` odd and `|m| < 16^i`, and the point added is `d 16^i G` with `|d 16^i| > |m|`.
//! For `i <= 62`, `0 < |m ∓ d 16^i| < 16^(i+1) <= 2^252 < n`, so the two points are
//! never equal, opposite, or infinite. At `i = 63`, `m = -d 16^63 (mod n)` would
//! mean `k = 0`, which is excluded, but `m = d 16^63 (mod n)` happens for exactly
//! one odd scalar, `30 * 2^252 - n` (and for `n` less it when `k` is even). The last
//! addition therefore also doubles the table point and keeps the doubling where
//! the addition's `H` is zero, by a masked select.
//!
//! Constant time: each table lookup reads all eight entries of its window and keeps
//! one under a mask; the sign is applied by a masked negation; the formulas run the
//! same operations whatever the values.

use crate::arith::{self, Limbs};
use crate::field::Fe;
use crate::scalar;

include!(concat!(env!("OUT_DIR"), "/comb_table.rs"));

/// A point in affine coordinates (never the point at infinity here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Affine {
    pub x: Fe,
    pub y: Fe,
}

/// A point in Jacobian coordinates: `(X / Z^2, Y / Z^3)`.
#[derive(Clone, Copy, Debug)]
pub struct Jacobian {
    pub x: Fe,
    pub y: Fe,
    pub z: Fe,
}

impl Jacobian {
    /// The affine point (`Z` is never zero here).
    pub fn to_affine(self) -> Affine {
        let zinv = self.z.invert();
        let zinv2 = zinv.sqr();
        Affine { x: self.x.mul(&zinv2), y: self.y.mul(&zinv2.mul(&zinv)) }
    }

    /// The affine x coordinate only.
    pub fn affine_x(&self) -> Fe {
        self.x.mul(&self.z.invert().sqr())
    }
}

/// `q + p` for `q != ±p`, `q` finite: 8 multiplications and 3 squarings.
/// Returns the sum and `H = x(p) - x(q)` (zero exactly when `q = ±p`).
fn add_mixed(q: &Jacobian, p: &Affine) -> (Jacobian, Fe) {
    let z1z1 = q.z.sqr();
    let u2 = p.x.mul(&z1z1);
    let s2 = p.y.mul(&q.z.mul(&z1z1));
    let h = u2.sub(&q.x);
    let r = s2.sub(&q.y);
    let hh = h.sqr();
    let hhh = h.mul(&hh);
    let v = q.x.mul(&hh);
    let x3 = r.sqr().sub(&hhh).sub(&v.double());
    let y3 = r.mul(&v.sub(&x3)).sub(&q.y.mul(&hhh));
    let z3 = q.z.mul(&h);
    (Jacobian { x: x3, y: y3, z: z3 }, h)
}

/// `2p` for affine `p` (a = -3, y != 0 since the group has odd order).
fn double_affine(p: &Affine) -> Jacobian {
    let m = p.x.sub(&Fe::ONE).mul(&p.x.add(&Fe::ONE));
    let m = m.double().add(&m); // 3 (x^2 - 1)
    let yy = p.y.sqr();
    let s = p.x.mul(&yy).double().double(); // 4 x y^2
    let x3 = m.sqr().sub(&s.double());
    let y3 = m.mul(&s.sub(&x3)).sub(&yy.sqr().double().double().double());
    Jacobian { x: x3, y: y3, z: p.y.double() }
}

/// 1 if `a == b`, else 0.
#[inline(always)]
fn ct_eq(a: u32, b: u32) -> u32 {
    let x = a ^ b;
    1 ^ ((x | x.wrapping_neg()) >> 31)
}

/// Entry `index` (0..8) of `window`, reading every entry.
fn lookup(window: &[[Limbs; 2]; 8], index: u32) -> Affine {
    let (mut x, mut y) = ([0u32; 8], [0u32; 8]);
    for (j, entry) in (0u32..).zip(window.iter()) {
        let m = arith::mask(ct_eq(j, index));
        arith::unroll!(w in [0, 1, 2, 3, 4, 5, 6, 7] {
            x[w] |= entry[0][w] & m;
            y[w] |= entry[1][w] & m;
        });
    }
    Affine { x: Fe(x), y: Fe(y) }
}

/// The table point for the signed digit coded by the odd 5-bit `v`
/// (digit `v - 16`): its magnitude picks the entry, its sign a masked negation.
fn digit_point(window: &[[Limbs; 2]; 8], v: u32) -> Affine {
    let positive = (v >> 4) & 1;
    // |v - 16| = 2 index + 1: index is (v >> 1) & 7 for v > 16 and its complement
    // in 0..8 for v < 16.
    let index = ((v >> 1) & 7) ^ (7 & arith::mask(positive ^ 1));
    let p = lookup(window, index);
    Affine { x: p.x, y: Fe::select(arith::mask(positive ^ 1), &p.y, &p.y.neg()) }
}

/// Five bits of `k` from bit `4 i` (bits above 255 read as zero).
fn bits5(k: &Limbs, i: usize) -> u32 {
    let at = 4 * i;
    let lo = k.get(at / 32).copied().unwrap_or(0);
    let hi = k.get(at / 32 + 1).copied().unwrap_or(0);
    ((u64::from(lo) | (u64::from(hi) << 32)) >> (at % 32)) as u32 & 0x1f
}

/// `k G` for a scalar `k` in `[1, n - 1]` (little-endian limbs), in Jacobian form.
pub fn mul_base(k: &Limbs) -> Jacobian {
    // Odd scalar: k, or n - k (then the result is negated).
    let even = arith::mask((k[0] & 1) ^ 1);
    let k = arith::select(even, k, &scalar::neg(k));

    let p = digit_point(&TABLE[0], bits5(&k, 0) | 1);
    let mut q = Jacobian { x: p.x, y: p.y, z: Fe::ONE };
    for (i, window) in TABLE.iter().enumerate().take(63).skip(1) {
        q = add_mixed(&q, &digit_point(window, bits5(&k, i) | 1)).0;
    }
    // The top digit, (k >> 252) | 1, is positive: it is entry (k >> 253).
    let p = lookup(&TABLE[63], bits5(&k, 63) >> 1);
    let (sum, h) = add_mixed(&q, &p);
    let doubled = double_affine(&p);
    let m = arith::mask(h.is_zero());
    q = Jacobian {
        x: Fe::select(m, &sum.x, &doubled.x),
        y: Fe::select(m, &sum.y, &doubled.y),
        z: Fe::select(m, &sum.z, &doubled.z),
    };
    q.y = Fe::select(even, &q.y, &q.y.neg());
    q
}
