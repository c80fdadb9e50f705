//! Host tests: the arithmetic against a big-integer reference (`crypto-bigint`),
//! the comb table and public keys against RustCrypto `p256`, and signatures against
//! RFC 6979, NIST and RustCrypto `p256` 0.13, and ECDH against RustCrypto.

mod arith;
mod ecdh;
mod ecdsa;
mod prepared;

use crate::arith::Limbs;

/// Bytes from hex (whitespace ignored).
pub fn hex<const L: usize>(s: &str) -> [u8; L] {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert_eq!(digits.len(), 2 * L, "{s}");
    let mut out = [0u8; L];
    for (o, pair) in out.iter_mut().zip(digits.chunks(2)) {
        *o = u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap();
    }
    out
}

/// `(2j + 1) 32^i mod n`, big-endian: the scalar of comb table entry `j` of window
/// `i` (`32^51 (2j + 1)` exceeds n).
pub fn comb_scalar(i: usize, j: usize) -> [u8; 32] {
    use p256::elliptic_curve::ff::PrimeField;
    let k = p256::Scalar::from(2 * j as u64 + 1) * p256::Scalar::from(2u64).pow_vartime(&[5 * i as u64]);
    k.to_repr().into()
}

pub fn limbs(s: &str) -> Limbs {
    crate::arith::from_be_bytes(&hex::<32>(s))
}

/// xorshift64*: reproducible pseudo-random test inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn bytes(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        out
    }

    /// Random limbs, half of the time with runs of all-ones or all-zero words
    /// (carry chains are where limb arithmetic goes wrong).
    pub fn limbs(&mut self) -> Limbs {
        let mut l = crate::arith::from_be_bytes(&self.bytes());
        if self.next_u64() & 1 == 1 {
            for w in l.iter_mut() {
                match self.next_u64() % 3 {
                    0 => *w = 0,
                    1 => *w = u32::MAX,
                    _ => {}
                }
            }
        }
        l
    }
}
