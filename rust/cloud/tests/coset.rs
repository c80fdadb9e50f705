//! Results made by an encoder independent of the device's (coset for COSE, ciborium
//! for the claims, RustCrypto for the crypto) verify as the device's do; and where coset
//! and cose-results disagree (coset reads CBOR heads of any length and indefinite
//! lengths, cose-results refuses them), cloud keeps the stricter reading.

mod common;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use coset::cbor::value::Value;
use coset::{
    iana, AsCborValue, CborSerializable, CoseEncryptBuilder, CoseKdfContextBuilder, CoseKeyBuilder,
    CoseRecipientBuilder, CoseSign1, CoseSign1Builder, HeaderBuilder, SuppPubInfo, TaggedCborSerializable,
};
use hkdf::Hkdf;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

use cloud::{verify, DeviceKey, Error, Malformed, Options, RecipientKey};
use common::*;

fn device(key: &SigningKey) -> DeviceKey {
    DeviceKey::registered(public(key), cloud::COSE_SIGN_KEY_ID).unwrap()
}

/// The claims map as docs/formats.md writes it, by ciborium: the labels in the
/// format's fixed order, each value as its CDDL says.
fn claims(counter: u64, nonce: Option<&[u8]>) -> Vec<u8> {
    let floats = |v: &[f32]| Value::Bytes(v.iter().flat_map(|f| f.to_le_bytes()).collect());
    let mut map = vec![
        (Value::from(-80000), floats(&VALUES)),
        (Value::from(-80001), Value::Text("si 0.1.0".into())),
        (Value::from(-80002), Value::Bytes(vec![0xab; 32])),
        (Value::from(-80003), Value::Text("sine".into())),
        (Value::from(-80004), Value::from(counter)),
        (Value::from(-80005), floats(&[input(counter)])),
        (Value::from(256), Value::Bytes([&[0x01][..], &UUID].concat())), // ueid: RAND || UUID
    ];
    if let Some(nonce) = nonce {
        map.push((Value::from(10), Value::Bytes(nonce.to_vec())));
    }
    let mut out = Vec::new();
    coset::cbor::ser::into_writer(&Value::Map(map), &mut out).unwrap();
    out
}

/// A SIGN1 by coset: ES256 in the protected header, the kid in the unprotected one.
fn coset_sign1(key: &SigningKey, payload: Vec<u8>) -> Vec<u8> {
    CoseSign1Builder::new()
        .protected(HeaderBuilder::new().algorithm(iana::Algorithm::ES256).build())
        .unprotected(HeaderBuilder::new().key_id(cloud::thumbprint(&public(key)).to_vec()).build())
        .payload(payload)
        .create_signature(&[], |tbs| {
            let signature: Signature = key.sign(tbs);
            signature.to_bytes().to_vec()
        })
        .build()
        .to_tagged_vec()
        .unwrap()
}

/// An ENCRYPT0 by coset: ECDH-ES + HKDF-256 with coset's COSE_KDF_Context, A256GCM
/// over coset's Enc_structure. coset writes the recipient's header as {4: kid, -1: key},
/// the other order than the device's.
fn coset_encrypt(plaintext: &[u8], recipient: &PublicKey) -> Vec<u8> {
    let ephemeral = SecretKey::random(&mut OsRng);
    let point = ephemeral.public_key().to_encoded_point(false);
    let (x, y) = (point.x().unwrap().to_vec(), point.y().unwrap().to_vec());
    let key = CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, x, y).build();
    let recipient_protected = HeaderBuilder::new().algorithm(iana::Algorithm::ECDH_ES_HKDF_256).build();
    let context = CoseKdfContextBuilder::new()
        .algorithm(iana::Algorithm::A256GCM)
        .supp_pub_info(SuppPubInfo {
            key_data_length: 256,
            protected: coset::ProtectedHeader { original_data: None, header: recipient_protected.clone() },
            other: None,
        })
        .build()
        .to_vec()
        .unwrap();
    // The known answer of docs/formats.md ("ENCRYPT0", step 4).
    assert_eq!(hex::encode(&context), "840383f6f6f683f6f6f68219010044a1013818");
    let shared = p256::ecdh::diffie_hellman(ephemeral.to_nonzero_scalar(), recipient.as_affine());
    let mut cek = [0u8; 32];
    Hkdf::<Sha256>::new(None, shared.raw_secret_bytes()).expand(&context, &mut cek).unwrap();
    let mut iv = [0u8; 12];
    OsRng.fill_bytes(&mut iv);
    let layer = CoseRecipientBuilder::new()
        .protected(recipient_protected)
        .unprotected(
            HeaderBuilder::new()
                .key_id(cloud::thumbprint(recipient).to_vec())
                .value(iana::HeaderAlgorithmParameter::EphemeralKey as i64, key.to_cbor_value().unwrap())
                .build(),
        )
        .ciphertext(Vec::new())
        .build();
    CoseEncryptBuilder::new()
        .protected(HeaderBuilder::new().algorithm(iana::Algorithm::A256GCM).build())
        .unprotected(HeaderBuilder::new().iv(iv.to_vec()).build())
        .add_recipient(layer)
        .create_ciphertext(plaintext, &[], |msg, aad| {
            Aes256Gcm::new(&cek.into()).encrypt(Nonce::from_slice(&iv), Payload { msg, aad }).unwrap()
        })
        .build()
        .to_tagged_vec()
        .unwrap()
}

#[test]
fn claims_and_sign1_by_ciborium_and_coset_are_the_devices_bytes() {
    let key = device_key();
    for (counter, nonce) in [(0, None), (7, Some(NONCE)), (u64::MAX, None)] {
        assert_eq!(claims(counter, nonce), claims_bytes(counter, nonce), "counter {counter}");
        // ES256 by RFC 6979: the same key and bytes give the same signature.
        assert_eq!(coset_sign1(&key, claims(counter, nonce)), sign1(&key, counter, nonce));
    }
}

#[test]
fn results_made_by_coset_verify() {
    let key = device_key();
    let sign1 = coset_sign1(&key, claims(21, None));
    let v = verify(&sign1, &device(&key), None, &Options::default()).unwrap();
    assert_eq!(
        (v.format, v.counter, v.inputs.as_slice(), v.values.as_slice()),
        ("SIGN1", 21, &[5.25][..], &VALUES[..])
    );
    let recipient_key = demo_recipient();
    let encrypted = coset_encrypt(&coset_sign1(&key, claims(22, Some(NONCE))), &recipient_key.public_key());
    let options = Options { nonce: Some(NONCE.to_vec()), allow_unsigned: false };
    let recipient = RecipientKey::new(recipient_key);
    let v = verify(&encrypted, &device(&key), Some(&recipient), &options).unwrap();
    assert_eq!((v.format, v.counter, v.device.as_str()), ("ENCRYPT0", 22, UUID_TEXT));
}

/// The device's SIGN1 with one head written longer, and with its payload as an
/// indefinite-length byte string: the same message to coset (which decodes it and whose
/// Sig_structure the signature still verifies over), refused by cose-results, and so by
/// cloud, which checks the preferred serialization before coset reads the bytes.
#[test]
fn coset_reads_what_cose_results_refuses_and_cloud_refuses_it() {
    let key = device_key();
    let result = sign1(&key, 30, None);
    // d2 84 43 a10126 a1 04 5820 <kid> 58 <n> <payload> 5840 <signature>
    let n = result[43] as usize;
    let payload = result[44..44 + n].to_vec();
    let long_tag = [&[0xd8, 0x12][..], &result[1..]].concat();
    let mut indefinite = result[..42].to_vec();
    indefinite.extend([0x5f, 0x58, n as u8]);
    indefinite.extend(&payload);
    indefinite.push(0xff);
    indefinite.extend(&result[44 + n..]);
    for (bent, reason) in [
        (long_tag, "a CBOR head longer than needed (not the preferred serialization)"),
        (indefinite, "an indefinite length (not the preferred serialization)"),
    ] {
        let message = CoseSign1::from_tagged_slice(&bent).expect("coset reads it");
        assert_eq!(message.payload.as_deref(), Some(payload.as_slice()));
        let signature = Signature::from_slice(&message.signature).unwrap();
        key.verifying_key().verify(&message.tbs_data(&[]), &signature).expect("and its signature verifies");
        assert!(cose_results::Sign1::decode(&bent).is_err(), "cose-results refuses it");
        match verify(&bent, &device(&key), None, &Options::default()) {
            Err(Error::Malformed(Malformed::Cbor(why))) => assert_eq!(why, reason),
            other => panic!("cloud: {other:?}"),
        }
    }
}

/// coset keeps what it does not know for its caller (unknown labels, `crit`, a content
/// type, a detached payload); cloud refuses each, as cose-results does.
#[test]
fn what_coset_leaves_to_its_caller_is_refused() {
    let key = device_key();
    let kid = cloud::thumbprint(&public(&key)).to_vec();
    let es256 = || HeaderBuilder::new().algorithm(iana::Algorithm::ES256);
    let signed = |protected: coset::Header, unprotected: coset::Header, payload: Option<Vec<u8>>| {
        let mut builder = CoseSign1Builder::new().protected(protected).unprotected(unprotected);
        if let Some(payload) = payload {
            builder = builder.payload(payload);
        }
        builder
            .create_signature(&[], |tbs| {
                let signature: Signature = key.sign(tbs);
                signature.to_bytes().to_vec()
            })
            .build()
            .to_tagged_vec()
            .unwrap()
    };
    let kid_only = || HeaderBuilder::new().key_id(kid.clone()).build();
    let claims = || Some(claims(40, None));
    for (bytes, reason) in [
        (signed(es256().build(), kid_only(), claims()), None),
        (
            signed(
                es256().build(),
                HeaderBuilder::new().key_id(kid.clone()).value(-65537, Value::Null).build(),
                claims(),
            ),
            Some("expected a known header parameter"),
        ),
        (
            signed(es256().add_critical(iana::HeaderParameter::Kid).build(), kid_only(), claims()),
            Some("expected a known header parameter"),
        ),
        (
            signed(es256().content_format(iana::CoapContentFormat::Cbor).build(), kid_only(), claims()),
            Some("expected a known header parameter"),
        ),
        (signed(es256().key_id(kid.clone()).build(), kid_only(), claims()), Some("expected one kid")),
        (signed(es256().build(), kid_only(), None), Some("expected an attached payload")),
        (
            signed(HeaderBuilder::new().algorithm(iana::Algorithm::ES384).build(), kid_only(), claims()),
            Some("expected the algorithm of this format in the protected header"),
        ),
    ] {
        let got = verify(&bytes, &device(&key), None, &Options::default());
        match reason {
            None => assert_eq!(got.unwrap().counter, 40),
            Some(reason) => {
                assert_eq!(got.unwrap_err().to_string(), format!("malformed result: {reason}"));
                assert!(cose_results::Sign1::decode(&bytes).is_err(), "cose-results accepts: {reason}");
            }
        }
    }
}
