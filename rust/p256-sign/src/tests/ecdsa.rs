//! Signatures and public keys: RFC 6979 A.2.5, NIST CAVP SigGen, and RustCrypto
//! `p256` 0.13 on seeded pseudo-random and edge inputs.

use super::{hex, Rng};
use crate::scalar::N;
use crate::{arith, public_key, rfc6979, sign_prehash, sign_with_nonce, Error, SecretKey};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};

/// RFC 6979 A.2.5: the P-256 private key x and its public key (Ux, Uy).
const RFC_X: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
const RFC_UX: &str = "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6";
const RFC_UY: &str = "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";

fn rfc_key() -> SecretKey {
    SecretKey::from_bytes(&hex(RFC_X)).unwrap()
}

/// RFC 6979 A.2.5, "With SHA-256, message = "sample"" and "... = "test"":
/// (message, k, r, s).
const RFC_SIGNATURES: [(&str, &str, &str, &str); 2] = [
    (
        "sample",
        "a6e3c57dd01abe90086538398355dd4c3b17aa873382b0f24d6129493d8aad60",
        "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716",
        "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
    ),
    (
        "test",
        "d16b6ae827f17175e040871a1c7ec3500192c4c92677336ec2537acaee0008e0",
        "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367",
        "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083",
    ),
];

#[test]
fn rfc6979_a25_public_key() {
    let public = rfc_key().public_key();
    assert_eq!(public[0], 0x04);
    assert_eq!(public[1..33], hex::<32>(RFC_UX));
    assert_eq!(public[33..], hex::<32>(RFC_UY));
}

#[test]
fn rfc6979_a25_nonces_and_signatures() {
    let key = rfc_key();
    for (message, k, r, s) in RFC_SIGNATURES {
        let digest: [u8; 32] = Sha256::digest(message).into();
        assert_eq!(
            arith::to_be_bytes(&rfc6979::nonce(&hex(RFC_X), &digest)),
            hex::<32>(k),
            "k for {message}"
        );
        let sig = sign_prehash(&key, &digest).unwrap();
        assert_eq!(sig[..32], hex::<32>(r), "r for {message}");
        assert_eq!(sig[32..], hex::<32>(s), "s for {message}");
    }
}

/// NIST CAVP FIPS 186-4 `SigGen.txt`, [P-256,SHA-256], the first three cases (as
/// RustCrypto `p256` carries them, with `Msg` already hashed): d, Qx, Qy, k, digest,
/// r, s. The nonces are random there, so they are given to the signing core.
const NIST: [[&str; 7]; 3] = [
    [
        "519b423d715f8b581f4fa8ee59f4771a5b44c8130b4e3eacca54a56dda72b464",
        "1ccbe91c075fc7f4f033bfa248db8fccd3565de94bbfb12f3c59ff46c271bf83",
        "ce4014c68811f9a21a1fdb2c0e6113e06db7ca93b7404e78dc7ccd5ca89a4ca9",
        "94a1bbb14b906a61a280f245f9e93c7f3b4a6247824f5d33b9670787642a68de",
        "44acf6b7e36c1342c2c5897204fe09504e1e2efb1a900377dbc4e7a6a133ec56",
        "f3ac8061b514795b8843e3d6629527ed2afd6b1f6a555a7acabb5e6f79c8c2ac",
        "8bf77819ca05a6b2786c76262bf7371cef97b218e96f175a3ccdda2acc058903",
    ],
    [
        "0f56db78ca460b055c500064824bed999a25aaf48ebb519ac201537b85479813",
        "e266ddfdc12668db30d4ca3e8f7749432c416044f2d2b8c10bf3d4012aeffa8a",
        "bfa86404a2e9ffe67d47c587ef7a97a7f456b863b4d02cfc6928973ab5b1cb39",
        "6d3e71882c3b83b156bb14e0ab184aa9fb728068d3ae9fac421187ae0b2f34c6",
        "9b2db89cb0e8fa3cc7608b4d6cc1dec0114e0b9ff4080bea12b134f489ab2bbc",
        "976d3a4e9d23326dc0baa9fa560b7c4e53f42864f508483a6473b6a11079b2db",
        "1b766e9ceb71ba6c01dcd46e0af462cd4cfa652ae5017d4555b8eeefe36e1932",
    ],
    [
        "e283871239837e13b95f789e6e1af63bf61c918c992e62bca040d64cad1fc2ef",
        "74ccd8a62fba0e667c50929a53f78c21b8ff0c3c737b0b40b1750b2302b0bde8",
        "29074e21f3a0ef88b9efdf10d06aa4c295cc1671f758ca0e4cd108803d0f2614",
        "ad5e887eb2b380b8d8280ad6e5ff8a60f4d26243e0124c2f31a297b5d0835de2",
        "b804cf88af0c2eff8bbbfb3660ebb3294138e9d3ebd458884e19818061dacff0",
        "35fb60f5ca0f3ca08542fb3cc641c8263a2cab7a90ee6a5e1583fac2bb6f6bd1",
        "ee59d81bc9db1055cc0ed97b159d8784af04e98511d0a9a407b99bb292572e96",
    ],
];

#[test]
fn nist_siggen_vectors() {
    for [d, qx, qy, k, digest, r, s] in NIST {
        let key = SecretKey::from_bytes(&hex(d)).unwrap();
        let public = key.public_key();
        assert_eq!(public[1..33], hex::<32>(qx));
        assert_eq!(public[33..], hex::<32>(qy));
        let sig = sign_with_nonce(&key, &arith::from_be_bytes(&hex(k)), &hex(digest)).unwrap();
        assert_eq!(sig[..32], hex::<32>(r));
        assert_eq!(sig[32..], hex::<32>(s));
    }
}

fn rustcrypto(key: &[u8; 32], digest: &[u8; 32]) -> ([u8; 64], [u8; 65]) {
    let signer = SigningKey::from_bytes(&(*key).into()).unwrap();
    let sig: Signature = signer.sign_prehash(digest).unwrap();
    let public = signer.verifying_key().to_encoded_point(false);
    (sig.to_bytes().into(), public.as_bytes().try_into().unwrap())
}

/// Signs with both implementations; returns whether `s` is in the high half.
fn check_against_rustcrypto(key: &[u8; 32], digest: &[u8; 32]) -> bool {
    let ours = SecretKey::from_bytes(key).unwrap();
    let (sig, public) = rustcrypto(key, digest);
    assert_eq!(sign_prehash(&ours, digest).unwrap(), sig, "key {key:02x?} digest {digest:02x?}");
    assert_eq!(public_key(&ours), public, "key {key:02x?}");
    let s = arith::from_be_bytes(sig[32..].try_into().unwrap());
    let half_n = arith::from_be_bytes(&{
        let mut b = arith::to_be_bytes(&N);
        // n >> 1, big-endian.
        for i in (0..32).rev() {
            b[i] = (b[i] >> 1) | if i > 0 { b[i - 1] << 7 } else { 0 };
        }
        b
    });
    arith::lt(&half_n, &s) == 1
}

fn n_minus(x: u32) -> [u8; 32] {
    arith::to_be_bytes(&arith::sub(&N, &[x, 0, 0, 0, 0, 0, 0, 0]).0)
}

fn small(x: u8) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[31] = x;
    b
}

#[test]
fn equals_rustcrypto_on_2000_seeded_keys_and_digests() {
    let mut rng = Rng::new(0x5eed_0256);
    let (mut cases, mut high_s) = (0, 0);
    while cases < 2000 {
        let key = rng.bytes();
        if SecretKey::from_bytes(&key).is_err() {
            continue; // above n: about one in 2^32
        }
        high_s += usize::from(check_against_rustcrypto(&key, &rng.bytes()));
        cases += 1;
    }
    // RustCrypto p256 0.13 does not normalise s, and neither do we.
    assert!(high_s > 800, "{high_s} of 2000 signatures have s > n/2");
}

#[test]
fn equals_rustcrypto_on_edge_keys_and_digests() {
    let mut high = [0u8; 32];
    high[0] = 0x80; // 2^255
    let mut mid = [0u8; 32];
    mid[15] = 1; // 2^128
    let keys = [small(1), small(2), small(3), small(0xff), high, mid, n_minus(1), n_minus(2), n_minus(3)];
    let digests = [
        [0u8; 32],
        [0xff; 32], // above n: RustCrypto's HMAC input is the digest itself
        arith::to_be_bytes(&N),
        n_minus(1),
        arith::to_be_bytes(&arith::add(&N, &[1, 0, 0, 0, 0, 0, 0, 0]).0),
        small(1),
        hex("c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"),
    ];
    for key in &keys {
        for digest in &digests {
            check_against_rustcrypto(key, digest);
        }
    }
}

#[test]
fn secret_key_refuses_zero_and_n_or_more() {
    let n_plus_1 = arith::to_be_bytes(&arith::add(&N, &[1, 0, 0, 0, 0, 0, 0, 0]).0);
    for bad in [[0u8; 32], arith::to_be_bytes(&N), n_plus_1, [0xff; 32]] {
        assert_eq!(SecretKey::from_bytes(&bad).map(|_| ()), Err(Error::InvalidSecretKey), "{bad:02x?}");
    }
    assert!(SecretKey::from_bytes(&n_minus(1)).is_ok());
    assert!(SecretKey::from_bytes(&small(1)).is_ok());
}

/// RustCrypto `ecdsa` 0.16 puts the digest itself into the HMAC where RFC 6979
/// has `bits2octets(h1)`; the edge test above matches RustCrypto on digests of n
/// or more, and this shows that those digests do tell the two readings apart.
#[test]
fn hmac_input_is_the_unreduced_digest_as_in_rustcrypto() {
    let reduced = arith::to_be_bytes(&crate::scalar::reduce_once(&arith::from_be_bytes(&[0xff; 32])));
    assert_ne!(rfc6979::nonce(&hex(RFC_X), &[0xff; 32]), rfc6979::nonce(&hex(RFC_X), &reduced));
    check_against_rustcrypto(&hex(RFC_X), &[0xff; 32]);
}

#[test]
fn secret_key_debug_hides_the_key() {
    assert_eq!(format!("{:?}", rfc_key()), "SecretKey(..)");
}
