//! Constant-time modular inversion by Bernstein–Yang "safegcd" divsteps
//! ("Fast constant-time gcd computation and modular inversion", 2019), in the
//! half-delta form whose bound is 590 divsteps for 256-bit inputs (Wuille's
//! analysis, as used by libsecp256k1): 20 batches of 30 divsteps here.
//!
//! Each batch runs 30 divsteps on the low 30 bits of `f` and `g` alone, building a
//! 2x2 transition matrix (scaled by 2^30) with masks only, then applies it to the
//! full `f, g` and to the Bezout coefficients `d, e` (kept in `(-2M, M)` by adding
//! the multiple of the modulus that makes the low 30 bits vanish). Numbers are
//! nine signed 30-bit limbs ("signed30"), so every product fits `i64`
//! (`SMULL`/`SMLAL`). The iteration counts are fixed and no branch or index depends
//! on a value: the time is the same for every input.

use crate::arith::Limbs;

/// Nine 30-bit limbs, least significant first; the top limb carries the sign.
type Signed30 = [i32; 9];

const M30: i32 = 0x3fff_ffff;

/// A modulus in signed30 form and its inverse modulo 2^30.
pub struct Modulus {
    m: Signed30,
    inv30: u32,
}

impl Modulus {
    /// For an odd `m < 2^256`.
    pub const fn new(m: &Limbs) -> Modulus {
        // m^-1 mod 2^32 by Newton's iteration, then truncated to 30 bits.
        let mut inv = 1u32;
        let mut i = 0;
        while i < 5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(m[0].wrapping_mul(inv)));
            i += 1;
        }
        Modulus { m: to_signed30(m), inv30: inv & (M30 as u32) }
    }
}

const fn to_signed30(a: &Limbs) -> Signed30 {
    let mut r = [0i32; 9];
    let mut i = 0;
    while i < 9 {
        let bit = 30 * i;
        let (w, s) = (bit / 32, bit % 32);
        let lo = a[w] as u64;
        let hi = if w + 1 < 8 { a[w + 1] as u64 } else { 0 };
        r[i] = (((lo | (hi << 32)) >> s) as u32 & (M30 as u32)) as i32;
        i += 1;
    }
    r
}

/// Signed30 with limbs 0..8 in `[0, 2^30)` and a value in `[0, 2^256)` to limbs.
fn from_signed30(a: &Signed30) -> Limbs {
    let mut r = [0u32; 8];
    let mut acc = 0u64;
    let mut bits = 0;
    let mut out = 0;
    for &limb in a {
        acc |= u64::from(limb as u32) << bits;
        bits += 30;
        if bits >= 32 {
            if let Some(w) = r.get_mut(out) {
                *w = acc as u32;
            }
            out += 1;
            acc >>= 32;
            bits -= 32;
        }
    }
    r
}

/// The 2x2 transition matrix of 30 divsteps, scaled by 2^30: `[u v; q r]`.
struct Trans {
    u: i32,
    v: i32,
    q: i32,
    r: i32,
}

/// 30 divsteps on the low bits of `f` (odd) and `g`; returns the new zeta
/// (`-(delta + 1/2)`) and the matrix.
fn divsteps_30(mut zeta: i32, f0: u32, g0: u32) -> (i32, Trans) {
    let (mut u, mut v, mut q, mut r) = (1u32, 0u32, 0u32, 1u32);
    let (mut f, mut g) = (f0, g0);
    for _ in 0..30 {
        // c1: all ones when delta > 0 (zeta < 0); c2: all ones when g is odd.
        let c1 = (zeta >> 31) as u32;
        let x = (f ^ c1).wrapping_sub(c1);
        let y = (u ^ c1).wrapping_sub(c1);
        let z = (v ^ c1).wrapping_sub(c1);
        let c2 = (g & 1).wrapping_neg();
        g = g.wrapping_add(x & c2);
        q = q.wrapping_add(y & c2);
        r = r.wrapping_add(z & c2);
        let c1 = c1 & c2;
        zeta = (zeta ^ c1 as i32).wrapping_sub(1);
        f = f.wrapping_add(g & c1);
        u = u.wrapping_add(q & c1);
        v = v.wrapping_add(r & c1);
        g >>= 1;
        u <<= 1;
        v <<= 1;
    }
    (zeta, Trans { u: u as i32, v: v as i32, q: q as i32, r: r as i32 })
}

/// `[f, g] = t [f, g] / 2^30` (exact).
fn update_fg(f: &mut Signed30, g: &mut Signed30, t: &Trans) {
    let (u, v, q, r) = (i64::from(t.u), i64::from(t.v), i64::from(t.q), i64::from(t.r));
    let (mut cf, mut cg) =
        (u * i64::from(f[0]) + v * i64::from(g[0]), q * i64::from(f[0]) + r * i64::from(g[0]));
    cf >>= 30;
    cg >>= 30;
    for i in 1..9 {
        let (fi, gi) = (i64::from(f[i]), i64::from(g[i]));
        cf += u * fi + v * gi;
        cg += q * fi + r * gi;
        f[i - 1] = cf as i32 & M30;
        g[i - 1] = cg as i32 & M30;
        cf >>= 30;
        cg >>= 30;
    }
    f[8] = cf as i32;
    g[8] = cg as i32;
}

/// `[d, e] = (t [d, e] + M [md, me]) / 2^30`, with `md, me` chosen so that the
/// division is exact and `d, e` stay in `(-2M, M)`.
fn update_de(d: &mut Signed30, e: &mut Signed30, t: &Trans, m: &Modulus) {
    let (u, v, q, r) = (i64::from(t.u), i64::from(t.v), i64::from(t.q), i64::from(t.r));
    // Start md, me at [u, q] if d is negative plus [v, r] if e is negative.
    let (sd, se) = (d[8] >> 31, e[8] >> 31);
    let mut md = (t.u & sd).wrapping_add(t.v & se);
    let mut me = (t.q & sd).wrapping_add(t.r & se);
    let (d0, e0) = (i64::from(d[0]), i64::from(e[0]));
    let mut cd = u * d0 + v * e0;
    let mut ce = q * d0 + r * e0;
    // Subtract from md, me what makes the low 30 bits of the sums zero.
    md = md.wrapping_sub((m.inv30.wrapping_mul(cd as u32).wrapping_add(md as u32) & M30 as u32) as i32);
    me = me.wrapping_sub((m.inv30.wrapping_mul(ce as u32).wrapping_add(me as u32) & M30 as u32) as i32);
    let (md, me) = (i64::from(md), i64::from(me));
    cd += i64::from(m.m[0]) * md;
    ce += i64::from(m.m[0]) * me;
    cd >>= 30;
    ce >>= 30;
    for i in 1..9 {
        let (di, ei, mi) = (i64::from(d[i]), i64::from(e[i]), i64::from(m.m[i]));
        cd += u * di + v * ei + mi * md;
        ce += q * di + r * ei + mi * me;
        d[i - 1] = cd as i32 & M30;
        e[i - 1] = ce as i32 & M30;
        cd >>= 30;
        ce >>= 30;
    }
    d[8] = cd as i32;
    e[8] = ce as i32;
}

/// `a + (m & mask)` with carries propagated: limbs 0..8 back in `[0, 2^30)`.
fn add_masked(a: &Signed30, m: &Signed30, mask: i32) -> Signed30 {
    let mut r = [0i32; 9];
    let mut c = 0i64;
    for i in 0..8 {
        c += i64::from(a[i]) + i64::from(m[i] & mask);
        r[i] = c as i32 & M30;
        c >>= 30;
    }
    // The top limb keeps the rest, with the sign.
    r[8] = (c + i64::from(a[8]) + i64::from(m[8] & mask)) as i32;
    r
}

/// `a` if `mask` is zero, `-a` if it is all ones, carries propagated.
fn negate_masked(a: &Signed30, mask: i32) -> Signed30 {
    let mut r = [0i32; 9];
    let mut c = 0i64;
    for i in 0..8 {
        c += i64::from((a[i] ^ mask).wrapping_sub(mask));
        r[i] = c as i32 & M30;
        c >>= 30;
    }
    r[8] = (c + i64::from((a[8] ^ mask).wrapping_sub(mask))) as i32;
    r
}

/// `x^-1 mod m` for `x < m` (zero for zero), in constant time.
pub fn invert(x: &Limbs, m: &Modulus) -> Limbs {
    let (mut f, mut g) = (m.m, to_signed30(x));
    let (mut d, mut e) = ([0i32; 9], [0i32; 9]);
    e[0] = 1;
    let mut zeta = -1i32; // delta = 1/2
    for _ in 0..20 {
        let (z, t) = divsteps_30(zeta, f[0] as u32, g[0] as u32);
        zeta = z;
        update_fg(&mut f, &mut g, &t);
        update_de(&mut d, &mut e, &t, m);
    }
    // Now g = 0 and f = ±1 (for x != 0); the inverse is f d mod m, d in (-2m, m).
    let d = add_masked(&d, &m.m, d[8] >> 31); // (-m, m)
    let d = negate_masked(&d, f[8] >> 31); // (-m, m)
    let d = add_masked(&d, &m.m, d[8] >> 31); // [0, m)
    from_signed30(&d)
}
