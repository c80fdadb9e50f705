use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn refused(format: Format, body: &[u8]) -> String {
    match decode_cr(format, body) {
        Err(Error::Refused(Refusal::BadBody, reason)) => reason,
        other => panic!("{body:02x?}: expected BadBody, got {other:?}"),
    }
}

#[test]
fn cr_cbor_is_an_array_of_one_byte_string() {
    // 81: array(1); 42: bstr(2); 30 00: the "CSR".
    assert_eq!(decode_cr(Format::Cbor, &hex("81 42 3000")).unwrap(), [0x30, 0x00]);
    // A two-byte length head (59 0002) is still a definite-length bstr.
    assert_eq!(decode_cr(Format::Cbor, &hex("81 59 0002 3000")).unwrap(), [0x30, 0x00]);
}

#[test]
fn cr_cbor_decode_failures() {
    let cases = [
        ("", "empty"),
        ("ff00 676172626167 65", "not CBOR"), // garbage: a break code first
        ("42 3000", "not bytes"),             // a bare bstr, no array
        ("a1 01 42 3000", "not map"),         // a map
        ("80", "0 items"),                    // []
        ("82 42 3000 01", "2 items"),         // [csr, 1]
        ("81 63 616263", "not string"),       // [tstr]
        ("81", "ends before"),                // truncated: no item
        ("81 42 30", "truncated"),            // truncated bstr
        ("81 42 3000 00", "1 bytes follow"),  // trailing byte
        ("9f 42 3000 ff", "definite length"), // indefinite array
        ("81 5f 42 3000 ff", "definite length"), // indefinite bstr
    ];
    for (body, words) in cases {
        let reason = refused(Format::Cbor, &hex(body));
        assert!(reason.contains(words), "{body}: {reason}");
    }
}

#[test]
fn cr_json_is_liteboots_csr_member() {
    assert_eq!(decode_cr(Format::Json, br#"{"CSR":"MAA="}"#).unwrap(), [0x30, 0x00]);
    // Go's decoder matches member names in any case.
    assert_eq!(decode_cr(Format::Json, br#"{"csr":"MAA=","other":1}"#).unwrap(), [0x30, 0x00]);
}

#[test]
fn cr_json_decode_failures() {
    for (body, words) in [
        (&br#"{"CSR":"MAA=","csr":"MAA="}"#[..], "more than one"),
        (br#"{"cert":"MAA="}"#, "no \"CSR\""),
        (br#"{"CSR":12}"#, "base64 string"),
        (br#"{"CSR":"MAA"}"#, "base64"),
        (br#"{"CSR":"M A="}"#, "base64"),
        (br#"["MAA="]"#, "JSON object"),
        (br#"{"CSR":"MAA=""#, "not JSON"),
        (b"\xa1", "not JSON"),
    ] {
        let reason = refused(Format::Json, body);
        assert!(reason.contains(words), "{body:?}: {reason}");
    }
}

#[test]
fn replies_in_cbor_byte_for_byte() {
    // {1: 0, 2: h'3000'}: the order the original device's decoder requires.
    assert_eq!(encode_cert(Format::Cbor, &[0x30, 0x00]), hex("a2 01 00 02 42 3000"));
    // {1: 5, 5: "no"}
    assert_eq!(encode_error(Format::Cbor, Refusal::Subject, "no"), hex("a2 01 05 05 62 6e6f"));
    // {1: "localhost", 2: 8883}
    assert_eq!(encode_ccs(Format::Cbor, "localhost", 8883), hex("a2 01 69 6c6f63616c686f7374 02 19 22b3"));
    assert_eq!(encode_cs(Format::Cbor, true), hex("a1 01 01"));
    assert_eq!(encode_cs(Format::Cbor, false), hex("a1 01 00"));
    // {1: 0, 2: null}
    assert_eq!(encode_ds(Format::Cbor, &[]), hex("a2 01 00 02 f6"));
    // {1: 1, 2: [7, 2(h'010000000000000000')]}: 2^64 as a bignum.
    assert_eq!(encode_ds(Format::Cbor, &[7, 1 << 64]), hex("a2 01 01 02 82 07 c2 49 010000000000000000"));
    assert_eq!(encode_cc(Format::Cbor, "P"), hex("a2 01 00 02 61 50"));
}

#[test]
fn replies_in_json_with_liteboots_names() {
    let json = |b: Vec<u8>| serde_json::from_slice::<serde_json::Value>(&b).unwrap();
    assert_eq!(
        json(encode_cert(Format::Json, &[0x30, 0x00])),
        serde_json::json!({"Status": 0, "Cert": "MAA="})
    );
    assert_eq!(
        json(encode_error(Format::Json, Refusal::TooLarge, "big")),
        serde_json::json!({"Status": 9, "Reason": "big"})
    );
    assert_eq!(json(encode_ccs(Format::Json, "hub", 1)), serde_json::json!({"Hubname": "hub", "Port": 1}));
    assert_eq!(encode_ds(Format::Json, &[]), br#"{"Status":0,"Serials":null}"#);
    assert_eq!(
        encode_ds(Format::Json, &[1, u128::MAX]),
        format!(r#"{{"Status":1,"Serials":[1,{}]}}"#, u128::MAX).as_bytes()
    );
}

#[test]
fn formats_by_header() {
    assert_eq!(body_format(Some("application/cbor")), Some(Format::Cbor));
    assert_eq!(body_format(Some("Application/CBOR; charset=x")), Some(Format::Cbor));
    assert_eq!(body_format(None), Some(Format::Json));
    assert_eq!(body_format(Some("application/json")), Some(Format::Json));
    assert_eq!(body_format(Some("text/plain")), None);
    assert_eq!(reply_format(Some("application/cbor"), None), Format::Cbor);
    assert_eq!(reply_format(None, Some("text/html, application/cbor")), Format::Cbor);
    assert_eq!(reply_format(None, Some("*/*")), Format::Cbor);
    assert_eq!(reply_format(None, None), Format::Cbor);
    assert_eq!(reply_format(None, Some("application/json")), Format::Json);
    assert_eq!(reply_format(Some("application/json"), None), Format::Json);
    assert_eq!(reply_format(Some("application/json"), Some("application/cbor")), Format::Cbor);
}

#[test]
fn multipart_form_field() {
    let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nno\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"csrfile\"; filename=\"r.pem\"\r\nContent-Type: application/octet-stream\r\n\r\nPEM\r\nTEXT\r\n--XyZ--\r\n";
    let ct = "multipart/form-data; boundary=XyZ";
    assert_eq!(form_field(ct, body, "csrfile"), Some(&b"PEM\r\nTEXT"[..]));
    assert_eq!(form_field(ct, body, "missing"), None);
    assert_eq!(form_field("multipart/form-data", body, "csrfile"), None);
    assert_eq!(form_field(ct, b"--XyZ\r\nbroken", "csrfile"), None);
    // A boundary whose delimiter overlaps itself.
    assert_eq!(form_field("multipart/form-data; boundary=-", b"------\r\n", "csrfile"), None);
}

#[test]
fn pem_csrs() {
    let pem = "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n";
    assert_eq!(decode_pem_csr(pem.as_bytes()).unwrap(), [0x30, 0x00]);
    let cert = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
    assert!(matches!(decode_pem_csr(cert.as_bytes()), Err(Error::Refused(Refusal::BadBody, _))));
    assert!(matches!(decode_pem_csr(b"MAA="), Err(Error::Refused(Refusal::BadBody, _))));
}

#[test]
fn serials_decimal_or_hex() {
    assert_eq!(parse_serial("1648935985023194000"), Some(1_648_935_985_023_194_000));
    assert_eq!(parse_serial("0x10"), Some(16));
    assert_eq!(parse_serial(&u128::MAX.to_string()), Some(u128::MAX));
    for bad in [
        "",
        "0",
        "0x",
        "-1",
        "1e3",
        "0xg",
        "340282366920938463463374607431768211456",
        "0x1ffffffffffffffffffffffffffffffff",
    ] {
        assert_eq!(parse_serial(bad), None, "{bad}");
    }
}
