//! ECDH with a prepared peer key (`PublicKeyTable`, `point::comb_table`,
//! `point::mul_comb`) and the ephemeral public key with its shared secret at once,
//! against RustCrypto `p256` 0.13: the table entry by entry, 100,000 seeded scalars
//! over seeded peer points, the edge scalars on the edge points, the comb's
//! exceptional scalars, and what an empty or refused table does.

use super::ecdh::{edge_points, rustcrypto_ecdh, rustcrypto_mul};
use super::ecdsa::edge_keys;
use super::Rng;
use crate::{
    arith, diffie_hellman, diffie_hellman_prepared, point, public_key, public_key_and_diffie_hellman, Error,
    PublicKeyTable, SecretKey,
};
use crypto_bigint::{Encoding, U256};

/// A table for `peer` on the heap (32 KiB: not on a test thread's stack).
fn table(peer: &[u8; 65]) -> Box<PublicKeyTable> {
    let mut t = Box::new(PublicKeyTable::EMPTY);
    t.set(peer).unwrap();
    t
}

/// `key * peer` through the table, as SEC1 `04 || x || y` (y too).
fn our_mul(key: &[u8; 32], t: &PublicKeyTable) -> [u8; 65] {
    let q = point::mul_comb(&arith::from_be_bytes(key), &t.table).to_affine();
    let mut out = [4u8; 65];
    out[1..33].copy_from_slice(&q.x.to_be_bytes());
    out[33..].copy_from_slice(&q.y.to_be_bytes());
    out
}

/// Every entry `(2j + 1) 32^i P` of the tables of two points (RFC 6979 A.2.5's key
/// and a seeded one) is RustCrypto's `(2j + 1) 16^i` times the point.
#[test]
fn comb_table_of_a_point_matches_rustcrypto() {
    let mut rng = Rng::new(0x7ab1e);
    let rfc6979 = super::hex::<65>(
        "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6\
         7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
    );
    let seeded = public_key(&SecretKey::from_bytes(&rng.bytes()).unwrap());
    for peer in [rfc6979, seeded] {
        let t = table(&peer);
        assert_eq!(t.public_key(), Some(peer));
        for (i, window) in t.table.iter().enumerate() {
            for (j, entry) in window.iter().enumerate() {
                let expected = rustcrypto_mul(&super::comb_scalar(i, j), &peer);
                assert_eq!(arith::to_be_bytes(&entry[0]), expected[1..33], "x of {j}/{i}");
                assert_eq!(arith::to_be_bytes(&entry[1]), expected[33..], "y of {j}/{i}");
            }
        }
    }
}

/// Seeded scalars of the differential test, and the seeded peer points they are
/// spread over (a table costs about 2,000 point operations to make).
const DIFFERENTIAL_CASES: usize = 100_000;
const PEERS: usize = 64;

/// The differential test: 100,000 seeded keys, each with one of 64 seeded peer
/// points (the public keys of seeded scalars): the prepared shared secret is
/// RustCrypto's byte for byte, and so is the public key and the shared secret of
/// `public_key_and_diffie_hellman`; one case in 16 also compares the whole point
/// `d P` (y too) and the variable-base `diffie_hellman`.
#[test]
fn prepared_ecdh_equals_rustcrypto_on_100000_seeded_keys() {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(8);
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                let mut rng = Rng::new(0x9e9a_0256 + t as u64);
                let share = DIFFERENTIAL_CASES / threads + usize::from(t < DIFFERENTIAL_CASES % threads);
                let peers_here = PEERS / threads + 1;
                let per_peer = share.div_ceil(peers_here);
                let mut cases = 0;
                while cases < share {
                    let Ok(other) = SecretKey::from_bytes(&rng.bytes()) else { continue };
                    let peer = public_key(&other);
                    let prepared = table(&peer);
                    let mut here = 0;
                    while here < per_peer && cases < share {
                        let d = rng.bytes();
                        let Ok(ours) = SecretKey::from_bytes(&d) else { continue };
                        let shared = diffie_hellman_prepared(&ours, &prepared).unwrap();
                        assert_eq!(shared, rustcrypto_ecdh(&d, &peer), "key {d:02x?} peer {peer:02x?}");
                        let (public, both) = public_key_and_diffie_hellman(&ours, &prepared).unwrap();
                        assert_eq!(both, shared);
                        assert_eq!(public, public_key(&ours));
                        if cases % 16 == 0 {
                            assert_eq!(our_mul(&d, &prepared), rustcrypto_mul(&d, &peer));
                            assert_eq!(diffie_hellman(&ours, &peer).unwrap(), shared);
                        }
                        here += 1;
                        cases += 1;
                    }
                }
            });
        }
    });
}

/// Every edge scalar on every edge point (G, -G, 2G, -2G, .., the point with
/// x = 0): the whole point through the table is RustCrypto's, and so are both
/// results of `public_key_and_diffie_hellman`.
#[test]
fn prepared_ecdh_equals_rustcrypto_on_edge_scalars_and_points() {
    for peer in &edge_points() {
        let t = table(peer);
        for d in &edge_keys() {
            assert_eq!(our_mul(d, &t), rustcrypto_mul(d, peer), "key {d:02x?} peer {peer:02x?}");
            let key = SecretKey::from_bytes(d).unwrap();
            let (public, shared) = key.public_key_and_diffie_hellman(&t).unwrap();
            assert_eq!(shared, rustcrypto_ecdh(d, peer));
            assert_eq!(key.diffie_hellman_prepared(&t).unwrap(), shared);
            assert_eq!(public, public_key(&key));
        }
    }
}

/// The comb's one exceptional odd scalar `2^256 - n` and its complement (whose
/// last addition is a doubling, selected by mask) on another point than G.
#[test]
fn prepared_ecdh_exceptional_scalars() {
    let n = U256::from_be_slice(&arith::to_be_bytes(&crate::scalar::N));
    let odd = U256::ZERO.wrapping_sub(&n);
    let even = n.wrapping_sub(&odd);
    for peer in &edge_points() {
        let t = table(peer);
        for k in [odd, even] {
            let bytes = k.to_be_bytes();
            assert_eq!(our_mul(&bytes, &t), rustcrypto_mul(&bytes, peer));
        }
    }
}

/// An empty table, and one whose key was refused (it is then empty again), give
/// `InvalidPublicKey`; a refused key is refused as `diffie_hellman` refuses it.
#[test]
fn empty_and_refused_tables_are_refused() {
    let key = SecretKey::from_bytes(&[0x11; 32]).unwrap();
    let mut t = Box::new(PublicKeyTable::EMPTY);
    assert!(!t.is_set());
    assert_eq!(t.public_key(), None);
    assert_eq!(key.diffie_hellman_prepared(&t), Err(Error::InvalidPublicKey));
    assert_eq!(key.public_key_and_diffie_hellman(&t), Err(Error::InvalidPublicKey));
    let good = public_key(&SecretKey::from_bytes(&[0x22; 32]).unwrap());
    t.set(&good).unwrap();
    assert!(t.is_set());
    assert_eq!(key.diffie_hellman_prepared(&t).unwrap(), key.diffie_hellman(&good).unwrap());
    let mut bad = good;
    bad[64] ^= 1; // off the curve
    assert_eq!(t.set(&bad), Err(Error::InvalidPublicKey));
    assert!(!t.is_set());
    assert_eq!(key.diffie_hellman_prepared(&t), Err(Error::InvalidPublicKey));
    assert_eq!(key.public_key_and_diffie_hellman(&t), Err(Error::InvalidPublicKey));
}

/// The table's size as the docs state it: 52 windows of 16 affine points and the
/// flag, padded.
#[test]
fn a_table_is_53252_bytes() {
    assert_eq!(core::mem::size_of::<PublicKeyTable>(), 53_252);
}
