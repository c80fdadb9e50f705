//! ECDSA P-256 signing with RFC 6979 nonces, P-256 public keys and ECDH, for the
//! Cortex-M33 (`no_std`, no heap, no `unsafe`, no panic reachable from inputs).
//!
//! Signatures are byte for byte those of RustCrypto `p256` 0.13
//! (`SigningKey::sign_prehash` on a 32-byte digest): `r || s` big-endian, `s` not
//! normalised to the low half, and the nonce of RustCrypto's RFC 6979 (which puts
//! the digest itself into the HMAC: see "Nonce" below).
//!
//! ```
//! let key = p256_sign::SecretKey::from_bytes(&[0x11; 32])?;
//! let signature: [u8; 64] = key.sign_prehash(&[0x5a; 32])?; // r || s
//! let public: [u8; 65] = key.public_key(); // 04 || x || y
//! let peer = p256_sign::SecretKey::from_bytes(&[0x22; 32])?.public_key();
//! let shared: [u8; 32] = key.diffie_hellman(&peer)?; // x of d P
//! # Ok::<(), p256_sign::Error>(())
//! ```
//!
//! The ECDH shared secret is RustCrypto `p256` 0.13's `ecdh::diffie_hellman` (its
//! `raw_secret_bytes`), after the same checks of the peer key (`04 || x || y`, `x`
//! and `y` below p, on the curve).
//!
//! # Algorithms
//!
//! - **Field** (`field`, `arith`): 8 x 32-bit limbs, fully reduced. Products are
//!   schoolbook 8x8 in `u64` (`UMULL`/`UMLAL` + `ADDS`/`ADC`; the M33 without DSP
//!   has no `UMAAL`), squares compute the 28 cross products once; reduction is
//!   NIST/Solinas for p = 2^256 - 2^224 + 2^192 + 2^96 - 1. Limb loops are unrolled
//!   by a macro, since images are built with `opt-level = "s"`, which keeps loops.
//! - **Scalars** (`scalar`): Montgomery multiplication mod n (product-scanned
//!   reduction), used for `r d` and `k^-1 (e + r d)`.
//! - **Inversions** (`inv`), both `Z^-1` mod p and `k^-1` mod n: Bernstein–Yang
//!   safegcd, 20 batches of 30 constant-time divsteps (600 >= the 590 needed for
//!   256-bit inputs) on signed 30-bit limbs. About 33,000 instructions each, against
//!   about 190,000 (mod p) and 310,000 (mod n) for Fermat chains here.
//! - **`k G`** (`point`): the scalar is made odd (`n - k` when `k` is even, and the
//!   result negated) and recoded into 52 signed odd digits `d_i` in ±{1, 3, .., 31}
//!   (Joye–Tunstall, 5-bit windows), so `k G = sum d_i 32^i G` is 51 mixed Jacobian +
//!   affine additions (8M + 3S) with no doubling. The comb table holds `j 32^i G` for
//!   odd `j` <= 31 and `i` < 52: 832 affine points, **52 KiB of flash** (53,248
//!   bytes), made by `build.rs` with this crate's field code and checked entry by
//!   entry against RustCrypto by a test. The running sum never equals, opposes or
//!   vanishes against the added point, except at the very last addition (whose digit
//!   is always 1) for the single odd scalar `2^256 - n`; there the doubling of the
//!   table point is selected by mask (argued in `point`, tested with that scalar
//!   and its complement). 4-bit windows (64 x 8 points, 32 KiB) took 63 additions:
//!   662,062 instructions per public key against 557,619 now.
//! - **`d P` for a prepared `P`** ([`PublicKeyTable`], ECDH with a peer key used
//!   again and again, as ENCRYPT0 results use the recipient's): the same comb over
//!   `j 32^i P`, a table made at run time when the key is set (52 windows of the
//!   odd multiples below and one more inversion each for the next window's base,
//!   about 16 M instructions), kept by the caller (53,252 bytes of RAM). The
//!   exceptional-case argument is about scalars only, so it holds for any `P`.
//!   [`public_key_and_diffie_hellman`] makes an ephemeral key's `d G` and `d P`
//!   with one inversion for both (`(Z_1 Z_2)^-1`).
//! - **`d P`** (`point::mul`, ECDH): the same odd scalar and signed digits over a
//!   table of `P, 3P, .., 15P` made for each call (one doubling, seven mixed
//!   additions on the isomorphic curve where `2P` is affine, one inversion for all
//!   seven; 4-bit digits here), then Horner's rule from the top digit: 252 Jacobian doublings
//!   (a = -3, 4M + 4S, the multiples 3, 4 and 8 by `Fe::mul_small`) and 63 mixed
//!   additions. The sum never meets equal or opposite points before the last
//!   addition (argued in `point::mul`); there it meets `P = Q` only for the scalar
//!   `n - 2` (and 2, made odd as `n - 2`), and the doubling of the table point is
//!   selected by mask, as in the comb.
//! - **Nonce** (`rfc6979`): HMAC-SHA256 DRBG of RFC 6979 section 3.2 (qlen = 256,
//!   no extra data) over `sha2` 0.10; each HMAC key's padded blocks are absorbed
//!   once. As in RustCrypto `ecdsa` 0.16, the digest itself (not `bits2octets`, the
//!   digest mod n) is HMAC input: the two differ only for digests >= n (about one in
//!   2^32), and the signature is valid either way. `e = digest mod n` as usual.
//!
//! # Constant time
//!
//! Nothing branches on, or indexes memory by, a secret: carries are arithmetic, and
//! every choice is a masked select (`arith::mask` hides the mask from the
//! optimiser with `black_box`). Each comb lookup reads all sixteen entries of its
//! window, and each lookup in ECDH's table all eight of it; digit signs, the
//! even-scalar negation and the last-step doubling are masked; the recoding's bit
//! positions are public. ECDH's check of the peer key runs on public data. safegcd runs a fixed 600
//! divsteps with masks only. The visible outcomes are only public facts: a key is
//! refused, an RFC 6979 candidate is rejected (probability 2^-32), `r` or `s` is
//! zero. The M33's multiplier takes the same time for all operands.
//!
//! # Guards (issue #18; `docs/benchmarks.md` has the figures)
//!
//! Both run in the test command (`cargo xtask test`):
//!
//! - **Differential tests** (`tests::ecdsa`, `tests::ecdh`): 100,000 seeded (key, digest) pairs and
//!   21 edge keys (1, 2, n-1, (n ± 1)/2, 2^255, the comb's exceptional scalar and
//!   its complement, patterned words, ..) by 7 edge digests: public keys and
//!   signatures byte for byte RustCrypto `p256` 0.13's, and RustCrypto's verifier
//!   accepts ours (one seeded case in 16, every edge case). About 30 s on two cores
//!   (this crate and RustCrypto's at `opt-level = 3` in the dev profile). ECDH:
//!   100,000 seeded (key, peer point) pairs, the shared secret byte for byte
//!   RustCrypto's (one in 16 also the whole point `d P`, and `e (d G) = d (e G)`),
//!   the edge keys on 14 edge points (`s G` for edge `s`, the point with x = 0)
//!   as whole points, and peer keys RustCrypto refuses (other tags, off the curve,
//!   `x` or `y` >= p, (0, 0)) refused. About 39 CPU-seconds, like the signatures'.
//!   Prepared peer keys (`tests::prepared`): two points' tables entry by entry,
//!   100,000 seeded keys over 64 seeded peer points (shared secret, and the public
//!   key and shared secret at once, RustCrypto's; one in 16 the whole point), the
//!   edge keys on the edge points, the comb's exceptional scalars, empty tables.
//! - **Constant-time test** on the emulated M33 (`tools/m33trace.py` on the image
//!   `m33-bench/src/bin/p256_ct.rs`; `cargo xtask bench p256_ct`): a public key and
//!   a signature for each of 16 edge, patterned and random keys, and three ECDHs of
//!   each key with one of four peer points (G, -G, the point with x = 0, RFC
//!   6979 A.2.5's public key): variable-base, with the peer's prepared table, and
//!   with the public key at once; per operation the instruction count (557,666,
//!   662,005, 2,546,145, 556,363 and 1,080,984), the sequence of executed blocks and
//!   the sequence of data addresses read and written must be the same for every
//!   key, and no division (variable time on the M33) may run. The image's four
//!   deliberate leaks (extra work, a balanced branch, a secret-indexed read and a
//!   division, each on a key bit) must each be found by its own check; a comb
//!   lookup that read only its entry, the same in ECDH's table, and the
//!   even-scalar negation as a branch, were found too when put in by hand.
//!
//! # Secrets in memory
//!
//! A [`SecretKey`] is zeroised when dropped (its bytes, `d` and `d R`). Each
//! function that uses one ([`SecretKey::from_bytes`], [`sign_prehash`],
//! [`public_key`], [`diffie_hellman`]) works in frames below its caller's and then
//! overwrites that stack with zeros (`zeroize::zeroize_stack`: 2,560 bytes after a
//! signature, 2,176 after a public key, 2,816 after an ECDH, 2,560 after a prepared
//! ECDH or a public key and ECDH at once, 512 after
//! `from_bytes`). That erases what no wipe of a
//! variable reaches, the copies that moves and spills leave: k in all its forms
//! (limbs, `n - k`, signed30), `k^-1`, the comb's projective points and their
//! `Z^-1`, the inversions' temporaries, `r d` and `e + r d`, and the HMAC-DRBG's K
//! and V with its HMAC pads and SHA-256 states. k, `k^-1 R`, `e + r d` and the
//! DRBG's last K and V are also zeroised by name. After an ECDH the same wipe
//! erases d and `n - d`, the running point `d P` and its `Z^-1` (the table holds
//! multiples of the peer's public point). The wipes have fixed sizes and no
//! branches, and leave results unchanged.
//!
//! Before (issue #13, defect 5), a signature left k (as limbs and as `n - k`), the
//! projective `k G`, `k^-1` (signed30), `e + r d` and the DRBG's SHA-256 states on
//! the dead stack; k gives `d = (s k - e) / r`, and `e + r d` gives d at once. The
//! test below found 14 to 17 copies of 8 bytes or more of the secrets and about 540
//! words of other leftovers per signature, and making a key left `d` three times. The target test
//! `sign_leaves_no_secret` (`cargo xtask target-test sign_leaves_no_secret`) scans
//! all of RAM after each operation, the dead stack included, for these secrets, and
//! checks that nothing the operation wrote is left below the wipe; it now finds
//! none. What remains is the caller's: the `SecretKey` until it is dropped (and the
//! stale copy a move of it leaves: keep it in place) and the CPU registers. The
//! sizes fit this crate as the images build it; a build that uses more stack (the
//! host tests, debug) is wiped only in part.
//!
//! # Cost on the Cortex-M33 (`cargo xtask bench identity`, retired instructions)
//!
//! | operation                        | p256-sign | RustCrypto p256 0.13 |
//! |----------------------------------|----------:|---------------------:|
//! | ECDSA sign (RFC 6979)            |   661,999 |            5,779,006 |
//! | public key `d G` (SEC1)          |   557,619 |                      |
//! | ECDH, x of `d P` (`p256_ct`)     | 2,546,145 |  about 4,730,000 (*) |
//! | ECDH with a prepared `P` (`p256_ct`) | 556,363 |                  |
//! | public key and prepared ECDH at once (`p256_ct`) | 1,080,984 |      |
//!
//! (*) An ENCRYPT0 result (`cargo xtask bench results`) went from 6,357,503 to
//! 4,194,595 instructions when its ECDH moved from RustCrypto to this crate and
//! nothing else changed; RustCrypto's figure is this crate's plus that difference.
//! Of a variable-base ECDH (`tools/m33count.py --profile`, 4-bit comb era): the
//! reductions mod p about 847,000, the 8x8 products 713,000, the squares 462,000,
//! `mul_small` 182,000, additions and subtractions 176,000, the two inversions
//! 65,000, the table scans 47,000. Its functions use about 2,660 bytes of stack (the
//! wipe covers 2,816). With the recipient's key prepared and the 5-bit combs, an
//! ENCRYPT0 result costs 1,944,803 instructions (issue #18's goal: 2.0 M); making a
//! table costs about 16 M, once.
//!
//! Of a signature: `k G` about 515,000 (51 additions of about 8,500, 51 lookups
//! with their signs of about 1,370, the last step's doubling: a field multiplication costs about
//! 745 instructions, a square 678, an addition 128), the two inversions about
//! 33,000 each, the nonce (18 SHA-256 blocks) about 68,000, the stack wipe about
//! 3,000 (2,200 after a public key), the rest about 6,000. Peak stack in that
//! image, from the top of its stack (its own 2,336 bytes included): 5,104 bytes
//! (sign), 4,720 (public key), of which the wipes add 120 and 168; flash about
//! 63 KiB (52 KiB table, about 11 KiB code).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

mod arith;
mod field;
mod inv;
mod point;
mod rfc6979;
mod scalar;
#[cfg(test)]
mod tests;

use arith::Limbs;
use zeroize::Zeroize;

/// Errors of this crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The secret key is zero or not below the group order n.
    InvalidSecretKey,
    /// `r` or `s` came out zero (probability about 2^-255); RustCrypto fails too.
    Signature,
    /// The peer's public key is not `04 || x || y` with `x`, `y` below p and the
    /// point on the curve.
    InvalidPublicKey,
}

pub type Result<T> = core::result::Result<T, Error>;

/// A P-256 secret key: a scalar in `[1, n - 1]`. Its memory is wiped when it is
/// dropped.
#[derive(Clone, zeroize::ZeroizeOnDrop)]
pub struct SecretKey {
    /// Big-endian, as given (int2octets(x) for RFC 6979).
    bytes: [u8; 32],
    /// `d R mod n` (Montgomery form), for `r d`.
    d_mont: Limbs,
    /// `d` itself, little-endian limbs.
    d: Limbs,
}

impl core::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// The key for 32 big-endian bytes; zero and values of n or more are refused.
    /// The check runs in constant time; only its outcome is visible.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<SecretKey> {
        let key = SecretKey::from_bytes_below(bytes);
        zeroize::zeroize_stack::<KEY_STACK_WIPE>();
        key
    }

    /// [`SecretKey::from_bytes`] in frames of its own, below the caller's.
    #[inline(never)]
    fn from_bytes_below(bytes: &[u8; 32]) -> Result<SecretKey> {
        let mut d = arith::from_be_bytes(bytes);
        if arith::is_zero(&d) | (arith::lt(&d, &scalar::N) ^ 1) != 0 {
            d.zeroize();
            return Err(Error::InvalidSecretKey);
        }
        let key = SecretKey { bytes: *bytes, d_mont: scalar::to_mont(&d), d };
        d.zeroize();
        Ok(key)
    }

    /// See [`public_key`].
    pub fn public_key(&self) -> [u8; 65] {
        public_key(self)
    }

    /// See [`sign_prehash`].
    pub fn sign_prehash(&self, digest: &[u8; 32]) -> Result<[u8; 64]> {
        sign_prehash(self, digest)
    }

    /// See [`diffie_hellman`].
    pub fn diffie_hellman(&self, peer: &[u8; 65]) -> Result<[u8; 32]> {
        diffie_hellman(self, peer)
    }

    /// See [`diffie_hellman_prepared`].
    pub fn diffie_hellman_prepared(&self, peer: &PublicKeyTable) -> Result<[u8; 32]> {
        diffie_hellman_prepared(self, peer)
    }

    /// See [`public_key_and_diffie_hellman`].
    pub fn public_key_and_diffie_hellman(&self, peer: &PublicKeyTable) -> Result<([u8; 65], [u8; 32])> {
        public_key_and_diffie_hellman(self, peer)
    }
}

/// A peer's public key prepared for many ECDHs with it (the recipient of encrypted
/// results, say): its comb table, `(2j + 1) 32^i P` for `j < 16`, `i < 52`, in affine
/// coordinates, **52 KiB** (`core::mem::size_of::<PublicKeyTable>()` is 53,252
/// bytes). With it an ECDH is a fixed-base multiplication like [`public_key`]'s, 51
/// mixed additions and no doubling, instead of [`diffie_hellman`]'s 252 doublings.
///
/// Made in place ([`PublicKeyTable::set`]) so that it never passes through a stack:
/// keep it in a static or on the heap. The table holds multiples of a public point
/// only; nothing in it is secret.
#[derive(Clone)]
pub struct PublicKeyTable {
    table: point::CombTable,
    set: bool,
}

impl PublicKeyTable {
    /// A table with no key: ECDH with it is refused ([`Error::InvalidPublicKey`]).
    pub const EMPTY: PublicKeyTable =
        PublicKeyTable { table: [[[[0; 8]; 2]; point::COMB_ENTRIES]; point::COMB_WINDOWS], set: false };

    /// Checks `peer` (`04 || x || y`, `x` and `y` below p, on the curve, as
    /// [`diffie_hellman`] does) and makes its table in place, about 16 M instructions on
    /// the Cortex-M33; a refused key leaves the table empty. Runs on public data.
    pub fn set(&mut self, peer: &[u8; 65]) -> Result<()> {
        self.set = false;
        let p = point::from_uncompressed(peer).ok_or(Error::InvalidPublicKey)?;
        point::comb_table(&p, &mut self.table);
        self.set = true;
        Ok(())
    }

    /// Whether a key was set.
    pub fn is_set(&self) -> bool {
        self.set
    }

    /// The key, `04 || x || y` (the table's first entry, `P` itself), if one was set.
    pub fn public_key(&self) -> Option<[u8; 65]> {
        self.set.then(|| {
            let [x, y] = self.table[0][0];
            let mut out = [0u8; 65];
            out[0] = 0x04;
            out[1..33].copy_from_slice(&arith::to_be_bytes(&x));
            out[33..].copy_from_slice(&arith::to_be_bytes(&y));
            out
        })
    }
}

impl core::fmt::Debug for PublicKeyTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PublicKeyTable").field("set", &self.set).finish_non_exhaustive()
    }
}

/// Bytes of stack overwritten below the caller's frame after signing: the about
/// 2,400 bytes its functions use there on the Cortex-M33 (built as the images are,
/// `opt-level = "s"`) and some 160 more. The target test `sign_leaves_no_secret`
/// fails if a wipe falls short: it finds words left below the wipe, or copies of
/// the secrets anywhere in RAM.
const SIGN_STACK_WIPE: usize = 2560;

/// The same after [`SecretKey::from_bytes`], whose functions use about 340 bytes.
const KEY_STACK_WIPE: usize = 512;

/// The same after [`public_key`], whose functions use about 2,020 bytes.
const PUBLIC_KEY_STACK_WIPE: usize = 2176;

/// The same after [`diffie_hellman`], whose functions use about 2,660 bytes.
const ECDH_STACK_WIPE: usize = 2816;

/// The same after [`diffie_hellman_prepared`] and [`public_key_and_diffie_hellman`],
/// whose functions use about the stack of [`public_key`]'s.
const ECDH_PREPARED_STACK_WIPE: usize = 2560;

/// The SEC1 uncompressed public key `04 || x || y` of `key` (`d G`).
pub fn public_key(key: &SecretKey) -> [u8; 65] {
    let public = public_key_below(key);
    zeroize::zeroize_stack::<PUBLIC_KEY_STACK_WIPE>();
    public
}

/// [`public_key`] in frames of its own, below the caller's.
#[inline(never)]
fn public_key_below(key: &SecretKey) -> [u8; 65] {
    let p = point::mul_base(&key.d).to_affine();
    let mut out = [0u8; 65];
    out[0] = 0x04;
    out[1..33].copy_from_slice(&p.x.to_be_bytes());
    out[33..].copy_from_slice(&p.y.to_be_bytes());
    out
}

/// The ECDSA signature `r || s` (each 32 bytes big-endian) of the SHA-256 `digest`
/// with the RFC 6979 nonce: byte for byte what RustCrypto `p256` 0.13
/// `SigningKey::sign_prehash` returns (`s` is not normalised to the low half).
pub fn sign_prehash(key: &SecretKey, digest: &[u8; 32]) -> Result<[u8; 64]> {
    let signature = sign_prehash_below(key, digest);
    zeroize::zeroize_stack::<SIGN_STACK_WIPE>();
    signature
}

/// [`sign_prehash`] in frames of its own, below the caller's.
#[inline(never)]
fn sign_prehash_below(key: &SecretKey, digest: &[u8; 32]) -> Result<[u8; 64]> {
    let mut k = rfc6979::nonce(&key.bytes, digest);
    let signature = sign_with_nonce(key, &k, digest);
    k.zeroize();
    signature
}

/// ECDSA with the nonce `k` in `[1, n - 1]`: `r = x(k G) mod n`,
/// `s = k^-1 (e + r d) mod n`.
fn sign_with_nonce(key: &SecretKey, k: &Limbs, digest: &[u8; 32]) -> Result<[u8; 64]> {
    // x < p < 2n, so one masked subtraction reduces it.
    let r = scalar::reduce_once(&point::mul_base(k).affine_x().0);
    // e = bits2int(digest) mod n (qlen = hlen = 256).
    let e = scalar::reduce_once(&arith::from_be_bytes(digest));
    let mut k_inv = scalar::to_mont(&scalar::invert(k)); // k^-1 R
    let mut e_rd = scalar::add(&e, &scalar::mont_mul(&r, &key.d_mont)); // e + r d
    let s = scalar::mont_mul(&k_inv, &e_rd); // k^-1 (e + r d)
    k_inv.zeroize();
    e_rd.zeroize();
    if arith::is_zero(&r) | arith::is_zero(&s) != 0 {
        return Err(Error::Signature);
    }
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&arith::to_be_bytes(&r));
    out[32..].copy_from_slice(&arith::to_be_bytes(&s));
    Ok(out)
}

/// The ECDH shared secret of `key` and the peer's SEC1 uncompressed public key
/// `04 || x || y`: the x coordinate of `d P`, 32 bytes big-endian, as RustCrypto
/// `p256` 0.13's `ecdh::diffie_hellman` gives it (`raw_secret_bytes`). The peer
/// point is checked first (`x`, `y` below p, on the curve; SEC1 has no 65-byte
/// encoding of the point at infinity): [`Error::InvalidPublicKey`] otherwise. The
/// multiplication is constant time in `d` and in the point (`point::mul`).
pub fn diffie_hellman(key: &SecretKey, peer: &[u8; 65]) -> Result<[u8; 32]> {
    let shared = diffie_hellman_below(key, peer);
    zeroize::zeroize_stack::<ECDH_STACK_WIPE>();
    shared
}

/// Whether `peer` is a SEC1 uncompressed point of the curve, as
/// [`diffie_hellman`] checks it: `Ok` or [`Error::InvalidPublicKey`].
pub fn check_public_key(peer: &[u8; 65]) -> Result<()> {
    point::from_uncompressed(peer).map(|_| ()).ok_or(Error::InvalidPublicKey)
}

/// [`diffie_hellman`] with a prepared peer key: the same shared secret, by the comb
/// (`point::mul_comb`, constant time in `d` as [`public_key`] is). An empty table is
/// refused ([`Error::InvalidPublicKey`]).
pub fn diffie_hellman_prepared(key: &SecretKey, peer: &PublicKeyTable) -> Result<[u8; 32]> {
    let shared = diffie_hellman_prepared_below(key, peer);
    zeroize::zeroize_stack::<ECDH_PREPARED_STACK_WIPE>();
    shared
}

/// [`diffie_hellman_prepared`] in frames of its own, below the caller's.
#[inline(never)]
fn diffie_hellman_prepared_below(key: &SecretKey, peer: &PublicKeyTable) -> Result<[u8; 32]> {
    if !peer.set {
        return Err(Error::InvalidPublicKey);
    }
    Ok(point::mul_comb(&key.d, &peer.table).affine_x().to_be_bytes())
}

/// The public key of `key` and its ECDH shared secret with the prepared `peer` at
/// once, as [`public_key`] and [`diffie_hellman_prepared`] give them, for an
/// ephemeral key (ECDH-ES): two comb multiplications and one inversion for both.
pub fn public_key_and_diffie_hellman(key: &SecretKey, peer: &PublicKeyTable) -> Result<([u8; 65], [u8; 32])> {
    let both = public_key_and_diffie_hellman_below(key, peer);
    zeroize::zeroize_stack::<ECDH_PREPARED_STACK_WIPE>();
    both
}

/// [`public_key_and_diffie_hellman`] in frames of its own, below the caller's.
#[inline(never)]
fn public_key_and_diffie_hellman_below(
    key: &SecretKey,
    peer: &PublicKeyTable,
) -> Result<([u8; 65], [u8; 32])> {
    if !peer.set {
        return Err(Error::InvalidPublicKey);
    }
    let public = point::mul_base(&key.d);
    let shared = point::mul_comb(&key.d, &peer.table);
    let (p, x) = point::to_affine_and_x(&public, &shared);
    let mut out = [0u8; 65];
    out[0] = 0x04;
    out[1..33].copy_from_slice(&p.x.to_be_bytes());
    out[33..].copy_from_slice(&p.y.to_be_bytes());
    Ok((out, x.to_be_bytes()))
}

/// [`diffie_hellman`] in frames of its own, below the caller's.
#[inline(never)]
fn diffie_hellman_below(key: &SecretKey, peer: &[u8; 65]) -> Result<[u8; 32]> {
    let peer = point::from_uncompressed(peer).ok_or(Error::InvalidPublicKey)?;
    Ok(point::mul(&key.d, &peer).affine_x().to_be_bytes())
}
