//! The library: genuine results verify, every bent or cut one does not, and counters
//! only go up.

mod common;

use cloud::{check_counter, verify, CounterStore, DeviceKey, Error, Options, RecipientKey, Verified};
use common::*;

fn device(key: &p256::ecdsa::SigningKey) -> DeviceKey {
    DeviceKey::new(public(key))
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
    let json = serde_json::to_string(&v).unwrap();
    assert!(
        json.starts_with(r#"{"format":"SIGN1","device":"3084b338-c39e-4c23-9050-fcb9630afcd0","counter":7,"#)
    );
    let tail = format!(r#""values":[0.5,-0.25],"nonce":null,"kid":"{}"}}"#, v.kid.as_deref().unwrap());
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
    let key = device_key();
    let accept = |counter| {
        let v = check(&sign1(&key, counter, None), &device(&key)).unwrap();
        CounterStore::new(dir.path().join("state")).accept(&v)
    };
    accept(5).unwrap();
    let replay = accept(5).unwrap_err();
    assert_eq!(replay.to_string(), "replayed or stale result: counter 5, last accepted 5");
    assert!(matches!(accept(4), Err(Error::Replay { counter: 4, last: 5 })));
    accept(6).unwrap();
    let store = CounterStore::new(dir.path().join("state"));
    assert_eq!(store.last(&UUID).unwrap(), Some(6));
    assert_eq!(store.last(&[0; 16]).unwrap(), None);
    assert!(matches!(accept(6), Err(Error::Replay { counter: 6, last: 6 })));
    // Only the state file is left: no temporary files.
    let names: Vec<_> =
        std::fs::read_dir(dir.path().join("state")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, [format!("{UUID_TEXT}.json").as_str()]);
    // A damaged state file refuses rather than resets.
    std::fs::write(dir.path().join("state").join(&names[0]), b"{").unwrap();
    assert!(matches!(accept(7), Err(Error::State(..))));
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
