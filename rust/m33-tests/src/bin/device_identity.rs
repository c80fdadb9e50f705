//! device-identity on the target: the known answers of scheme v1 (computed by the
//! independent model `tools/identity_kat.py`), label diversification, ECDSA P-256
//! round trips with each key, and a CSR whose signature verifies over its TBS part.
#![no_std]
#![no_main]

use device_identity::test_vectors::{check, HUK, PID, VECTORS};
use device_identity::{csr, verify_prehash, DeviceIdentity, EmulatedHuk, KeyId, LabelExtra};
use sha2::{Digest, Sha256};

fn identity(extra: &str) -> DeviceIdentity {
    let extra = LabelExtra::new(extra).expect("valid extra");
    DeviceIdentity::derive(&mut EmulatedHuk::new(&HUK, PID), &extra).expect("derive")
}

fn known_answer_empty_extra() {
    assert_eq!(VECTORS[0].extra, "");
    check(&VECTORS[0]);
}

fn known_answer_extra_dev_2() {
    assert_eq!(VECTORS[1].extra, "dev-2");
    check(&VECTORS[1]);
}

fn label_extra_gives_other_keys_and_uuid() {
    let a = identity("");
    let b = identity("dev-3");
    assert!(a.uuid() != b.uuid());
    for k in KeyId::ALL {
        assert!(a.public_key(k) != b.public_key(k), "{k:?}");
    }
}

fn sign_verify_round_trip_with_each_key() {
    let id = identity("");
    let digest: [u8; 32] = Sha256::digest(b"tls handshake transcript").into();
    for k in KeyId::ALL {
        let sig = id.sign_prehash(k, &digest).expect("sign");
        assert!(sig == id.sign_prehash(k, &digest).expect("sign"), "RFC 6979 for {k:?}");
        assert!(verify_prehash(id.public_key(k), &digest, &sig), "{k:?}");
        let mut bad = sig;
        bad[10] ^= 1;
        assert!(!verify_prehash(id.public_key(k), &digest, &bad), "tampered {k:?}");
        let mut other = digest;
        other[0] ^= 1;
        assert!(!verify_prehash(id.public_key(k), &other, &sig), "other digest {k:?}");
    }
    // `sign` hashes the message itself.
    let sig = id.sign(KeyId::CoseSign, b"tls handshake transcript").expect("sign");
    assert!(verify_prehash(id.public_key(KeyId::CoseSign), &digest, &sig));
}

/// Reads one DER TLV: (tag, content, rest).
fn tlv(b: &[u8]) -> (u8, &[u8], &[u8]) {
    let (len, at) = match b[1] {
        n if n < 0x80 => (n as usize, 2),
        0x81 => (b[2] as usize, 3),
        0x82 => (((b[2] as usize) << 8) | b[3] as usize, 4),
        _ => panic!("length form {:#x}", b[1]),
    };
    (b[0], &b[at..at + len], &b[at + len..])
}

fn csrs_build_and_their_signatures_verify() {
    let id = identity("");
    let mut out = [0u8; csr::CSR_MAX];
    for key in KeyId::ALL {
        let n = csr::build(&id, key, "Linaro", &mut out).expect("build");
        let (tag, body, rest) = tlv(&out[..n]);
        assert!(tag == 0x30 && rest.is_empty(), "{key:?}");
        // The CertificationRequestInfo with its header: the signed bytes.
        let (_, _, after_info) = tlv(body);
        let info_der = &body[..body.len() - after_info.len()];
        let (_, _, signature) = tlv(after_info); // after the signatureAlgorithm
        let (bit_tag, bits, end) = tlv(signature);
        assert!(bit_tag == 0x03 && bits[0] == 0 && end.is_empty(), "{key:?}");
        let (_, ecdsa, _) = tlv(&bits[1..]);
        let (_, r, rest) = tlv(ecdsa);
        let (_, s, _) = tlv(rest);
        let r = r.strip_prefix(&[0]).unwrap_or(r);
        let s = s.strip_prefix(&[0]).unwrap_or(s);
        let mut rs = [0u8; 64];
        rs[32 - r.len()..32].copy_from_slice(r);
        rs[64 - s.len()..].copy_from_slice(s);
        let digest: [u8; 32] = Sha256::digest(info_der).into();
        assert!(verify_prehash(id.public_key(key), &digest, &rs), "{key:?}");
    }
}

m33_rt::test_image!(
    known_answer_empty_extra,
    known_answer_extra_dev_2,
    label_extra_gives_other_keys_and_uuid,
    sign_verify_round_trip_with_each_key,
    csrs_build_and_their_signatures_verify,
);
