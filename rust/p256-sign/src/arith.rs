//! 256-bit limb arithmetic shared by the field (mod p) and the scalars (mod n):
//! eight little-endian `u32` limbs, branch-free carry chains and masks.
//!
//! The products are written out column by column ("product scanning"): each term
//! is a `u64` product added to a 64-bit accumulator whose carry goes to a third
//! word, which the compiler turns into `UMULL` + `ADDS`/`ADCS`/`ADC` (the M33
//! without the DSP extension has no `UMAAL`). The multiplier's timing does not
//! depend on its operands on the Cortex-M33, and nothing here branches on or indexes
//! by a limb's value.

/// Eight little-endian 32-bit limbs.
pub type Limbs = [u32; 8];

/// Runs `$body` for each of the listed constant indices. Images are built for size
/// (`opt-level = "s"`), which leaves loops rolled; limb loops written with this
/// become straight-line code with constant indices, held in registers.
macro_rules! unroll {
    ($i:ident in [$($n:literal),*] $body:block) => {
        // The last copy's updates of loop-carried values are not read.
        $( #[allow(unused_assignments)] { let $i: usize = $n; $body } )*
    };
}
#[allow(unused_imports)] // build.rs compiles this file without the users.
pub(crate) use unroll;

/// Adds `a * b` to the 96-bit accumulator (`acc`, `top`), written as three
/// 32-bit additions so that it compiles to `UMULL`, `ADDS`, `ADCS`, `ADC`.
#[inline(always)]
pub fn mac(acc: &mut u64, top: &mut u32, a: u32, b: u32) {
    let p = u64::from(a) * u64::from(b);
    let (lo, c0) = (*acc as u32).overflowing_add(p as u32);
    let (hi, c1) = ((*acc >> 32) as u32).overflowing_add((p >> 32) as u32);
    let (hi, c2) = hi.overflowing_add(u32::from(c0));
    *acc = u64::from(lo) | (u64::from(hi) << 32);
    *top += u32::from(c1) + u32::from(c2);
}

/// Takes the accumulator's low word out and shifts the rest down by 32 bits.
#[inline(always)]
pub fn next(acc: &mut u64, top: &mut u32) -> u32 {
    let low = *acc as u32;
    *acc = (*acc >> 32) | (u64::from(*top) << 32);
    *top = 0;
    low
}

/// Adds the word `w` to the 96-bit accumulator (`acc`, `top`).
#[inline(always)]
pub fn add_word(acc: &mut u64, top: &mut u32, w: u32) {
    let (sum, carry) = acc.overflowing_add(u64::from(w));
    *acc = sum;
    *top += u32::from(carry);
}

/// `a * b + c + d`, which cannot overflow 64 bits, as (low, high) words.
#[inline(always)]
pub fn mad(a: u32, b: u32, c: u32, d: u32) -> (u32, u32) {
    let t = u64::from(a) * u64::from(b) + u64::from(c) + u64::from(d);
    (t as u32, (t >> 32) as u32)
}

/// The 512-bit product `a * b`.
#[inline(never)]
pub fn mul_wide(a: &Limbs, b: &Limbs) -> [u32; 16] {
    let mut r = [0u32; 16];
    let mut carry = 0u32;
    (r[0], carry) = mad(a[0], b[0], r[0], carry);
    (r[1], carry) = mad(a[0], b[1], r[1], carry);
    (r[2], carry) = mad(a[0], b[2], r[2], carry);
    (r[3], carry) = mad(a[0], b[3], r[3], carry);
    (r[4], carry) = mad(a[0], b[4], r[4], carry);
    (r[5], carry) = mad(a[0], b[5], r[5], carry);
    (r[6], carry) = mad(a[0], b[6], r[6], carry);
    (r[7], carry) = mad(a[0], b[7], r[7], carry);
    r[8] = carry;
    let mut carry = 0u32;
    (r[1], carry) = mad(a[1], b[0], r[1], carry);
    (r[2], carry) = mad(a[1], b[1], r[2], carry);
    (r[3], carry) = mad(a[1], b[2], r[3], carry);
    (r[4], carry) = mad(a[1], b[3], r[4], carry);
    (r[5], carry) = mad(a[1], b[4], r[5], carry);
    (r[6], carry) = mad(a[1], b[5], r[6], carry);
    (r[7], carry) = mad(a[1], b[6], r[7], carry);
    (r[8], carry) = mad(a[1], b[7], r[8], carry);
    r[9] = carry;
    let mut carry = 0u32;
    (r[2], carry) = mad(a[2], b[0], r[2], carry);
    (r[3], carry) = mad(a[2], b[1], r[3], carry);
    (r[4], carry) = mad(a[2], b[2], r[4], carry);
    (r[5], carry) = mad(a[2], b[3], r[5], carry);
    (r[6], carry) = mad(a[2], b[4], r[6], carry);
    (r[7], carry) = mad(a[2], b[5], r[7], carry);
    (r[8], carry) = mad(a[2], b[6], r[8], carry);
    (r[9], carry) = mad(a[2], b[7], r[9], carry);
    r[10] = carry;
    let mut carry = 0u32;
    (r[3], carry) = mad(a[3], b[0], r[3], carry);
    (r[4], carry) = mad(a[3], b[1], r[4], carry);
    (r[5], carry) = mad(a[3], b[2], r[5], carry);
    (r[6], carry) = mad(a[3], b[3], r[6], carry);
    (r[7], carry) = mad(a[3], b[4], r[7], carry);
    (r[8], carry) = mad(a[3], b[5], r[8], carry);
    (r[9], carry) = mad(a[3], b[6], r[9], carry);
    (r[10], carry) = mad(a[3], b[7], r[10], carry);
    r[11] = carry;
    let mut carry = 0u32;
    (r[4], carry) = mad(a[4], b[0], r[4], carry);
    (r[5], carry) = mad(a[4], b[1], r[5], carry);
    (r[6], carry) = mad(a[4], b[2], r[6], carry);
    (r[7], carry) = mad(a[4], b[3], r[7], carry);
    (r[8], carry) = mad(a[4], b[4], r[8], carry);
    (r[9], carry) = mad(a[4], b[5], r[9], carry);
    (r[10], carry) = mad(a[4], b[6], r[10], carry);
    (r[11], carry) = mad(a[4], b[7], r[11], carry);
    r[12] = carry;
    let mut carry = 0u32;
    (r[5], carry) = mad(a[5], b[0], r[5], carry);
    (r[6], carry) = mad(a[5], b[1], r[6], carry);
    (r[7], carry) = mad(a[5], b[2], r[7], carry);
    (r[8], carry) = mad(a[5], b[3], r[8], carry);
    (r[9], carry) = mad(a[5], b[4], r[9], carry);
    (r[10], carry) = mad(a[5], b[5], r[10], carry);
    (r[11], carry) = mad(a[5], b[6], r[11], carry);
    (r[12], carry) = mad(a[5], b[7], r[12], carry);
    r[13] = carry;
    let mut carry = 0u32;
    (r[6], carry) = mad(a[6], b[0], r[6], carry);
    (r[7], carry) = mad(a[6], b[1], r[7], carry);
    (r[8], carry) = mad(a[6], b[2], r[8], carry);
    (r[9], carry) = mad(a[6], b[3], r[9], carry);
    (r[10], carry) = mad(a[6], b[4], r[10], carry);
    (r[11], carry) = mad(a[6], b[5], r[11], carry);
    (r[12], carry) = mad(a[6], b[6], r[12], carry);
    (r[13], carry) = mad(a[6], b[7], r[13], carry);
    r[14] = carry;
    let mut carry = 0u32;
    (r[7], carry) = mad(a[7], b[0], r[7], carry);
    (r[8], carry) = mad(a[7], b[1], r[8], carry);
    (r[9], carry) = mad(a[7], b[2], r[9], carry);
    (r[10], carry) = mad(a[7], b[3], r[10], carry);
    (r[11], carry) = mad(a[7], b[4], r[11], carry);
    (r[12], carry) = mad(a[7], b[5], r[12], carry);
    (r[13], carry) = mad(a[7], b[6], r[13], carry);
    (r[14], carry) = mad(a[7], b[7], r[14], carry);
    r[15] = carry;
    r
}

/// The 512-bit square `a * a`: the 28 cross products once, doubled, plus the
/// eight squares of the limbs.
#[inline(never)]
pub fn sqr_wide(a: &Limbs) -> [u32; 16] {
    let mut r = [0u32; 16];
    let (mut acc, mut top) = (0u64, 0u32);
    mac(&mut acc, &mut top, a[0], a[1]);
    r[1] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, a[0], a[2]);
    r[2] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, a[0], a[3]);
    mac(&mut acc, &mut top, a[1], a[2]);
    r[3] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, a[0], a[4]);
    mac(&mut acc, &mut top, a[1], a[3]);
    r[4] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, a[0], a[5]);
    mac(&mut acc, &mut top, a[1], a[4]);
    mac(&mut acc, &mut top, a[2], a[3]);
    r[5] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, a[0], a[6]);
    mac(&mut acc, &mut top, a[1], a[5]);
    mac(&mut acc, &mut top, a[2], a[4]);
    r[6] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, a[0], a[7]);
    mac(&mut acc, &mut top, a[1], a[6]);
    mac(&mut acc, &mut top, a[2], a[5]);
    mac(&mut acc, &mut top, a[3], a[4]);
    r[7] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, a[1], a[7]);
    mac(&mut acc, &mut top, a[2], a[6]);
    mac(&mut acc, &mut top, a[3], a[5]);
    r[8] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, a[2], a[7]);
    mac(&mut acc, &mut top, a[3], a[6]);
    mac(&mut acc, &mut top, a[4], a[5]);
    r[9] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, a[3], a[7]);
    mac(&mut acc, &mut top, a[4], a[6]);
    r[10] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, a[4], a[7]);
    mac(&mut acc, &mut top, a[5], a[6]);
    r[11] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, a[5], a[7]);
    r[12] = next(&mut acc, &mut top);
    mac(&mut acc, &mut top, a[6], a[7]);
    r[13] = next(&mut acc, &mut top);
    r[14] = acc as u32;
    r[15] = (acc >> 32) as u32;
    let (mut shifted_out, mut carry) = (0u32, 0u64);
    unroll!(i in [0, 1, 2, 3, 4, 5, 6, 7] {
        let square = u64::from(a[i]) * u64::from(a[i]);
        let (lo, hi) = (r[2 * i], r[2 * i + 1]);
        let t = u64::from((lo << 1) | shifted_out) + (square & 0xffff_ffff) + carry;
        r[2 * i] = t as u32;
        let t = u64::from((hi << 1) | (lo >> 31)) + (square >> 32) + (t >> 32);
        r[2 * i + 1] = t as u32;
        carry = t >> 32;
        shifted_out = hi >> 31;
    });
    r
}

/// `a + b` and the carry out (0 or 1).
#[inline(always)]
pub fn add(a: &Limbs, b: &Limbs) -> (Limbs, u32) {
    let mut r = [0u32; 8];
    let mut carry = 0u64;
    unroll!(i in [0, 1, 2, 3, 4, 5, 6, 7] {
        let t = u64::from(a[i]) + u64::from(b[i]) + carry;
        r[i] = t as u32;
        carry = t >> 32;
    });
    (r, carry as u32)
}

/// `a - b` and the borrow out (0 or 1).
#[inline(always)]
pub fn sub(a: &Limbs, b: &Limbs) -> (Limbs, u32) {
    let mut r = [0u32; 8];
    let mut borrow = 0u64;
    unroll!(i in [0, 1, 2, 3, 4, 5, 6, 7] {
        let t = u64::from(a[i]).wrapping_sub(u64::from(b[i]) + borrow);
        r[i] = t as u32;
        borrow = t >> 63;
    });
    (r, borrow as u32)
}

/// All ones if `bit` is 1, zero if it is 0. The optimiser cannot see through the
/// mask, so it cannot turn a masked select back into a branch.
#[inline(always)]
pub fn mask(bit: u32) -> u32 {
    core::hint::black_box(0u32.wrapping_sub(bit))
}

/// `b` where `mask` is all ones, `a` where it is zero.
#[inline(always)]
pub fn select(mask: u32, a: &Limbs, b: &Limbs) -> Limbs {
    let mut r = [0u32; 8];
    unroll!(i in [0, 1, 2, 3, 4, 5, 6, 7] {
        r[i] = a[i] ^ (mask & (a[i] ^ b[i]));
    });
    r
}

/// 1 if `a` is zero, else 0.
#[inline(always)]
pub fn is_zero(a: &Limbs) -> u32 {
    let any = a[0] | a[1] | a[2] | a[3] | a[4] | a[5] | a[6] | a[7];
    // The top bit of `any | -any` is set exactly when `any` is not zero.
    1 ^ ((any | any.wrapping_neg()) >> 31)
}

/// 1 if `a < b`, else 0.
#[inline(always)]
pub fn lt(a: &Limbs, b: &Limbs) -> u32 {
    sub(a, b).1
}

/// Big-endian bytes to limbs.
pub fn from_be_bytes(bytes: &[u8; 32]) -> Limbs {
    let mut r = [0u32; 8];
    for (limb, chunk) in r.iter_mut().rev().zip(bytes.chunks_exact(4)) {
        *limb = chunk.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    }
    r
}

/// Limbs to big-endian bytes.
pub fn to_be_bytes(a: &Limbs) -> [u8; 32] {
    let mut r = [0u8; 32];
    for (chunk, limb) in r.chunks_exact_mut(4).zip(a.iter().rev()) {
        chunk.copy_from_slice(&limb.to_be_bytes());
    }
    r
}
