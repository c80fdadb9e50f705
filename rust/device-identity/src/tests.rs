use crate::csr;
use crate::test_vectors::{check, HUK, PID, VECTORS};
use crate::{verify_prehash, DeviceIdentity, EmulatedHuk, Error, HukKdf, KeyId, LabelExtra};
use sha2::{Digest, Sha256};

fn identity(extra: &str) -> DeviceIdentity {
    DeviceIdentity::derive(&mut EmulatedHuk::new(&HUK, PID), &LabelExtra::new(extra).unwrap()).unwrap()
}

#[test]
fn known_answers_of_scheme_v1() {
    for v in &VECTORS {
        check(v);
    }
}

#[test]
fn label_extra_diversifies_and_partition_id_binds() {
    let a = identity("");
    let b = identity("dev-2");
    assert_ne!(a.uuid(), b.uuid());
    let other_partition =
        DeviceIdentity::derive(&mut EmulatedHuk::new(&HUK, PID + 1), &LabelExtra::new("").unwrap()).unwrap();
    assert_ne!(a.uuid(), other_partition.uuid());
    for k in KeyId::ALL {
        assert_ne!(a.public_key(k), b.public_key(k));
        assert_ne!(a.public_key(k), other_partition.public_key(k));
    }
    // The three keys of one device differ from each other.
    assert_ne!(a.public_key(KeyId::ClientTls), a.public_key(KeyId::CoseSign));
    assert_ne!(a.public_key(KeyId::CoseSign), a.public_key(KeyId::CoseEncrypt));
}

#[test]
fn label_extra_is_limited_to_fifteen_bytes_without_nul() {
    assert!(LabelExtra::new("fifteen-chars-x").is_ok());
    assert_eq!(LabelExtra::new("sixteen-chars-xx"), Err(Error::LabelExtraInvalid));
    assert_eq!(LabelExtra::new("a\0b"), Err(Error::LabelExtraInvalid));
    // Checked by the compiler when the value is known at build time.
    const BUILD: Result<LabelExtra, Error> = LabelExtra::new("qemu-1");
    assert!(BUILD.is_ok());
}

#[test]
fn unknown_key_ids_are_refused() {
    assert_eq!(KeyId::from_u32(0x5004), Err(Error::UnknownKey(0x5004)));
    assert_eq!(KeyId::from_u32(0x5002), Ok(KeyId::CoseSign));
}

#[test]
fn signatures_are_deterministic_and_verify() {
    let id = identity("");
    let digest: [u8; 32] = Sha256::digest(b"tls handshake transcript").into();
    let sig = id.sign_prehash(KeyId::ClientTls, &digest).unwrap();
    assert_eq!(sig, id.sign_prehash(KeyId::ClientTls, &digest).unwrap(), "RFC 6979");
    assert!(verify_prehash(id.public_key(KeyId::ClientTls), &digest, &sig));
    assert!(!verify_prehash(id.public_key(KeyId::CoseSign), &digest, &sig), "another key");
    let mut bad = sig;
    bad[10] ^= 1;
    assert!(!verify_prehash(id.public_key(KeyId::ClientTls), &digest, &bad));
}

#[test]
fn a_failing_platform_kdf_is_an_error_not_a_panic() {
    struct Broken;
    impl HukKdf for Broken {
        fn derive(&mut self, _: &[u8], _: &mut [u8]) -> crate::Result<()> {
            Err(Error::Kdf(-147))
        }
    }
    assert!(matches!(
        DeviceIdentity::derive(&mut Broken, &LabelExtra::new("").unwrap()),
        Err(Error::Kdf(-147))
    ));
}

/// Reads one DER TLV: (tag, content, rest).
fn tlv(b: &[u8]) -> (u8, &[u8], &[u8]) {
    let (len, at) = match b[1] {
        n if n < 0x80 => (n as usize, 2),
        0x81 => (b[2] as usize, 3),
        0x82 => (((b[2] as usize) << 8) | b[3] as usize, 4),
        _ => panic!("length form"),
    };
    (b[0], &b[at..at + len], &b[at + len..])
}

#[test]
fn csr_is_well_formed_and_signed_by_its_key() {
    let id = identity("");
    let mut out = [0u8; csr::CSR_MAX];
    for key in KeyId::ALL {
        let n = csr::build(&id, key, "Linaro", &mut out).unwrap();
        let (tag, body, rest) = tlv(&out[..n]);
        assert_eq!((tag, rest.len()), (0x30, 0));
        let info_start = body.as_ptr() as usize - out.as_ptr() as usize;
        let (_, info, after_info) = tlv(body);
        let info_der = &out[info_start..info_start + (after_info.as_ptr() as usize - body.as_ptr() as usize)];
        let (alg_tag, alg, sig_rest) = tlv(after_info);
        assert_eq!((alg_tag, alg), (0x30, &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02][..]));
        let (bit_tag, bits, end) = tlv(sig_rest);
        assert_eq!((bit_tag, bits[0], end.len()), (0x03, 0, 0));
        let (_, ecdsa, _) = tlv(&bits[1..]);
        let (_, r, rest) = tlv(ecdsa);
        let (_, s, _) = tlv(rest);
        let mut rs = [0u8; 64];
        let r = r.strip_prefix(&[0]).unwrap_or(r);
        let s = s.strip_prefix(&[0]).unwrap_or(s);
        rs[32 - r.len()..32].copy_from_slice(r);
        rs[64 - s.len()..].copy_from_slice(s);
        let digest: [u8; 32] = Sha256::digest(info_der).into();
        assert!(verify_prehash(id.public_key(key), &digest, &rs), "{key:?}");
        // The subject and the key are in the signed info.
        assert!(info.windows(36).any(|w| w == id.uuid().to_text()));
        assert!(info.windows(key.label().len()).any(|w| w == key.label().as_bytes()));
        assert!(info.windows(65).any(|w| w == id.public_key(key)));
    }
}

#[test]
fn csr_fields_and_buffers_are_checked() {
    let id = identity("");
    let mut out = [0u8; csr::CSR_MAX];
    assert_eq!(csr::build(&id, KeyId::ClientTls, "", &mut out), Err(Error::InvalidField));
    assert_eq!(csr::build(&id, KeyId::ClientTls, "Org\nEvil", &mut out), Err(Error::InvalidField));
    assert_eq!(csr::build(&id, KeyId::ClientTls, &"x".repeat(65), &mut out), Err(Error::InvalidField));
    assert!(csr::build(&id, KeyId::ClientTls, &"x".repeat(64), &mut out).is_ok());
    assert_eq!(csr::build(&id, KeyId::ClientTls, "Linaro", &mut out[..100]), Err(Error::BufferTooSmall));
}

/// SHA-256 of whole requests, from the hand-written DER writer this crate used before
/// `der` (RFC 6979 signatures are deterministic, so the same key gives the same bytes):
/// the three keys of the test identity, an organisation of one to 64 characters (the
/// longest makes the subject's and the info's lengths take two bytes), and r or s
/// with and without the zero byte a high top bit needs (the lengths differ by it).
const CSR_KNOWN_ANSWERS: [(&str, KeyId, usize, &str); 9] = [
    ("Linaro", KeyId::ClientTls, 284, "a9af8462fe32d542adb8d4ff7f3224665731b3a53a304e45b03cd035ac4cd334"),
    ("Linaro", KeyId::CoseSign, 283, "3e3945064a0b25271b28645e0d672963d7266da35b10705c6374be22d382b4e8"),
    ("Linaro", KeyId::CoseEncrypt, 286, "6e34185d1e6b465b339fd0158c2addf445c21d7ab6bdd2355d9a9b7d80622686"),
    ("x", KeyId::ClientTls, 278, "99a977c7803f71a153d6b3327edc365cebe9aabcbddb4e825a6ab143ad3f8a21"),
    ("x", KeyId::CoseSign, 276, "c55822abe4219afce1332ab03d385145b542d618e9e1a15ba98eb188030b6036"),
    ("x", KeyId::CoseEncrypt, 279, "aed14b5f93a64628d4da672aedf9913a6628e4aa6ad35bec437fd99da339c9ad"),
    (ORG_64, KeyId::ClientTls, 342, "eeddefabb0e1e4f77084576adceb5973f6f2133557a002df9f6bda12c5806590"),
    (ORG_64, KeyId::CoseSign, 341, "3f41a9c8fe873beb63c4fece51203ab790e8081f7e15e0ed6abc77f97309b876"),
    (ORG_64, KeyId::CoseEncrypt, 343, "beb389e5a374965ab3230757efd8c068d37ddde3e5d406b2dc7d316bce171416"),
];
const ORG_64: &str = "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy";

#[test]
fn csrs_are_the_known_bytes() {
    assert_eq!(ORG_64.len(), csr::ORG_MAX);
    let id = identity("");
    let mut out = [0u8; csr::CSR_MAX];
    for (org, key, len, digest) in CSR_KNOWN_ANSWERS {
        let n = csr::build(&id, key, org, &mut out).unwrap();
        let mut hex = [0u8; 64];
        for (pair, byte) in hex.chunks_mut(2).zip(Sha256::digest(&out[..n])) {
            pair.copy_from_slice(&[
                b"0123456789abcdef"[usize::from(byte >> 4)],
                b"0123456789abcdef"[usize::from(byte & 15)],
            ]);
        }
        assert_eq!((n, core::str::from_utf8(&hex).unwrap()), (len, digest), "{org} {key:?}");
    }
}
