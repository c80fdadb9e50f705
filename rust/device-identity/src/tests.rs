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
