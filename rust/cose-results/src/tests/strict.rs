//! Decode failures for the encodings the formats call strict (docs/formats.md, "Strict
//! decoding"): every CBOR head in its shortest form (RFC 8949 section 4.2.1), the
//! kids present, and the claims whole (the input `-80005` required, once, 1 to 16
//! float32s). Each vector is a valid item with one field bent, written out field by
//! field (`<-` marks the bent one); the valid vectors decode, so each failure is the bent
//! field's alone.

use crate::*;
extern crate std;
use std::vec::Vec;

pub(super) fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "{text}");
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

macro_rules! signature {
    () => {
        concat!(
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
        )
    };
}

/// `18([h'A10126', {4: h'01'}, h'A0', h'00...'])`, as the encoder writes it.
#[rustfmt::skip]
const SIGN1: &str = concat!(
    "d2",         // tag 18
    "84",         // array(4)
    "43a10126",   // protected: bstr(3) {1: -7 (ES256)}
    "a1044101",   // unprotected: {4: h'01'} (kid)
    "41a0",       // payload: bstr(1) {}
    "5840",       // signature: bstr(64)
    signature!(), // r || s
);

/// The valid vector decodes; `vector` fails with `expected`.
fn sign1_refused(vector: &str, expected: Error) {
    assert!(Sign1::decode(&hex(SIGN1)).is_ok());
    assert_eq!(Sign1::decode(&hex(vector)).map(|_| ()), Err(expected), "{vector}");
}

/// The tag 18 in a 1-byte argument.
#[test]
#[rustfmt::skip]
fn sign1_refuses_a_long_tag_head() {
    let vector = concat!(
        "d812",       // tag 18 as d8 12  <-
        "84",         // array(4)
        "43a10126",   // protected: bstr(3) {1: -7 (ES256)}
        "a1044101",   // unprotected: {4: h'01'} (kid)
        "41a0",       // payload: bstr(1) {}
        "5840",       // signature: bstr(64)
        signature!(), // r || s
    );
    sign1_refused(vector, Error::NonPreferred);
}

/// The array's 4 items in a 1-byte argument.
#[test]
#[rustfmt::skip]
fn sign1_refuses_a_long_array_head() {
    let vector = concat!(
        "d2",         // tag 18
        "9804",       // array(4) as 98 04  <-
        "43a10126",   // protected: bstr(3) {1: -7 (ES256)}
        "a1044101",   // unprotected: {4: h'01'} (kid)
        "41a0",       // payload: bstr(1) {}
        "5840",       // signature: bstr(64)
        signature!(), // r || s
    );
    sign1_refused(vector, Error::NonPreferred);
}

/// The protected header's byte string length in a 1-byte argument.
#[test]
#[rustfmt::skip]
fn sign1_refuses_a_long_protected_bstr_head() {
    let vector = concat!(
        "d2",         // tag 18
        "84",         // array(4)
        "5803a10126", // protected: bstr(3) as 58 03  <-
        "a1044101",   // unprotected: {4: h'01'} (kid)
        "41a0",       // payload: bstr(1) {}
        "5840",       // signature: bstr(64)
        signature!(), // r || s
    );
    sign1_refused(vector, Error::NonPreferred);
}

/// The protected map's entry count in a 1-byte argument.
#[test]
#[rustfmt::skip]
fn sign1_refuses_a_long_protected_map_head() {
    let vector = concat!(
        "d2",         // tag 18
        "84",         // array(4)
        "44b8010126", // protected: bstr(4) {1: -7}, map(1) as b8 01  <-
        "a1044101",   // unprotected: {4: h'01'} (kid)
        "41a0",       // payload: bstr(1) {}
        "5840",       // signature: bstr(64)
        signature!(), // r || s
    );
    sign1_refused(vector, Error::NonPreferred);
}

/// The algorithm -7 in a 1-byte argument (38 06).
#[test]
#[rustfmt::skip]
fn sign1_refuses_a_long_algorithm() {
    let vector = concat!(
        "d2",         // tag 18
        "84",         // array(4)
        "44a1013806", // protected: bstr(4) {1: -7 as 38 06}  <-
        "a1044101",   // unprotected: {4: h'01'} (kid)
        "41a0",       // payload: bstr(1) {}
        "5840",       // signature: bstr(64)
        signature!(), // r || s
    );
    sign1_refused(vector, Error::NonPreferred);
}

/// The unprotected map's entry count in a 1-byte argument.
#[test]
#[rustfmt::skip]
fn sign1_refuses_a_long_unprotected_map_head() {
    let vector = concat!(
        "d2",         // tag 18
        "84",         // array(4)
        "43a10126",   // protected: bstr(3) {1: -7 (ES256)}
        "b801044101", // unprotected: {4: h'01'}, map(1) as b8 01  <-
        "41a0",       // payload: bstr(1) {}
        "5840",       // signature: bstr(64)
        signature!(), // r || s
    );
    sign1_refused(vector, Error::NonPreferred);
}

/// The kid's label 4 in a 1-byte argument (18 04).
#[test]
#[rustfmt::skip]
fn sign1_refuses_a_long_kid_label() {
    let vector = concat!(
        "d2",         // tag 18
        "84",         // array(4)
        "43a10126",   // protected: bstr(3) {1: -7 (ES256)}
        "a118044101", // unprotected: {4 as 18 04: h'01'}  <-
        "41a0",       // payload: bstr(1) {}
        "5840",       // signature: bstr(64)
        signature!(), // r || s
    );
    sign1_refused(vector, Error::NonPreferred);
}

/// The kid's length in a 1-byte argument.
#[test]
#[rustfmt::skip]
fn sign1_refuses_a_long_kid_head() {
    let vector = concat!(
        "d2",         // tag 18
        "84",         // array(4)
        "43a10126",   // protected: bstr(3) {1: -7 (ES256)}
        "a104580101", // unprotected: {4: h'01' as 58 01 01}  <-
        "41a0",       // payload: bstr(1) {}
        "5840",       // signature: bstr(64)
        signature!(), // r || s
    );
    sign1_refused(vector, Error::NonPreferred);
}

/// The payload's length in a 1-byte argument.
#[test]
#[rustfmt::skip]
fn sign1_refuses_a_long_payload_head() {
    let vector = concat!(
        "d2",         // tag 18
        "84",         // array(4)
        "43a10126",   // protected: bstr(3) {1: -7 (ES256)}
        "a1044101",   // unprotected: {4: h'01'} (kid)
        "5801a0",     // payload: bstr(1) as 58 01  <-
        "5840",       // signature: bstr(64)
        signature!(), // r || s
    );
    sign1_refused(vector, Error::NonPreferred);
}

/// The signature's length in a 2-byte argument.
#[test]
#[rustfmt::skip]
fn sign1_refuses_a_long_signature_head() {
    let vector = concat!(
        "d2",         // tag 18
        "84",         // array(4)
        "43a10126",   // protected: bstr(3) {1: -7 (ES256)}
        "a1044101",   // unprotected: {4: h'01'} (kid)
        "41a0",       // payload: bstr(1) {}
        "590040",     // signature: bstr(64) as 59 00 40  <-
        signature!(), // r || s
    );
    sign1_refused(vector, Error::NonPreferred);
}

/// No kid: the COSE_Sign1 must name its key.
#[test]
#[rustfmt::skip]
fn sign1_refuses_a_missing_kid() {
    let vector = concat!(
        "d2",         // tag 18
        "84",         // array(4)
        "43a10126",   // protected: bstr(3) {1: -7 (ES256)}
        "a0",         // unprotected: {} (no kid)  <-
        "41a0",       // payload: bstr(1) {}
        "5840",       // signature: bstr(64)
        signature!(), // r || s
    );
    sign1_refused(vector, Error::Unexpected("a kid (the signing key's thumbprint)"));
}

macro_rules! coordinates {
    () => {
        concat!(
            "215820", // -2 (x): bstr(32)
            "2121212121212121212121212121212121212121212121212121212121212121",
            "225820", // -3 (y): bstr(32)
            "4242424242424242424242424242424242424242424242424242424242424242",
        )
    };
}

/// `96([h'A10103', {5: iv}, ciphertext, [[h'A1013818', {-1: key, 4: h'07'}, h'']]])`,
/// as the encoder writes it (an empty plaintext: the ciphertext is the GCM tag alone).
#[rustfmt::skip]
const ENCRYPT: &str = concat!(
    "d860",                               // tag 96
    "84",                                 // array(4)
    "43a10103",                           // protected: bstr(3) {1: 3 (A256GCM)}
    "a1054c090909090909090909090909",     // unprotected: {5: IV (bstr(12))}
    "50eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", // ciphertext: bstr(16), the GCM tag alone
    "81",                                 // recipients: array(1)
    "83",                                 // recipient: array(3)
    "44a1013818",                         // protected: bstr(4) {1: -25 (ECDH-ES + HKDF-256)}
    "a2",                                 // unprotected: map(2)
    "20a401022001",                       // -1: {1: 2 (EC2), -1: 1 (P-256),
    coordinates!(),                       //      -2: x, -3: y}
    "044107",                             // 4: h'07' (the recipient kid)
    "40",                                 // ciphertext: h'' (direct key agreement)
);

/// The valid vector decodes; `vector` fails with `expected`.
fn encrypt_refused(vector: &str, expected: Error) {
    assert!(Encrypted::decode(&hex(ENCRYPT)).is_ok());
    assert_eq!(Encrypted::decode(&hex(vector)).map(|_| ()), Err(expected), "{vector}");
}

/// The IV's label 5 in a 1-byte argument (18 05).
#[test]
#[rustfmt::skip]
fn encrypt_refuses_a_long_iv_label() {
    let vector = concat!(
        "d860",                               // tag 96
        "84",                                 // array(4)
        "43a10103",                           // protected: bstr(3) {1: 3 (A256GCM)}
        "a118054c090909090909090909090909",   // unprotected: {5 as 18 05: IV}  <-
        "50eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", // ciphertext: bstr(16), the GCM tag alone
        "81",                                 // recipients: array(1)
        "83",                                 // recipient: array(3)
        "44a1013818",                         // protected: bstr(4) {1: -25 (ECDH-ES + HKDF-256)}
        "a2",                                 // unprotected: map(2)
        "20a401022001",                       // -1: {1: 2 (EC2), -1: 1 (P-256),
        coordinates!(),                       //      -2: x, -3: y}
        "044107",                             // 4: h'07' (the recipient kid)
        "40",                                 // ciphertext: h'' (direct key agreement)
    );
    encrypt_refused(vector, Error::NonPreferred);
}

/// The IV's length in a 1-byte argument.
#[test]
#[rustfmt::skip]
fn encrypt_refuses_a_long_iv_head() {
    let vector = concat!(
        "d860",                               // tag 96
        "84",                                 // array(4)
        "43a10103",                           // protected: bstr(3) {1: 3 (A256GCM)}
        "a105580c090909090909090909090909",   // unprotected: {5: IV as 58 0c ...}  <-
        "50eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", // ciphertext: bstr(16), the GCM tag alone
        "81",                                 // recipients: array(1)
        "83",                                 // recipient: array(3)
        "44a1013818",                         // protected: bstr(4) {1: -25 (ECDH-ES + HKDF-256)}
        "a2",                                 // unprotected: map(2)
        "20a401022001",                       // -1: {1: 2 (EC2), -1: 1 (P-256),
        coordinates!(),                       //      -2: x, -3: y}
        "044107",                             // 4: h'07' (the recipient kid)
        "40",                                 // ciphertext: h'' (direct key agreement)
    );
    encrypt_refused(vector, Error::NonPreferred);
}

/// The recipients array's length in a 1-byte argument.
#[test]
#[rustfmt::skip]
fn encrypt_refuses_a_long_recipients_head() {
    let vector = concat!(
        "d860",                               // tag 96
        "84",                                 // array(4)
        "43a10103",                           // protected: bstr(3) {1: 3 (A256GCM)}
        "a1054c090909090909090909090909",     // unprotected: {5: IV (bstr(12))}
        "50eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", // ciphertext: bstr(16), the GCM tag alone
        "9801",                               // recipients: array(1) as 98 01  <-
        "83",                                 // recipient: array(3)
        "44a1013818",                         // protected: bstr(4) {1: -25 (ECDH-ES + HKDF-256)}
        "a2",                                 // unprotected: map(2)
        "20a401022001",                       // -1: {1: 2 (EC2), -1: 1 (P-256),
        coordinates!(),                       //      -2: x, -3: y}
        "044107",                             // 4: h'07' (the recipient kid)
        "40",                                 // ciphertext: h'' (direct key agreement)
    );
    encrypt_refused(vector, Error::NonPreferred);
}

/// The ephemeral COSE_Key's entry count in a 1-byte argument.
#[test]
#[rustfmt::skip]
fn encrypt_refuses_a_long_ephemeral_key_map_head() {
    let vector = concat!(
        "d860",                               // tag 96
        "84",                                 // array(4)
        "43a10103",                           // protected: bstr(3) {1: 3 (A256GCM)}
        "a1054c090909090909090909090909",     // unprotected: {5: IV (bstr(12))}
        "50eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", // ciphertext: bstr(16), the GCM tag alone
        "81",                                 // recipients: array(1)
        "83",                                 // recipient: array(3)
        "44a1013818",                         // protected: bstr(4) {1: -25 (ECDH-ES + HKDF-256)}
        "a2",                                 // unprotected: map(2)
        "20b80401022001",                     // -1: {... map(4) as b8 04  <-
        coordinates!(),                       //      -2: x, -3: y}
        "044107",                             // 4: h'07' (the recipient kid)
        "40",                                 // ciphertext: h'' (direct key agreement)
    );
    encrypt_refused(vector, Error::NonPreferred);
}

/// No recipient kid: the unprotected header is authenticated by nothing, so a kid that may be absent may be removed.
#[test]
#[rustfmt::skip]
fn encrypt_refuses_a_missing_recipient_kid() {
    let vector = concat!(
        "d860",                               // tag 96
        "84",                                 // array(4)
        "43a10103",                           // protected: bstr(3) {1: 3 (A256GCM)}
        "a1054c090909090909090909090909",     // unprotected: {5: IV (bstr(12))}
        "50eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", // ciphertext: bstr(16), the GCM tag alone
        "81",                                 // recipients: array(1)
        "83",                                 // recipient: array(3)
        "44a1013818",                         // protected: bstr(4) {1: -25 (ECDH-ES + HKDF-256)}
        "a1",                                 // unprotected: map(1), no 4: kid  <-
        "20a401022001",                       // -1: {1: 2 (EC2), -1: 1 (P-256),
        coordinates!(),                       //      -2: x, -3: y}
        "40",                                 // ciphertext: h'' (direct key agreement)
    );
    encrypt_refused(vector, Error::Unexpected("the recipient's kid"));
}

macro_rules! claims_before_the_input {
    () => {
        concat!(
            "3a0001387f",
            "440000803f", // -80000: h'0000803F' (the value, 1.0)
            "3a00013880",
            "68736920302e312e30", // -80001: "si 0.1.0"
            "3a00013881",
            "5820",                                                             // -80002: bstr(32)
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", // the model's SHA-256
            "3a00013882",
            "6473696e65", // -80003: "sine"
            "3a00013883",
            "07", // -80004: 7 (the counter)
        )
    };
}

macro_rules! ueid {
    () => {
        concat!(
            "190100",
            "51",
            "01",                               // 256: bstr(17), type RAND
            "3084b338c39e4c239050fcb9630afcd0", // the device UUID
        )
    };
}

/// The claims of a result without a nonce, as the encoder writes them (the known
/// answer of `claims_known_answer`).
#[rustfmt::skip]
pub(super) const CLAIMS: &str = concat!(
    "a7",                       // map(7)
    claims_before_the_input!(),
    "3a00013884", "440000403f", // -80005: h'0000403F' (the input, 0.75)
    ueid!(),
);

/// The valid vector decodes; `vector` fails with `expected`.
fn claims_refused(vector: &str, expected: Error) {
    assert!(Claims::decode(&hex(CLAIMS)).is_ok());
    assert_eq!(Claims::decode(&hex(vector)), Err(expected), "{vector}");
}

/// The input is 3 bytes: not a whole float32.
#[test]
#[rustfmt::skip]
fn claims_refuse_an_input_of_3_bytes() {
    let vector = concat!(
        "a7",                       // map(7)
        claims_before_the_input!(),
        "3a00013884", "4300403f",   // -80005: h'00403F' (3 bytes)  <-
        ueid!(),
    );
    claims_refused(vector, Error::Unexpected("1 to 16 float32 inputs"));
}

/// The input is an empty byte string: no input.
#[test]
#[rustfmt::skip]
fn claims_refuse_an_empty_input() {
    let vector = concat!(
        "a7",                       // map(7)
        claims_before_the_input!(),
        "3a00013884", "40",         // -80005: h''  <-
        ueid!(),
    );
    claims_refused(vector, Error::Unexpected("1 to 16 float32 inputs"));
}

/// The input as a CBOR float (major type 7), not float32 bytes.
#[test]
#[rustfmt::skip]
fn claims_refuse_an_input_that_is_not_a_byte_string() {
    let vector = concat!(
        "a7",                       // map(7)
        claims_before_the_input!(),
        "3a00013884", "fa3f400000", // -80005: 0.75 as a float32 item  <-
        ueid!(),
    );
    claims_refused(vector, Error::Unexpected("a byte string"));
}

/// The input's length in a 1-byte argument.
#[test]
#[rustfmt::skip]
fn claims_refuse_a_long_input_head() {
    let vector = concat!(
        "a7",                         // map(7)
        claims_before_the_input!(),
        "3a00013884", "58040000403f", // -80005: bstr(4) as 58 04  <-
        ueid!(),
    );
    claims_refused(vector, Error::NonPreferred);
}

/// The input's label -80005 in an 8-byte argument.
#[test]
#[rustfmt::skip]
fn claims_refuse_a_long_input_label() {
    let vector = concat!(
        "a7",                                       // map(7)
        claims_before_the_input!(),
        "3b0000000000013884", "440000403f",         // -80005 as 3b 00..01 38 84  <-
        ueid!(),
    );
    claims_refused(vector, Error::NonPreferred);
}

/// The input twice (the second in the UEID's place, the map's count unchanged).
#[test]
#[rustfmt::skip]
fn claims_refuse_the_input_twice() {
    let vector = concat!(
        "a7",                       // map(7)
        claims_before_the_input!(),
        "3a00013884", "440000403f", // -80005: h'0000403F'
        "3a00013884", "440000403f", // -80005 again  <-
    );
    claims_refused(vector, Error::Unexpected("each claim once"));
}

/// Claims without the input, as results were made before `-80005` (6 claims).
#[test]
#[rustfmt::skip]
fn claims_refuse_the_format_without_the_input() {
    let vector = concat!(
        "a6",                       // map(6)  <-
        claims_before_the_input!(),
        ueid!(),                    // (no -80005)  <-
    );
    claims_refused(vector, Error::Unexpected("a map of 7 or 8 claims"));
}

/// Without the input but with a nonce: seven claims, one of them not the input.
#[test]
#[rustfmt::skip]
fn claims_refuse_a_nonce_in_place_of_the_input() {
    let vector = concat!(
        "a7",                                  // map(7)
        claims_before_the_input!(),
        "0a", "506e6f6e63652d30313233343536373839", // 10: h'6E6F...39' ("nonce-0123456789")  <-
        ueid!(),
    );
    claims_refused(vector, Error::Unexpected("all required claims"));
}

#[test]
fn claims_refuse_a_long_counter() {
    let values = 1.0f32.to_le_bytes();
    let (out, n) = super::encoded(&super::claims(&values, None));
    let good = &out[..n];
    // -80004 (3a 00 01 38 83) then the counter 7 (07): the same 7 as 18 07.
    let at = good.windows(6).position(|w| w == [0x3a, 0x00, 0x01, 0x38, 0x83, 0x07]).unwrap() + 5;
    let mut long = good[..at].to_vec();
    long.extend([0x18, 0x07]);
    long.extend(&good[at + 1..]);
    assert!(Claims::decode(good).is_ok());
    assert_eq!(Claims::decode(&long), Err(Error::NonPreferred));
}

/// Every head width for an argument the width before would hold, for each major type
/// the formats use; the shortest forms at each width's lower bound are accepted.
#[test]
fn decoder_refuses_every_longer_head() {
    for long in [
        "1805",               // 5 in 1 byte
        "190005",             // 5 in 2 bytes
        "1a00000005",         // 5 in 4 bytes
        "1b0000000000000005", // 5 in 8 bytes
        "1817",               // 23 in 1 byte
        "1900ff",             // 255 in 2 bytes
        "1a0000ffff",         // 65535 in 4 bytes
        "1b00000000ffffffff", // 2^32 - 1 in 8 bytes
    ] {
        let bytes = hex(long);
        assert_eq!(Decoder::new(&bytes).uint(), Err(Error::NonPreferred), "uint {long}");
        assert_eq!(Decoder::new(&bytes).int(), Err(Error::NonPreferred), "int {long}");
        // The same argument as a negative integer, a map, an array and a tag head.
        for major in [0x20u8, 0x80, 0xa0, 0xc0] {
            let mut other = bytes.clone();
            other[0] |= major;
            let mut d = Decoder::new(&other);
            let read = match major {
                0x20 => d.int().map(|_| ()),
                0x80 => d.array().map(|_| ()),
                0xa0 => d.map().map(|_| ()),
                _ => d.tag().map(|_| ()),
            };
            assert_eq!(read, Err(Error::NonPreferred), "major {major:#04x} {long}");
        }
    }
    for (short, value) in
        [("17", 23), ("1818", 24), ("1901 00", 256), ("1a00010000", 65536), ("1b0000000100000000", 1 << 32)]
    {
        let bytes = hex(&short.replace(' ', ""));
        assert_eq!(Decoder::new(&bytes).uint(), Ok(value), "{short}");
    }
}
