//! p256-sign on the target: the RFC 6979 A.2.5 vectors, key decoding failures,
//! signatures and public keys equal to RustCrypto `p256` 0.13 on 20 seeded cases
//! and the edge keys and digests, and ECDH shared secrets equal to RustCrypto's on
//! 10 seeded cases and edge keys (the host's differential test has 100,000).
#![no_std]
#![no_main]

use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use p256_sign::{diffie_hellman, public_key, sign_prehash, Error, SecretKey};
use sha2::{Digest, Sha256};

/// Bytes from hex.
fn hex<const L: usize>(s: &str) -> [u8; L] {
    let mut out = [0u8; L];
    for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks(2)) {
        let digit = |c: u8| (c as char).to_digit(16).expect("hex digit") as u8;
        *o = (digit(pair[0]) << 4) | digit(pair[1]);
    }
    out
}

/// The group order n, big-endian.
const N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

/// RFC 6979 A.2.5: the P-256 key x, its public key (Ux, Uy), and (message, r, s)
/// with SHA-256.
const RFC_X: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
const RFC_UX: &str = "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6";
const RFC_UY: &str = "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
const RFC_SIGNATURES: [(&str, &str, &str); 2] = [
    (
        "sample",
        "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716",
        "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
    ),
    (
        "test",
        "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367",
        "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083",
    ),
];

fn rfc6979_a25_vectors() {
    let key = SecretKey::from_bytes(&hex(RFC_X)).expect("key");
    let public = public_key(&key);
    assert!(public[0] == 4 && public[1..33] == hex::<32>(RFC_UX) && public[33..] == hex::<32>(RFC_UY));
    for (message, r, s) in RFC_SIGNATURES {
        let digest: [u8; 32] = Sha256::digest(message).into();
        let sig = sign_prehash(&key, &digest).expect("sign");
        assert!(sig[..32] == hex::<32>(r) && sig[32..] == hex::<32>(s), "{message}");
    }
}

fn secret_key_refuses_zero_and_n_or_more() {
    for bad in [[0u8; 32], hex(N), [0xff; 32]] {
        assert!(matches!(SecretKey::from_bytes(&bad), Err(Error::InvalidSecretKey)));
    }
    let mut n_minus_1 = hex::<32>(N);
    n_minus_1[31] -= 1;
    assert!(SecretKey::from_bytes(&n_minus_1).is_ok());
}

/// Both implementations sign `digest` with `key` and derive its public key.
fn check(key: &[u8; 32], digest: &[u8; 32]) {
    let ours = SecretKey::from_bytes(key).expect("key");
    let theirs = SigningKey::from_bytes(&(*key).into()).expect("key");
    let sig: Signature = theirs.sign_prehash(digest).expect("sign");
    assert!(sign_prehash(&ours, digest).expect("sign")[..] == sig.to_bytes()[..], "{key:02x?} {digest:02x?}");
    let public = theirs.verifying_key().to_encoded_point(false);
    assert!(public_key(&ours)[..] == *public.as_bytes(), "{key:02x?}");
}

/// xorshift64*, seeded: the same 20 cases on every run.
fn seeded(seed: u64, count: usize) {
    let mut state = seed;
    let mut bytes = || {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            chunk.copy_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        out
    };
    for _ in 0..count {
        let (key, digest) = (bytes(), bytes());
        if SecretKey::from_bytes(&key).is_ok() {
            check(&key, &digest);
        }
    }
}

fn equals_rustcrypto_seeded_first_10() {
    seeded(0x5eed_0001, 10);
}

fn equals_rustcrypto_seeded_second_10() {
    seeded(0x5eed_0002, 10);
}

fn equals_rustcrypto_edge_keys_and_digests() {
    let mut one = [0u8; 32];
    one[31] = 1;
    let mut n_minus_1 = hex::<32>(N);
    n_minus_1[31] -= 1;
    for key in [one, n_minus_1] {
        for digest in [[0u8; 32], [0xff; 32], hex(N)] {
            check(&key, &digest);
        }
    }
}

/// Both implementations' ECDH of `key` with the SEC1 point `peer`.
fn check_ecdh(key: &[u8; 32], peer: &[u8; 65]) {
    let ours = SecretKey::from_bytes(key).expect("key");
    let secret = p256::NonZeroScalar::try_from(&key[..]).expect("key");
    let public = p256::PublicKey::from_sec1_bytes(peer).expect("point");
    let theirs = p256::ecdh::diffie_hellman(secret, public.as_affine());
    assert!(diffie_hellman(&ours, peer).expect("ecdh")[..] == theirs.raw_secret_bytes()[..], "{key:02x?}");
}

/// 10 seeded keys, each with the public key of the next seeded scalar as the peer.
fn ecdh_equals_rustcrypto_seeded_10() {
    let mut state = 0xec0d_0001_u64;
    let mut bytes = || {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            chunk.copy_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        out
    };
    for _ in 0..10 {
        let (key, other) = (bytes(), bytes());
        if let (Ok(_), Ok(other)) = (SecretKey::from_bytes(&key), SecretKey::from_bytes(&other)) {
            check_ecdh(&key, &public_key(&other));
        }
    }
}

/// 1, 2, n - 2 (the last addition doubles) and n - 1 with RFC 6979's public key, and
/// a point off the curve refused.
fn ecdh_equals_rustcrypto_edge_keys() {
    let mut peer = [4u8; 65];
    peer[1..33].copy_from_slice(&hex::<32>(RFC_UX));
    peer[33..].copy_from_slice(&hex::<32>(RFC_UY));
    let (mut one, mut two) = ([0u8; 32], [0u8; 32]);
    one[31] = 1;
    two[31] = 2;
    let (mut n_minus_1, mut n_minus_2) = (hex::<32>(N), hex::<32>(N));
    n_minus_1[31] -= 1;
    n_minus_2[31] -= 2;
    for key in [one, two, n_minus_2, n_minus_1] {
        check_ecdh(&key, &peer);
    }
    peer[64] ^= 1;
    let key = SecretKey::from_bytes(&one).expect("key");
    assert!(matches!(diffie_hellman(&key, &peer), Err(Error::InvalidPublicKey)));
}

m33_rt::test_image!(
    rfc6979_a25_vectors,
    secret_key_refuses_zero_and_n_or_more,
    equals_rustcrypto_seeded_first_10,
    equals_rustcrypto_seeded_second_10,
    equals_rustcrypto_edge_keys_and_digests,
    ecdh_equals_rustcrypto_seeded_10,
    ecdh_equals_rustcrypto_edge_keys,
);
