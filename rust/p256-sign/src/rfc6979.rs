//! RFC 6979 deterministic nonces with HMAC-SHA256, as RustCrypto's `rfc6979` 0.4
//! computes them for `p256` 0.13.
//!
//! One difference from the letter of RFC 6979 section 3.2 step d is kept on purpose:
//! RustCrypto `ecdsa` 0.16 feeds the digest itself to the HMAC, not
//! `bits2octets(h1)` (the digest reduced modulo n). The two differ only for
//! digests of n or more (about one in 2^32); the signatures stay valid either way,
//! and matching RustCrypto keeps the signatures this project already makes.
//!
//! HMAC keys are absorbed once: [`HmacKey`] keeps the SHA-256 states after the
//! inner and outer pad blocks, so each further HMAC under the same key costs only
//! its message blocks.

use crate::arith::{self, Limbs};
use crate::scalar::N;
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

/// SHA-256 states after `key ^ ipad` and `key ^ opad`.
struct HmacKey {
    inner: Sha256,
    outer: Sha256,
}

impl HmacKey {
    fn new(key: &[u8; 32]) -> HmacKey {
        let (mut ipad, mut opad) = ([0x36u8; 64], [0x5cu8; 64]);
        for ((i, o), k) in ipad.iter_mut().zip(opad.iter_mut()).zip(key) {
            *i ^= k;
            *o ^= k;
        }
        let (mut inner, mut outer) = (Sha256::new(), Sha256::new());
        inner.update(ipad);
        outer.update(opad);
        HmacKey { inner, outer }
    }

    /// HMAC of the concatenation of `parts`.
    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut inner = self.inner.clone();
        for part in parts {
            inner.update(part);
        }
        let mut outer = self.outer.clone();
        outer.update(inner.finalize());
        outer.finalize().into()
    }
}

/// The nonce `k` in `[1, n - 1]` for the secret key `x` (32 bytes, big-endian) and
/// the 32-byte `digest` (RFC 6979 section 3.2, qlen = hlen = 256, no extra data).
/// The last K and V are zeroised here; the HMAC states (SHA-256 after the padded
/// keys) and earlier K and V left in dead frames are for the caller's stack wipe.
pub fn nonce(x: &[u8; 32], digest: &[u8; 32]) -> Limbs {
    let mut v = [0x01u8; 32];
    let mut k = HmacKey::new(&[0u8; 32]).mac(&[&v, &[0x00], x, digest]);
    let key = HmacKey::new(&k);
    v = key.mac(&[&v]);
    k = key.mac(&[&v, &[0x01], x, digest]);
    let mut key = HmacKey::new(&k);
    v = key.mac(&[&v]);
    loop {
        v = key.mac(&[&v]);
        let candidate = arith::from_be_bytes(&v);
        // Only whether a candidate was rejected is visible (probability 2^-32).
        if arith::is_zero(&candidate) == 0 && arith::lt(&candidate, &N) == 1 {
            k.zeroize();
            v.zeroize();
            return candidate;
        }
        k = key.mac(&[&v, &[0x00]]);
        key = HmacKey::new(&k);
        v = key.mac(&[&v]);
    }
}
