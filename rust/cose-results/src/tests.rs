//! Encodings pinned byte for byte, round trips, and a decode failure for every way an
//! input can be cut or bent.

use crate::*;

const UUID: [u8; 16] =
    [0x30, 0x84, 0xb3, 0x38, 0xc3, 0x9e, 0x4c, 0x23, 0x90, 0x50, 0xfc, 0xb9, 0x63, 0x0a, 0xfc, 0xd0];

/// The input of the test claims: 0.75 (radians, say), float32 little-endian.
const INPUT: [u8; 4] = [0x00, 0x00, 0x40, 0x3f];

fn claims<'a>(values: &'a [u8], nonce: Option<&'static [u8]>) -> Claims<'a> {
    Claims {
        values,
        inputs: &INPUT,
        input_sha256: None,
        engine: "si 0.1.0",
        model_sha256: [0xaa; 32],
        model: "sine",
        counter: 7,
        device: UUID,
        nonce,
    }
}

fn encoded(c: &Claims<'_>) -> ([u8; 256], usize) {
    let mut out = [0u8; 256];
    let n = c.encode(&mut out).unwrap();
    (out, n)
}

#[test]
fn claims_start_with_the_original_samples_value() {
    let one = 1.0f32.to_le_bytes();
    let (out, n) = encoded(&claims(&one, None));
    // map(7), -80000: h'0000803F' — what the original's decoder reads first.
    assert_eq!(&out[..11], &[0xA7, 0x3A, 0x00, 0x01, 0x38, 0x7F, 0x44, 0x00, 0x00, 0x80, 0x3F]);
    // -80001: "si 0.1.0"
    assert_eq!(
        &out[11..25],
        &[0x3A, 0x00, 0x01, 0x38, 0x80, 0x68, b's', b'i', b' ', b'0', b'.', b'1', b'.', b'0']
    );
    // ... then -80005: h'0000403F' (the input) and 256: h'01' || UUID at the end.
    assert_eq!(&out[n - 31..n - 21], &[0x3A, 0x00, 0x01, 0x38, 0x84, 0x44, 0x00, 0x00, 0x40, 0x3F]);
    assert_eq!(&out[n - 21..n - 18], &[0x19, 0x01, 0x00]);
    assert_eq!(&out[n - 18..n - 16], &[0x51, 0x01]);
    let back = Claims::decode(&out[..n]).unwrap();
    assert_eq!(back, claims(&one, None));
    assert_eq!(back.values().collect::<std::vec::Vec<_>>(), [1.0]);
    assert_eq!(back.inputs().collect::<std::vec::Vec<_>>(), [0.75]);
}

/// The claims written out field by field (`strict::CLAIMS`): the encoder writes
/// exactly these bytes, and they decode to the same claims.
#[test]
fn claims_known_answer() {
    let one = 1.0f32.to_le_bytes();
    let (out, n) = encoded(&claims(&one, None));
    assert_eq!(&out[..n], strict::hex(strict::CLAIMS).as_slice());
    assert_eq!(Claims::decode(&strict::hex(strict::CLAIMS)), Ok(claims(&one, None)));
}

#[test]
fn claims_carry_up_to_16_inputs() {
    let inputs: std::vec::Vec<u8> = (0..16u8).flat_map(|i| f32::from(i).to_le_bytes()).collect();
    let c = Claims { inputs: &inputs, ..claims(&INPUT, None) };
    let (out, n) = encoded(&c);
    let back = Claims::decode(&out[..n]).unwrap();
    assert_eq!(
        back.inputs().collect::<std::vec::Vec<_>>(),
        (0..16u8).map(f32::from).collect::<std::vec::Vec<_>>()
    );
}

/// A tensor input (keyword spotting's 490 feature bytes, say) is claimed by its
/// SHA-256 (-80006) in the input's place; never both, never neither.
#[test]
fn a_tensor_input_is_claimed_by_its_sha256() {
    let scores: std::vec::Vec<u8> = (0..12u8).flat_map(|i| (f32::from(i) / 12.0).to_le_bytes()).collect();
    let c = Claims { inputs: &[], input_sha256: Some([0x5a; 32]), ..claims(&scores, None) };
    let (out, n) = encoded(&c);
    // ... -80004: 7, then -80006: h'5a5a...' (32 bytes) where -80005 stands otherwise.
    let at = n - 21 - 39;
    assert_eq!(&out[at..at + 7], &[0x3A, 0x00, 0x01, 0x38, 0x85, 0x58, 0x20]);
    assert_eq!(&out[at + 7..at + 39], &[0x5a; 32]);
    let back = Claims::decode(&out[..n]).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.inputs().count(), 0);
    assert_eq!(back.values().count(), 12);
    assert!(n <= claims::max_encoded_len(12, 8));

    let mut buf = [0u8; 256];
    let both = Claims { input_sha256: Some([0x5a; 32]), ..claims(&scores, None) };
    let not_both = Error::Unexpected("input values or an input tensor's SHA-256, not both");
    assert_eq!(both.encode(&mut buf), Err(not_both));
    // Decoding: both claims in one map, and neither.
    let mut two = out[..n].to_vec();
    two[0] += 1;
    two.extend_from_slice(&[0x3A, 0x00, 0x01, 0x38, 0x84, 0x44, 0x00, 0x00, 0x40, 0x3F]);
    assert_eq!(Claims::decode(&two), Err(not_both));
    // (a nonce in its place, so that the map still has 7 claims)
    let mut neither = out[..at].to_vec();
    neither.extend_from_slice(&[0x0A, 0x48, 1, 2, 3, 4, 5, 6, 7, 8]);
    neither.extend_from_slice(&out[at + 39..n]);
    assert_eq!(Claims::decode(&neither), Err(Error::Unexpected("all required claims")));
    // A digest that is not 32 bytes.
    let mut short = out[..n].to_vec();
    short[at + 6] = 0x1f;
    short.remove(at + 7);
    assert_eq!(Claims::decode(&short), Err(Error::Unexpected("a 32-byte hash")));
}

#[test]
fn claims_with_a_nonce_round_trip() {
    let values = [0u8; 8];
    let c = claims(&values, Some(b"0123456789abcdef"));
    let (out, n) = encoded(&c);
    assert_eq!(out[0], 0xA8);
    assert_eq!(Claims::decode(&out[..n]), Ok(c));
}

#[test]
fn claims_encoding_refuses_what_decoding_would() {
    let mut out = [0u8; 256];
    assert!(claims(&[], None).encode(&mut out).is_err());
    assert!(claims(&[0; 3], None).encode(&mut out).is_err());
    assert!(claims(&[0; 68], None).encode(&mut out).is_err());
    assert!(claims(&[0; 4], Some(b"short")).encode(&mut out).is_err());
    assert!(claims(&[0; 4], Some(&[0; 65])).encode(&mut out).is_err());
    for inputs in [&[][..], &[0; 3], &[0; 68]] {
        let c = Claims { inputs, ..claims(&[0; 4], None) };
        assert_eq!(c.encode(&mut out), Err(Error::Unexpected("1 to 16 float32 inputs")));
    }
    assert_eq!(claims(&[0; 4], None).encode(&mut [0u8; 20]), Err(Error::BufferTooSmall));
}

#[test]
fn claims_decoding_fails_on_every_cut_and_on_bent_maps() {
    let values = 0.5f32.to_le_bytes();
    let (out, n) = encoded(&claims(&values, Some(b"nonce-123")));
    for cut in 0..n {
        assert!(Claims::decode(&out[..cut]).is_err(), "cut {cut}");
    }
    let mut long = out;
    long[n] = 0;
    assert_eq!(Claims::decode(&long[..n + 1]), Err(Error::TrailingBytes));
    // One claim fewer in the count: the last claim is left over.
    let mut fewer = out;
    fewer[0] = 0xA7;
    assert!(Claims::decode(&fewer[..n]).is_err());
    // The value label bent to -79999 (unknown).
    let mut unknown = out;
    unknown[5] = 0x7E;
    assert!(matches!(Claims::decode(&unknown[..n]), Err(Error::Unexpected(_))));
    // The engine label bent to the value label: a duplicate.
    let mut dup = out;
    dup[15] = 0x7F;
    assert!(matches!(Claims::decode(&dup[..n]), Err(Error::Unexpected(_))));
    // Not a map at all.
    assert!(Claims::decode(&[0x80]).is_err());
    assert!(Claims::decode(&[]).is_err());
}

fn fake_signature(tbs: &[u8]) -> [u8; 64] {
    let mut sig = [0u8; 64];
    for (i, b) in tbs.iter().enumerate() {
        sig[i % 64] ^= b.wrapping_add(i as u8);
    }
    sig
}

#[test]
fn sign1_layout_and_round_trip() {
    let payload = [0xA1, 0x01, 0x02];
    let kid = [0x11; 32];
    let mut out = [0u8; 200];
    let mut seen = [0u8; 64];
    let mut seen_len = 0;
    let n = sign1::encode(&payload, &kid, &mut out, |tbs| {
        seen[..tbs.len()].copy_from_slice(tbs);
        seen_len = tbs.len();
        Ok(fake_signature(tbs))
    })
    .unwrap();
    // Sig_structure: ["Signature1", h'A10126', h'', h'A10102']
    let mut tbs = vec_of(&[0x84, 0x6A]);
    tbs.extend(b"Signature1");
    tbs.extend([0x43, 0xA1, 0x01, 0x26, 0x40, 0x43, 0xA1, 0x01, 0x02]);
    assert_eq!(&seen[..seen_len], tbs.as_slice());
    // 18([h'A10126', {4: kid}, payload, signature])
    assert_eq!(&out[..9], &[0xD2, 0x84, 0x43, 0xA1, 0x01, 0x26, 0xA1, 0x04, 0x58]);
    let s = Sign1::decode(&out[..n]).unwrap();
    assert_eq!(s.kid, &kid[..]);
    assert_eq!(s.payload, &payload);
    assert_eq!(s.signature, fake_signature(tbs.as_slice()));
    let mut again = [0u8; 64];
    let m = s.to_be_signed(&mut again).unwrap();
    assert_eq!(&again[..m], tbs.as_slice());
    for cut in 0..n {
        assert!(Sign1::decode(&out[..cut]).is_err(), "cut {cut}");
    }
}

#[test]
fn sign1_decoding_refuses_other_algorithms_tags_and_headers() {
    let mut out = [0u8; 200];
    let n = sign1::encode(&[0xA0], &[1, 2], &mut out, |tbs| Ok(fake_signature(tbs))).unwrap();
    let bend = |at: usize, to: u8| {
        let mut b = out;
        b[at] = to;
        Sign1::decode(&b[..n]).is_err()
    };
    assert!(bend(0, 0xD1), "tag 17");
    assert!(bend(5, 0x27), "alg -8 (EdDSA)");
    assert!(bend(7, 0x02), "unknown header 2");
    assert!(bend(7, 0x01), "alg as a byte string");
    assert!(bend(1, 0x83), "3 items");
    let mut crypto_failure = [0u8; 200];
    assert_eq!(sign1::encode(&[0xA0], &[1], &mut crypto_failure, |_| Err(Error::Crypto)), Err(Error::Crypto));
    assert!(sign1::encode(&[0xA0], &[0; 65], &mut crypto_failure, |tbs| Ok(fake_signature(tbs))).is_err());
}

#[test]
fn kdf_context_and_enc_structure_are_rfc_9053s() {
    let mut out = [0u8; 64];
    let n = encrypt::kdf_context(&encrypt::RECIPIENT_PROTECTED, &mut out).unwrap();
    assert_eq!(
        &out[..n],
        &[
            0x84, 0x03, // [3 (A256GCM),
            0x83, 0xF6, 0xF6, 0xF6, // [nil, nil, nil],
            0x83, 0xF6, 0xF6, 0xF6, // [nil, nil, nil],
            0x82, 0x19, 0x01, 0x00, 0x44, 0xA1, 0x01, 0x38, 0x18, // [256, h'A1013818']]
        ]
    );
    assert_eq!(n, encrypt::KDF_CONTEXT_LEN);
    let n = encrypt::enc_structure(&encrypt::PROTECTED, &mut out).unwrap();
    assert_eq!(&out[..n], b"\x83\x67Encrypt\x43\xA1\x01\x03\x40");
    assert_eq!(n, encrypt::ENC_STRUCTURE_LEN);
}

fn key() -> Ec2Key {
    Ec2Key { x: [0x21; 32], y: [0x42; 32] }
}

#[test]
fn encrypt_round_trip_and_cuts() {
    let plaintext = [0xD2, 0x84, 0x01, 0x02, 0x03];
    let iv = [9u8; 12];
    let mut out = [0u8; 300];
    let n = encrypt::encode(&plaintext, &iv, &key(), &[7; 32], &mut out, |text| {
        for b in text.iter_mut() {
            *b ^= 0x5A;
        }
        Ok([0xEE; 16])
    })
    .unwrap();
    assert_eq!(&out[..6], &[0xD8, 0x60, 0x84, 0x43, 0xA1, 0x01]);
    let e = Encrypted::decode(&out[..n]).unwrap();
    assert_eq!(e.iv, iv);
    assert_eq!(e.ephemeral, key());
    assert_eq!(e.recipient_kid, &[7u8; 32][..]);
    assert_eq!(&e.ciphertext[..5], &[0xD2 ^ 0x5A, 0x84 ^ 0x5A, 0x01 ^ 0x5A, 0x02 ^ 0x5A, 0x03 ^ 0x5A]);
    assert_eq!(&e.ciphertext[5..], &[0xEE; 16]);
    assert_eq!(Format::detect(&out[..n]), Ok(Format::Encrypt));
    for cut in 0..n {
        assert!(Encrypted::decode(&out[..cut]).is_err(), "cut {cut}");
    }
    // A wrong content algorithm (A128GCM) and a wrong key agreement (-26) are refused.
    let mut a128 = out;
    a128[6] = 0x01;
    assert!(Encrypted::decode(&a128[..n]).is_err());
    let at = out[..n].windows(4).position(|w| w == encrypt::RECIPIENT_PROTECTED).unwrap();
    let mut es512 = out;
    es512[at + 3] = 0x19;
    assert!(Encrypted::decode(&es512[..n]).is_err());
}

#[test]
fn cose_key_decoding_and_thumbprint_input() {
    let input = key::thumbprint_input(&key());
    assert_eq!(&input[..8], &[0xA4, 0x01, 0x02, 0x20, 0x01, 0x21, 0x58, 0x20]);
    let mut d = Decoder::new(&input);
    assert_eq!(Ec2Key::decode(&mut d), Ok(key()));
    // kty OKP (1) is refused.
    let mut okp = input;
    okp[2] = 0x01;
    assert!(Ec2Key::decode(&mut Decoder::new(&okp)).is_err());
    assert_eq!(Ec2Key::from_sec1(&key().to_sec1()), Ok(key()));
    assert!(Ec2Key::from_sec1(&[0x02; 33]).is_err());
}

#[test]
fn formats_are_told_apart() {
    assert_eq!(Format::detect(&[0xA6]), Ok(Format::Cbor));
    assert_eq!(Format::detect(&[0xD2, 0x84]), Ok(Format::Sign1));
    assert!(Format::detect(&[0xD1, 0x84]).is_err());
    assert!(Format::detect(&[0x01]).is_err());
    assert!(Format::detect(&[]).is_err());
}

extern crate std;
fn vec_of(b: &[u8]) -> std::vec::Vec<u8> {
    b.to_vec()
}

/// The size bounds a caller allocates by are exact: the longest claims (every text
/// and the nonce at their limits, the largest counter) encode to exactly
/// `claims::max_encoded_len`, and signing and encrypting them to exactly the
/// formats' `encoded_len`, which a buffer one byte shorter does not hold.
#[test]
fn size_bounds_are_exact_for_the_longest_results() {
    const NONCE: [u8; claims::NONCE_MAX] = [0x5a; claims::NONCE_MAX];
    let text = core::str::from_utf8(&[b't'; claims::TEXT_MAX]).unwrap();
    for (count, inputs) in
        [(1, 1), (claims::MAX_VALUES, 1), (1, claims::MAX_INPUTS), (claims::MAX_VALUES, claims::MAX_INPUTS)]
    {
        let values = [0x3f; 4 * claims::MAX_VALUES];
        let input = [0x40; 4 * claims::MAX_INPUTS];
        let c = Claims {
            values: &values[..4 * count],
            inputs: &input[..4 * inputs],
            input_sha256: None,
            engine: text,
            model_sha256: [0xaa; 32],
            model: text,
            counter: u64::MAX,
            device: UUID,
            nonce: Some(&NONCE),
        };
        let mut payload = [0u8; 512];
        let n = c.encode(&mut payload).unwrap();
        assert_eq!(n, claims::max_encoded_len(count, inputs), "{count} values, {inputs} inputs");
        assert!(c.encode(&mut payload[..n - 1]).is_err());
        let kid = [0x11; 32];
        let mut signed = [0u8; 1024];
        let m = sign1::encode(&payload[..n], &kid, &mut signed, |tbs| Ok(fake_signature(tbs))).unwrap();
        assert_eq!(m, sign1::encoded_len(n, kid.len()));
        let short = &mut [0u8; 1024][..m - 1];
        assert!(sign1::encode(&payload[..n], &kid, short, |tbs| Ok(fake_signature(tbs))).is_err());
        let mut sealed = [0u8; 1024];
        let seal = |_: &mut [u8]| Ok([0x77; encrypt::GCM_TAG_LEN]);
        let e =
            encrypt::encode(&signed[..m], &[1; encrypt::IV_LEN], &key(), &kid, &mut sealed, seal).unwrap();
        assert_eq!(e, encrypt::encoded_len(m, kid.len()));
        let short = &mut [0u8; 1024][..e - 1];
        assert!(encrypt::encode(&signed[..m], &[1; encrypt::IV_LEN], &key(), &kid, short, seal).is_err());
    }
}

mod strict;
