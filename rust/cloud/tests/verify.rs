//! The library: genuine results verify, every bent or cut one does not, and counters
//! only go up.

mod common;

use cloud::{check_counter, verify, Accepted, DeviceKey, Error, Options, RecipientKey, Store, Verified};
use common::*;

/// `key` registered as the device's COSE SIGN key.
fn device(key: &p256::ecdsa::SigningKey) -> DeviceKey {
    DeviceKey::registered(public(key), cloud::COSE_SIGN_KEY_ID).unwrap()
}

fn recipient() -> RecipientKey {
    static KEY: std::sync::OnceLock<RecipientKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| RecipientKey::new(demo_recipient())).clone()
}

fn check(bytes: &[u8], key: &DeviceKey) -> cloud::Result<Verified> {
    verify(bytes, key, Some(&recipient()), &Options::default())
}

#[test]
fn sign1_round_trip() {
    let key = device_key();
    let v = check(&sign1(&key, 7, None), &device(&key)).unwrap();
    assert_eq!((v.format, v.device.as_str(), v.counter), ("SIGN1", UUID_TEXT, 7));
    assert_eq!((v.model.as_str(), v.engine.as_str(), v.values.as_slice()), ("sine", "si 0.1.0", &VALUES[..]));
    assert_eq!(v.model_sha256, "ab".repeat(32));
    assert_eq!(v.kid, Some(hex::encode(device(&key).thumbprint())));
    assert_eq!(v.nonce, None);
    assert_eq!(v.inputs, [1.75]);
    let json = serde_json::to_string(&v).unwrap();
    assert!(
        json.starts_with(r#"{"format":"SIGN1","device":"3084b338-c39e-4c23-9050-fcb9630afcd0","counter":7,"#)
    );
    let tail = format!(
        r#""inputs":[1.75],"values":[0.5,-0.25],"nonce":null,"kid":"{}"}}"#,
        v.kid.as_deref().unwrap()
    );
    assert!(json.ends_with(&tail), "{json}");
}

#[test]
fn encrypt0_round_trip_with_the_demo_recipient() {
    let key = device_key();
    let result = encrypt0(&key, &demo_recipient().public_key(), 9);
    let options = Options { nonce: Some(NONCE.to_vec()), allow_unsigned: false };
    let v = verify(&result, &device(&key), Some(&recipient()), &options).unwrap();
    assert_eq!((v.format, v.counter, v.nonce), ("ENCRYPT0", 9, Some(hex::encode(NONCE))));
    // Without the recipient key, or for another recipient.
    assert!(matches!(verify(&result, &device(&key), None, &options), Err(Error::NoRecipientKey)));
    let other = RecipientKey::new(p256::SecretKey::random(&mut rand_core::OsRng));
    assert!(matches!(verify(&result, &device(&key), Some(&other), &options), Err(Error::WrongRecipient(..))));
}

/// Flips each bit 0 and bit 7 of every byte, one at a time: each copy must be refused.
fn every_flip_fails(result: &[u8], key: &DeviceKey) {
    for at in 0..result.len() {
        for bit in [0x01, 0x80] {
            let mut bent = result.to_vec();
            bent[at] ^= bit;
            assert!(check(&bent, key).is_err(), "byte {at} ^ {bit:#04x} still verifies");
        }
    }
}

#[test]
fn sign1_with_any_byte_flipped_fails() {
    let key = device_key();
    let result = sign1(&key, 1, Some(NONCE));
    every_flip_fails(&result, &device(&key));
    // The signature's own bytes fail as a bad signature, not as malformed CBOR.
    let mut bent = result.clone();
    bent[result.len() - 1] ^= 1;
    assert!(matches!(check(&bent, &device(&key)), Err(Error::BadSignature)));
}

#[test]
fn encrypt0_with_any_byte_flipped_fails() {
    let key = device_key();
    let result = encrypt0(&key, &demo_recipient().public_key(), 1);
    every_flip_fails(&result, &device(&key));
}

#[test]
fn every_cut_fails() {
    let key = device_key();
    for result in [sign1(&key, 3, None), encrypt0(&key, &demo_recipient().public_key(), 3)] {
        for cut in 0..result.len() {
            assert!(check(&result[..cut], &device(&key)).is_err(), "cut {cut}");
        }
        let mut long = result.clone();
        long.push(0);
        assert!(matches!(check(&long, &device(&key)), Err(Error::Malformed(_))));
    }
}

#[test]
fn bytes_that_are_not_results_fail() {
    let key = device(&device_key());
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for len in 0..300 {
        let mut bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        assert!(check(&bytes, &key).is_err());
        // The same garbage behind each format's first bytes.
        for head in [&[0xd2, 0x84][..], &[0xd8, 0x60, 0x84], &[0xa6]] {
            bytes.splice(0..0, head.iter().copied());
            assert!(check(&bytes, &key).is_err());
        }
    }
}

#[test]
fn another_device_key_fails() {
    let (key, other) = (device_key(), device_key());
    let result = sign1(&key, 1, None);
    assert!(matches!(check(&result, &device(&other)), Err(Error::WrongKid(..))));
    // Right kid, wrong signer.
    let forged = sign1_with_kid(&claims_bytes(1, None), &other, &device(&key).thumbprint());
    assert!(matches!(check(&forged, &device(&key)), Err(Error::BadSignature)));
    // No kid at all.
    let anonymous = sign1_with_kid(&claims_bytes(1, None), &key, &[]);
    assert!(check(&anonymous, &device(&key)).is_err());
    // An ENCRYPT0 whose content is signed by another device.
    let result = encrypt0(&other, &demo_recipient().public_key(), 1);
    assert!(matches!(check(&result, &device(&key)), Err(Error::WrongKid(..))));
    // An ENCRYPT0 whose content is not a COSE_Sign1.
    let claims = encrypt(&claims_bytes(1, None), &demo_recipient().public_key());
    assert!(matches!(check(&claims, &device(&key)), Err(Error::NotSign1Inside)));
}

#[test]
fn unsigned_results_and_nonces() {
    let key = device(&device_key());
    let claims = claims_bytes(4, Some(NONCE));
    assert!(matches!(check(&claims, &key), Err(Error::Unsigned)));
    assert!(Error::Unsigned.to_string().contains("unsigned"));
    let allow = Options { nonce: Some(NONCE.to_vec()), allow_unsigned: true };
    let v = verify(&claims, &key, None, &allow).unwrap();
    assert_eq!((v.format, v.kid), ("CBOR", None));
    let wrong = Options { nonce: Some(b"another-nonce-00".to_vec()), allow_unsigned: true };
    assert!(matches!(verify(&claims, &key, None, &wrong), Err(Error::Nonce)));
    let none = claims_bytes(4, None);
    assert!(matches!(verify(&none, &key, None, &allow), Err(Error::Nonce)));
}

#[test]
fn counters_only_go_up_and_survive_a_new_store() {
    assert!(check_counter(0, None).is_ok());
    assert!(matches!(check_counter(5, Some(5)), Err(Error::Replay { counter: 5, last: 5 })));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cloud.db");
    let key = device_key();
    let accept = |counter| {
        let result = sign1(&key, counter, None);
        let v = check(&result, &device(&key)).unwrap();
        Store::open(&db).unwrap().accept(&v, &result, "verify", 1)
    };
    assert_eq!(accept(5).unwrap(), Accepted::Stored);
    // The same bytes again (RFC 6979: the same signature) are a duplicate, not stored twice.
    assert_eq!(accept(5).unwrap(), Accepted::Duplicate);
    let replay = |counter| {
        let result = sign1(&key, counter, Some(NONCE));
        let v = check(&result, &device(&key)).unwrap();
        Store::open(&db).unwrap().accept(&v, &result, "verify", 1)
    };
    let e = replay(5).unwrap_err();
    assert_eq!(e.to_string(), "replayed or stale result: counter 5, last accepted 5");
    assert!(matches!(replay(4), Err(Error::Replay { counter: 4, last: 5 })));
    assert_eq!(accept(6).unwrap(), Accepted::Stored);
    let store = Store::open(&db).unwrap();
    let counters: Vec<u64> = store.results(&Default::default()).unwrap().iter().map(|r| r.counter).collect();
    assert_eq!(counters, [5, 6]);
    assert!(matches!(replay(6), Err(Error::Replay { counter: 6, last: 6 })));
}

#[test]
fn results_as_text_and_files() {
    let bytes = [0xd2, 0x84, 0x43, 0xfb, 0xff];
    for text in ["d28443fbff", " D2 84 43\nFB FF \n", "0oRD+/8=", "0oRD+/8", "0oRD-_8", "0oRD\n-_8="] {
        assert_eq!(cloud::decode_text(text).unwrap(), bytes, "{text:?}");
    }
    for bad in ["", "  ", "d", "!!!!", "0oRD+_8"] {
        assert!(matches!(cloud::decode_text(bad), Err(Error::Input(_))), "{bad:?}");
    }
    assert_eq!(cloud::decode_file(bytes.to_vec()).unwrap(), bytes);
    assert_eq!(cloud::decode_file(b"d28443fbff\n".to_vec()).unwrap(), bytes);
}

/// `bytes` with `len` bytes at `at` replaced by `with`.
fn splice(bytes: &[u8], at: usize, len: usize, with: &[u8]) -> Vec<u8> {
    let mut out = bytes[..at].to_vec();
    out.extend(with);
    out.extend(&bytes[at + len..]);
    out
}

/// The signature covers the protected header and the payload, not the CBOR heads
/// around them: a copy with any of those heads written longer (not in preferred
/// serialization) would still verify, so the decoders refuse every such head.
#[test]
fn sign1_with_a_head_written_longer_fails() {
    let key = device_key();
    let result = sign1(&key, 8, None);
    assert!(check(&result, &device(&key)).is_ok());
    // d2 84 43 a10126 a1 04 5820 <kid> 58 <n> <payload> 5840 <signature>
    assert_eq!(&result[..10], &[0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa1, 0x04, 0x58, 0x20]);
    let payload_len = result[43] as usize;
    let signature_at = 44 + payload_len;
    assert_eq!(result[42], 0x58);
    assert_eq!(&result[signature_at..signature_at + 2], &[0x58, 0x40]);
    for (at, len, with, what) in [
        (0, 1, &[0xd8, 0x12][..], "tag 18 as d8 12"),
        (1, 1, &[0x98, 0x04], "array(4) as 98 04"),
        (6, 1, &[0xb8, 0x01], "unprotected map(1) as b8 01"),
        (7, 1, &[0x18, 0x04], "kid label 4 as 18 04"),
        (8, 2, &[0x59, 0x00, 0x20], "kid bstr(32) as 59 00 20"),
        (42, 2, &[0x59, 0x00, payload_len as u8], "payload head in 2 bytes"),
        (signature_at, 2, &[0x59, 0x00, 0x40], "signature bstr(64) as 59 00 40"),
    ] {
        let bent = splice(&result, at, len, with);
        assert!(matches!(check(&bent, &device(&key)), Err(Error::Malformed(_))), "{what}: accepted");
    }
}

/// The recipient layer's unprotected header is authenticated by nothing: its kid could
/// be dropped, or its labels written longer, and the result would still decrypt. The
/// kid is required and every head must be the shortest.
#[test]
fn encrypt0_without_its_recipient_kid_or_with_a_longer_head_fails() {
    let key = device_key();
    let result = encrypt0(&key, &demo_recipient().public_key(), 8);
    assert!(check(&result, &device(&key)).is_ok());
    // ... a2 20 <ephemeral COSE_Key> 04 5820 <kid> 40
    let kid_at = result.len() - 36;
    assert_eq!(&result[kid_at..kid_at + 3], &[0x04, 0x58, 0x20]);
    let map_at = result.windows(7).position(|w| w == [0xa2, 0x20, 0xa4, 0x01, 0x02, 0x20, 0x01]).unwrap();
    let without_kid = splice(&splice(&result, kid_at, 35, &[]), map_at, 1, &[0xa1]);
    assert!(matches!(check(&without_kid, &device(&key)), Err(Error::Malformed(_))), "no kid: accepted");
    // d860 84 43a10103 a1 05 4c <iv>: the IV label 5 as 18 05.
    assert_eq!(&result[..9], &[0xd8, 0x60, 0x84, 0x43, 0xa1, 0x01, 0x03, 0xa1, 0x05]);
    let long_label = splice(&result, 8, 1, &[0x18, 0x05]);
    assert!(matches!(check(&long_label, &device(&key)), Err(Error::Malformed(_))), "IV label: accepted");
}

/// ECDSA signatures are malleable: (r, n - s) verifies wherever (r, s) does, and the
/// device's signer (RFC 6979, no low-s normalisation) emits either half, so the
/// verifier cannot refuse one of them. The copy is harmless: it carries the same
/// (device, counter), which `--state` accepts once.
#[test]
fn a_copy_with_s_replaced_by_n_minus_s_verifies_and_is_a_replay() {
    use p256::ecdsa::Signature;
    let key = device_key();
    let result = sign1(&key, 12, None);
    let at = result.len() - 64;
    let signature = Signature::from_slice(&result[at..]).unwrap();
    let (r, s) = signature.split_scalars();
    let flipped = Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
    let copy = splice(&result, at, 64, &flipped.to_bytes());
    assert_ne!(copy, result);
    let (original, malleated) =
        (check(&result, &device(&key)).unwrap(), check(&copy, &device(&key)).unwrap());
    assert_eq!(original, malleated);
    // Either copy first: the other is a replay (another payload, the same counter).
    for ((first, a), (second, b)) in
        [((&original, &result), (&malleated, &copy)), ((&malleated, &copy), (&original, &result))]
    {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("cloud.db")).unwrap();
        assert_eq!(store.accept(first, a, "verify", 1).unwrap(), Accepted::Stored);
        assert!(matches!(store.accept(second, b, "verify", 1), Err(Error::Replay { counter: 12, last: 12 })));
    }
    // RFC 6979 signatures as the device makes them (p256-sign gives RustCrypto's) come
    // with the high s about half the time: refusing it would refuse genuine results.
    let high = (0..64)
        .filter(|&counter| {
            let result = sign1(&key, counter, None);
            Signature::from_slice(&result[result.len() - 64..]).unwrap().normalize_s().is_some()
        })
        .count();
    assert!((8..=56).contains(&high), "{high} of 64 with a high s");
}

#[test]
fn a_tensor_result_carries_its_inputs_sha256_instead_of_values() {
    let key = device_key();
    let scores: Vec<u8> = (0..12).flat_map(|i| (i as f32 / 16.0).to_le_bytes()).collect();
    let claims = cose_results::Claims {
        values: &scores,
        inputs: &[],
        input_sha256: Some([0x5a; 32]),
        engine: "si 0.1.0",
        model_sha256: [0xab; 32],
        model: "kws",
        counter: 3,
        device: common::UUID,
        nonce: None,
    };
    let mut payload = [0u8; 512];
    let n = claims.encode(&mut payload).unwrap();
    let result = common::sign1_with_kid(&payload[..n], &key, &cloud::thumbprint(&common::public(&key)));
    let v = check(&result, &device(&key)).unwrap();
    assert_eq!((v.model.as_str(), v.values.len()), ("kws", 12));
    assert!(v.inputs.is_empty());
    assert_eq!(v.input_sha256, Some("5a".repeat(32)));
    let json = serde_json::to_string(&v).unwrap();
    assert!(
        json.contains(&format!(r#""inputs":[],"input_sha256":"{}","values":[0.0,"#, "5a".repeat(32))),
        "{json}"
    );
}
