//! Fixed-base scalar multiplication `k G` with a precomputed comb table, and
//! variable-base `k P` (ECDH) with a 4-bit signed window over a table made at run
//! time (see [`mul`]).
//!
//! The comb recodes the scalar into 52 signed odd digits of 5 bits,
//! `k = sum d_i 32^i` with `d_i` in {±1, ±3, .., ±31} (Joye–Tunstall: digit `i` is
//! bits `5i .. 5i + 5` of `k`, with bit `5i` forced to one, less 32; the top digit is
//! the top bit forced odd, so always 1). An odd scalar always has such a recoding,
//! so `k` is replaced by `n - k` when even and the result negated. The table holds
//! `j 32^i G` for odd `j` in 1..=31 and each `i` in 0..52 (`build.rs`), in affine
//! coordinates (52 KiB): `k G` is then 51 mixed additions and no doubling.
//!
//! Exceptional cases: before window `i` is added the running sum is `m G` with
//! `m` odd and `|m| < 32^i`, and the point added is `d 32^i G` with `|d 32^i| > |m|`.
//! For `i <= 50`, `0 < |m ∓ d 32^i| < 32^(i+1) <= 2^255 < n`, so the two points are
//! never equal, opposite, or infinite. At `i = 51` the digit is 1: `m = -2^255
//! (mod n)` would mean `k = 0`, which is excluded, but `m = 2^255 (mod n)`, that is
//! `m = 2^255 - n`, happens for exactly one odd scalar, `2^256 - n` (and for `n`
//! less it, `2n - 2^256`, when `k` is even). The last addition therefore also
//! doubles the table point and keeps the doubling where the addition's `H` is
//! zero, by a masked select.
//!
//! Constant time: each table lookup reads all sixteen entries of its window and
//! keeps one under a mask; the sign is applied by a masked negation; the formulas
//! run the same operations whatever the values. The last window's entry is the
//! constant 1: its position is public.

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

/// The affine form of `a` and the affine x of `b`, with one inversion for both
/// (`(Z_a Z_b)^-1`, then each `Z^-1` by one multiplication): an ephemeral public
/// key and its shared secret.
pub fn to_affine_and_x(a: &Jacobian, b: &Jacobian) -> (Affine, Fe) {
    let inv = a.z.mul(&b.z).invert();
    let za = inv.mul(&b.z);
    let zb = inv.mul(&a.z);
    let za2 = za.sqr();
    (Affine { x: a.x.mul(&za2), y: a.y.mul(&za2.mul(&za)) }, b.x.mul(&zb.sqr()))
}

/// `q + p` for `q != ±p`, `q` finite: 8 multiplications and 3 squarings.
/// Returns the sum and `H = x(p) - x(q)` (zero exactly when `q = ±p`).
fn add_mixed(q: &Jacobian, p: &Affine) -> (Jacobian, Fe) {
    let mut sum = *q;
    let h = add_mixed_in_place(&mut sum, p);
    (sum, h)
}

/// [`add_mixed`] into `q` itself (the loops' form: no copy of the returned point),
/// returning `H`.
fn add_mixed_in_place(q: &mut Jacobian, p: &Affine) -> Fe {
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
    q.z = q.z.mul(&h);
    q.x = x3;
    q.y = y3;
    h
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

/// Entry `index` (below `N`) of `window`, reading every entry: the masks first,
/// then four words of every entry at a time, so that the accumulators, the words
/// loaded and the mask of a pass fit the M33's registers (sixteen accumulators at
/// once spill).
fn lookup<const N: usize>(window: &[[Limbs; 2]; N], index: u32) -> Affine {
    let masks: [u32; N] = core::array::from_fn(|j| arith::mask(ct_eq(j as u32, index)));
    let [x0, x1, x2, x3] = select4(window, &masks, 0, 0);
    let [x4, x5, x6, x7] = select4(window, &masks, 0, 4);
    let [y0, y1, y2, y3] = select4(window, &masks, 1, 0);
    let [y4, y5, y6, y7] = select4(window, &masks, 1, 4);
    Affine { x: Fe([x0, x1, x2, x3, x4, x5, x6, x7]), y: Fe([y0, y1, y2, y3, y4, y5, y6, y7]) }
}

/// Words `h .. h + 4` of coordinate `c` of the entry whose mask is all ones.
#[inline(always)]
fn select4<const N: usize>(window: &[[Limbs; 2]; N], masks: &[u32; N], c: usize, h: usize) -> [u32; 4] {
    let (mut r0, mut r1, mut r2, mut r3) = (0u32, 0u32, 0u32, 0u32);
    for (entry, &m) in window.iter().zip(masks.iter()) {
        let e = &entry[c & 1];
        r0 |= e[h & 4] & m;
        r1 |= e[(h & 4) + 1] & m;
        r2 |= e[(h & 4) + 2] & m;
        r3 |= e[(h & 4) + 3] & m;
    }
    [r0, r1, r2, r3]
}

/// The comb table point for the signed digit coded by the odd 6-bit `v`
/// (digit `v - 32`): its magnitude picks the entry, its sign a masked negation.
fn comb_digit_point(window: &[[Limbs; 2]; COMB_ENTRIES], v: u32) -> Affine {
    let positive = (v >> 5) & 1;
    // |v - 32| = 2 index + 1: index is (v >> 1) & 15 for v > 32 and its complement
    // in 0..16 for v < 32.
    let index = ((v >> 1) & 15) ^ (15 & arith::mask(positive ^ 1));
    let p = lookup(window, index);
    Affine { x: p.x, y: Fe::select(arith::mask(positive ^ 1), &p.y, &p.y.neg()) }
}

/// Six bits of `k` from bit `5 i` (bits above 255 read as zero).
fn bits6(k: &Limbs, i: usize) -> u32 {
    let at = 5 * i;
    let lo = k.get(at / 32).copied().unwrap_or(0);
    let hi = k.get(at / 32 + 1).copied().unwrap_or(0);
    ((u64::from(lo) | (u64::from(hi) << 32)) >> (at % 32)) as u32 & 0x3f
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

/// Windows of a comb table, and points in each.
pub const COMB_WINDOWS: usize = 52;
pub const COMB_ENTRIES: usize = 16;

/// A comb table: `table[i][j] = (2j + 1) 32^i P` in affine coordinates (x, y) for a
/// point `P` of the curve, 52 windows of 16 points, 53,248 bytes.
pub type CombTable = [[[Limbs; 2]; COMB_ENTRIES]; COMB_WINDOWS];

/// `k G` for a scalar `k` in `[1, n - 1]` (little-endian limbs), in Jacobian form.
pub fn mul_base(k: &Limbs) -> Jacobian {
    mul_comb(k, &TABLE)
}

/// `k P` for a scalar `k` in `[1, n - 1]` and the comb table of `P` (`TABLE` for
/// `G`, [`comb_table`] for another point), in Jacobian form. The argument above on
/// exceptional cases is about scalars only: it holds for any `P` of the curve
/// other than infinity, whose order is the prime n.
pub fn mul_comb(k: &Limbs, table: &CombTable) -> Jacobian {
    // Odd scalar: k, or n - k (then the result is negated).
    let even = arith::mask((k[0] & 1) ^ 1);
    let k = arith::select(even, k, &scalar::neg(k));

    let p = comb_digit_point(&table[0], bits6(&k, 0) | 1);
    let mut q = Jacobian { x: p.x, y: p.y, z: Fe::ONE };
    for (i, window) in table.iter().enumerate().take(COMB_WINDOWS - 1).skip(1) {
        add_mixed_in_place(&mut q, &comb_digit_point(window, bits6(&k, i) | 1));
    }
    // The top digit, (k >> 255) | 1, is 1: entry 0 of the last window, for every k.
    let [x, y] = table[COMB_WINDOWS - 1][0];
    let p = Affine { x: Fe(x), y: Fe(y) };
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

/// `2p` for Jacobian `p` (a = -3; `p` finite, and `y != 0` since the group has odd
/// order): 4 multiplications and 4 squarings (`Z3 = 2 Y Z` costs less here than
/// `(Y + Z)^2 - Y^2 - Z^2`); the small multiples by [`Fe::mul_small`].
fn double(p: &Jacobian) -> Jacobian {
    let delta = p.z.sqr();
    let gamma = p.y.sqr();
    let beta = p.x.mul(&gamma); // X Y^2
    let alpha = p.x.sub(&delta).mul(&p.x.add(&delta)).mul_small(3); // 3 (X - Z^2)(X + Z^2)
    let x3 = alpha.sqr().sub(&beta.mul_small(8));
    let y3 = alpha.mul(&beta.mul_small(4).sub(&x3)).sub(&gamma.sqr().mul_small(8));
    Jacobian { x: x3, y: y3, z: p.y.mul(&p.z).double() }
}

/// The odd multiples `P, 3P, .., (2N - 1)P` of the affine point `p` (a point of the
/// curve, not infinity), in affine coordinates, as [`lookup`] reads them, into
/// `table`.
///
/// `2P` comes out of [`double_affine`] in Jacobian form `(X2, Y2, Z2)`. Instead of
/// inverting `Z2`, the odd multiples are summed on the isomorphic curve where `2P`
/// is affine: `(x, y) -> (x Z2^2, y Z2^3)` maps the curve to one with other `a`
/// and `b`, which the mixed-addition formula does not use, so `P' = (x Z2^2, y Z2^3)`
/// and `2P' = (X2, Y2)` add there as usual; a Jacobian `(X', Y', Z')` there is
/// `(X', Y', Z' Z2)` here. The `N - 1` results are then made affine with one
/// inversion (Montgomery's trick), in place. No addition is exceptional:
/// `j P != ±2P` for odd `j < 2N - 1`, the order being a large prime.
fn odd_multiples<const N: usize>(p: &Affine, table: &mut [[Limbs; 2]; N]) {
    let twice = double_affine(p);
    let z2 = twice.z.sqr();
    let t = Affine { x: twice.x, y: twice.y };
    let mut q = Jacobian { x: p.x.mul(&z2), y: p.y.mul(&z2.mul(&twice.z)), z: Fe::ONE };
    table[0] = [p.x.0, p.y.0];
    // Each multiple's Z here, and the products Z_1 .. Z_i (the last of each unused).
    let (mut z, mut prefix) = ([Fe::ONE; N], [Fe::ONE; N]);
    let mut acc = Fe::ONE;
    for i in 0..N - 1 {
        q = add_mixed(&q, &t).0;
        table[i + 1] = [q.x.0, q.y.0];
        z[i] = q.z.mul(&twice.z);
        acc = acc.mul(&z[i]);
        prefix[i] = acc;
    }
    let mut inv = acc.invert();
    for i in (0..N - 1).rev() {
        let zinv = if i > 0 { inv.mul(&prefix[i - 1]) } else { inv };
        inv = inv.mul(&z[i]);
        let zinv2 = zinv.sqr();
        let [x, y] = table[i + 1];
        table[i + 1] = [Fe(x).mul(&zinv2).0, Fe(y).mul(&zinv2.mul(&zinv)).0];
    }
}

/// `k P` for a scalar `k` in `[1, n - 1]` (little-endian limbs) and an affine point
/// `p` of the curve (not infinity), in Jacobian form: ECDH's multiplication.
///
/// As in [`mul_base`], an even `k` is replaced by `n - k` and the result negated,
/// and the odd scalar is recoded into 64 signed odd digits `d_i`. With the table
/// of `P, 3P, .., 15P` ([`odd_multiples`]), Horner's rule from the top digit gives
/// `k P` in 252 doublings and 63 mixed additions; each lookup reads all eight
/// entries, and signs are masked negations.
///
/// Exceptional cases: before the addition of digit `i` the sum is `16 m P` with
/// `m = sum_{j > i} d_j 16^(j - i - 1)`, which is odd and positive (the top digit is
/// positive and at least 1, every digit odd) and below `16^(63 - i)`. For `i >= 1`,
/// `0 < 16 m ± d_i < 2^252 + 16 < n`: no addition meets equal or opposite points
/// and no doubling meets infinity. At `i = 0`, `16 m + d_0 = k`; `16 m = -d_0`
/// (mod n) would mean `k = 0`, excluded, and `16 m = d_0` (mod n) means
/// `k = 2 d_0` (mod n), which for an odd `k < n` with a low digit `d_0` is only
/// `k = n - 2` (`d_0 = -1`; and the even `k = 2`, which becomes it). So the last
/// addition also doubles the table point and keeps that where `H` is zero, by a
/// masked select, as [`mul_base`] does.
pub fn mul(k: &Limbs, p: &Affine) -> Jacobian {
    let even = arith::mask((k[0] & 1) ^ 1);
    let k = arith::select(even, k, &scalar::neg(k));
    let mut table = [[[0u32; 8]; 2]; 8];
    odd_multiples(p, &mut table);

    // The top digit, (k >> 252) | 1, is positive: it is entry (k >> 253).
    let top = lookup(&table, bits5(&k, 63) >> 1);
    let mut q = Jacobian { x: top.x, y: top.y, z: Fe::ONE };
    for i in (1..63).rev() {
        q = double(&double(&double(&double(&q))));
        add_mixed_in_place(&mut q, &digit_point(&table, bits5(&k, i) | 1));
    }
    q = double(&double(&double(&double(&q))));
    let p = digit_point(&table, bits5(&k, 0) | 1);
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

/// Fills `table` with the comb table of the affine point `p` (a point of the curve,
/// not infinity): window `i` holds the odd multiples of `B_i = 32^i P`
/// ([`odd_multiples`], one inversion), and `B_(i+1) = 31 B_i + B_i`, made affine
/// with a second inversion. This runs on a public point (the recipient's key),
/// once when the key is set: about 19 M instructions on the M33.
pub fn comb_table(p: &Affine, table: &mut CombTable) {
    let mut base = *p;
    for (i, window) in table.iter_mut().enumerate() {
        odd_multiples(&base, window);
        if i < COMB_WINDOWS - 1 {
            // 31 B != ±B (the order n is a prime above 32), so the addition is not
            // exceptional, and 32 B is not infinity.
            let [x, y] = window[COMB_ENTRIES - 1];
            let last = Jacobian { x: Fe(x), y: Fe(y), z: Fe::ONE };
            base = add_mixed(&last, &base).0.to_affine();
        }
    }
}

/// `b` of the curve `y^2 = x^3 - 3x + b`, little-endian limbs.
const B: Fe = Fe([
    0x27d2_604b,
    0x3bce_3c3e,
    0xcc53_b0f6,
    0x651d_06b0,
    0x7698_86bc,
    0xb3eb_bd55,
    0xaa3a_93e7,
    0x5ac6_35d8,
]);

/// The affine point of a SEC1 uncompressed encoding `04 || x || y`, if `x` and `y`
/// are below p and the point is on the curve (this runs on public data; the point
/// at infinity has no such encoding).
pub fn from_uncompressed(sec1: &[u8; 65]) -> Option<Affine> {
    let (tag, coordinates) = sec1.split_first()?;
    let (x, y) = coordinates.split_at(32);
    let x = Fe::from_be_bytes(x.try_into().ok()?)?;
    let y = Fe::from_be_bytes(y.try_into().ok()?)?;
    let three = Fe([3, 0, 0, 0, 0, 0, 0, 0]);
    let rhs = x.sqr().sub(&three).mul(&x).add(&B);
    (*tag == 0x04 && y.sqr() == rhs).then_some(Affine { x, y })
}
