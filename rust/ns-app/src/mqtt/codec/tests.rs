//! Vectors from the MQTT 3.1.1 standard (OASIS, 2014) where it gives them (the
//! remaining-length table 2.4, the non-normative figures of sections 3.1, 3.3, 3.8,
//! 3.9), the rest written from the packet layouts; a decode failure per packet type.

extern crate std;
use super::*;

fn hex(s: &str) -> std::vec::Vec<u8> {
    let s: std::string::String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn encode(p: &Packet<'_>) -> std::vec::Vec<u8> {
    let mut buf = [0u8; 600];
    let n = p.encode(&mut buf).unwrap();
    assert_eq!(n, p.encoded_len().unwrap());
    buf[..n].to_vec()
}

/// Encodes `p`, checks the bytes, and decodes them back to `p`.
fn round_trip(p: Packet<'_>, want: &str) {
    let bytes = encode(&p);
    assert_eq!(bytes, hex(want), "{p:?}");
    assert_eq!(Packet::decode(&bytes), Ok(p));
}

#[test]
fn remaining_length_forms_of_table_2_4() {
    for (n, form) in [
        (0, "00"),
        (127, "7f"),
        (128, "8001"),
        (16_383, "ff7f"),
        (16_384, "808001"),
        (2_097_151, "ffff7f"),
        (2_097_152, "80808001"),
        (268_435_455, "ffffff7f"),
    ] {
        let mut bytes = std::vec![0x30];
        bytes.extend(hex(form));
        let h = header(&bytes).unwrap().unwrap();
        assert_eq!((h.remaining, h.header_len), (n, 1 + form.len() / 2), "{form}");
        let mut w = [0u8; 5];
        let mut writer = Writer { buf: &mut w, at: 0 };
        writer.header(0x30, n);
        let at = writer.at;
        assert_eq!(&w[..at], &bytes[..], "{n}");
    }
}

#[test]
fn remaining_length_refused_when_longer_than_needed_or_five_bytes() {
    // 0 as "80 00", 127 as "ff 00", 128 as "80 81 00": a longer form than needed.
    for bad in ["3080 00", "30ff00", "30808100", "30ffffffff7f", "3080808080"] {
        assert_eq!(header(&hex(bad)), Err(DecodeError::RemainingLength), "{bad}");
    }
    // Incomplete: more is needed, not an error.
    assert_eq!(header(&hex("30")), Ok(None));
    assert_eq!(header(&hex("3080")), Ok(None));
    assert_eq!(header(&[]), Ok(None));
}

#[test]
fn connect_of_the_device() {
    // Figure 3.6's variable header: 00 04 "MQTT", level 4, then the flags and
    // keep-alive of this connect: user name (0x80), clean session 0, 60 s.
    round_trip(
        Packet::Connect(Connect {
            client_id: "c",
            username: Some("h/c/?api-version=2021-04-12"),
            password: None,
            keep_alive: 60,
            clean_session: false,
            will: None,
        }),
        // CONNECT, 42 bytes; "MQTT", level 4; flags: user name; keep-alive 60;
        // client id "c"; the user name.
        "10 2a 0004 4d515454 04 80 003c 0001 63
         001b 682f632f3f6170692d76657273696f6e3d323032312d30342d3132",
    );
}

#[test]
fn connect_of_figure_3_6_with_will_and_password() {
    // Figure 3.6: flags 0xCE = user name, password, will QoS 1, will, clean
    // session; keep-alive 10.
    round_trip(
        Packet::Connect(Connect {
            client_id: "id",
            username: Some("u"),
            password: Some(b"p"),
            keep_alive: 10,
            clean_session: true,
            will: Some(("w", b"bye", QoS::AtLeastOnce, false)),
        }),
        "10 1c 0004 4d515454 04 ce 000a 0002 6964 0001 77 0003 627965 0001 75 0001 70",
    );
}

#[test]
fn connect_decode_failures() {
    let good = hex("10 0d 0004 4d515454 04 02 003c 0001 63");
    assert!(Packet::decode(&good).is_ok());
    let with = |at: usize, b: u8| {
        let mut v = good.clone();
        v[at] = b;
        v
    };
    // Protocol name "MQTS", level 3, reserved flag, password without user, will QoS
    // without will, will retain without will.
    for bad in [with(7, b'S'), with(8, 3), with(9, 0x03), with(9, 0x42), with(9, 0x0a), with(9, 0x22)] {
        assert_eq!(Packet::decode(&bad), Err(DecodeError::Connect), "{bad:02x?}");
    }
    // Flags in the fixed header.
    assert_eq!(Packet::decode(&with(0, 0x11)), Err(DecodeError::Flags { packet_type: 1, flags: 1 }));
    // Empty client id with clean session 0.
    assert_eq!(Packet::decode(&hex("10 0c 0004 4d515454 04 00 003c 0000")), Err(DecodeError::Connect));
    // A client id holding U+0000, and one that is not UTF-8.
    assert_eq!(Packet::decode(&with(14, 0)), Err(DecodeError::Utf8));
    assert_eq!(Packet::decode(&with(14, 0xff)), Err(DecodeError::Utf8));
    // A string longer than the packet, and a byte after the last field.
    assert_eq!(Packet::decode(&with(12, 2)), Err(DecodeError::Length { packet_type: 1 }));
    let mut long = good.clone();
    long[1] += 1;
    long.push(0);
    assert_eq!(Packet::decode(&long), Err(DecodeError::Length { packet_type: 1 }));
}

#[test]
fn connack_and_its_failures() {
    round_trip(Packet::ConnAck { session_present: false, code: 0 }, "20 02 00 00");
    round_trip(Packet::ConnAck { session_present: true, code: 0 }, "20 02 01 00");
    round_trip(Packet::ConnAck { session_present: false, code: 5 }, "20 02 00 05");
    for bad in ["20 02 02 00", "20 02 00 06", "20 02 01 05"] {
        assert_eq!(Packet::decode(&hex(bad)), Err(DecodeError::ConnAck), "{bad}");
    }
    assert_eq!(Packet::decode(&hex("20 03 00 00 00")), Err(DecodeError::Length { packet_type: 2 }));
    assert_eq!(Packet::decode(&hex("20 01 00")), Err(DecodeError::Length { packet_type: 2 }));
    assert_eq!(Packet::decode(&hex("21 02 00 00")), Err(DecodeError::Flags { packet_type: 2, flags: 1 }));
    // The buffer shorter than the header says.
    assert_eq!(Packet::decode(&hex("20 02 00")), Err(DecodeError::Length { packet_type: 2 }));
}

#[test]
fn publish_of_figure_3_11() {
    // Figure 3.11: topic "a/b", packet id 10; payload "hi".
    round_trip(
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "a/b",
            packet_id: Some(10),
            payload: b"hi",
        }),
        "32 09 0003 612f62 000a 6869",
    );
    round_trip(
        Packet::Publish(Publish {
            dup: true,
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: "a/b",
            packet_id: Some(10),
            payload: b"",
        }),
        "3b 07 0003 612f62 000a",
    );
    round_trip(
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "a/b",
            packet_id: None,
            payload: b"x",
        }),
        "30 06 0003 612f62 78",
    );
}

#[test]
fn publish_decode_failures() {
    // QoS 3; DUP at QoS 0; packet id 0; wildcards and an empty topic; topic past
    // the end.
    assert_eq!(Packet::decode(&hex("36 07 0003 612f62 000a")), Err(DecodeError::Qos));
    assert_eq!(Packet::decode(&hex("38 05 0003 612f62")), Err(DecodeError::Qos));
    assert_eq!(Packet::decode(&hex("32 07 0003 612f62 0000")), Err(DecodeError::PacketIdZero));
    assert_eq!(Packet::decode(&hex("30 05 0003 612f2b")), Err(DecodeError::Topic));
    assert_eq!(Packet::decode(&hex("30 05 0003 612f23")), Err(DecodeError::Topic));
    assert_eq!(Packet::decode(&hex("30 02 0000")), Err(DecodeError::Topic));
    assert_eq!(Packet::decode(&hex("30 05 0004 612f62")), Err(DecodeError::Length { packet_type: 3 }));
    assert_eq!(Packet::decode(&hex("32 05 0003 612f62")), Err(DecodeError::Length { packet_type: 3 }));
    assert_eq!(Packet::decode(&hex("30 05 0003 61ff62")), Err(DecodeError::Utf8));
}

#[test]
fn publish_head_of_a_prefix() {
    let bytes = hex("32 09 0003 612f62 000a 6869");
    assert_eq!(publish_head(bytes[0], &bytes[2..9]), Ok(("a/b", QoS::AtLeastOnce, Some(10))));
    assert_eq!(publish_head(bytes[0], &bytes[2..7]), Err(DecodeError::Length { packet_type: 3 }));
    assert_eq!(publish_head(0x20, &bytes[2..]), Err(DecodeError::Unsupported(2)));
}

#[test]
fn puback_and_its_failures() {
    round_trip(Packet::PubAck(0x1234), "40 02 1234");
    assert_eq!(Packet::decode(&hex("40 02 0000")), Err(DecodeError::PacketIdZero));
    assert_eq!(Packet::decode(&hex("40 03 0001 00")), Err(DecodeError::Length { packet_type: 4 }));
    assert_eq!(Packet::decode(&hex("42 02 0001")), Err(DecodeError::Flags { packet_type: 4, flags: 2 }));
}

#[test]
fn subscribe_of_figure_3_22_and_its_failures() {
    // Figure 3.22's first filter: "a/b" QoS 1; packet id 10 (Figure 3.21).
    round_trip(
        Packet::Subscribe { packet_id: 10, filter: "a/b", qos: QoS::AtLeastOnce },
        "82 08 000a 0003 612f62 01",
    );
    // Flags other than 0b0010 (3.8.1), a QoS byte with reserved bits, an empty filter.
    assert_eq!(
        Packet::decode(&hex("80 08 000a 0003 612f62 01")),
        Err(DecodeError::Flags { packet_type: 8, flags: 0 })
    );
    assert_eq!(Packet::decode(&hex("82 08 000a 0003 612f62 05")), Err(DecodeError::Qos));
    assert_eq!(Packet::decode(&hex("82 05 000a 0000 01")), Err(DecodeError::Topic));
    assert_eq!(Packet::decode(&hex("82 08 0000 0003 612f62 01")), Err(DecodeError::PacketIdZero));
}

#[test]
fn suback_of_figure_3_26_and_its_failures() {
    round_trip(Packet::SubAck { packet_id: 10, code: 1 }, "90 03 000a 01");
    round_trip(Packet::SubAck { packet_id: 10, code: 0x80 }, "90 03 000a 80");
    assert_eq!(Packet::decode(&hex("90 03 000a 03")), Err(DecodeError::SubAck));
    // Two return codes: the device subscribes to one filter.
    assert_eq!(Packet::decode(&hex("90 04 000a 0001")), Err(DecodeError::Length { packet_type: 9 }));
    assert_eq!(Packet::decode(&hex("92 03 000a 01")), Err(DecodeError::Flags { packet_type: 9, flags: 2 }));
}

#[test]
fn empty_packets_and_their_failures() {
    round_trip(Packet::PingReq, "c0 00");
    round_trip(Packet::PingResp, "d0 00");
    round_trip(Packet::Disconnect, "e0 00");
    assert_eq!(Packet::decode(&hex("d0 01 00")), Err(DecodeError::Length { packet_type: 13 }));
    assert_eq!(Packet::decode(&hex("c0 01 00")), Err(DecodeError::Length { packet_type: 12 }));
    assert_eq!(Packet::decode(&hex("e1 00")), Err(DecodeError::Flags { packet_type: 14, flags: 1 }));
}

#[test]
fn reserved_and_unsupported_types_are_refused() {
    assert_eq!(Packet::decode(&hex("00 00")), Err(DecodeError::ReservedType(0)));
    assert_eq!(Packet::decode(&hex("f0 00")), Err(DecodeError::ReservedType(15)));
    for (first, t) in [(0x50, 5), (0x62, 6), (0x70, 7), (0xa2, 10), (0xb0, 11)] {
        assert_eq!(Packet::decode(&[first, 2, 0, 1]), Err(DecodeError::Unsupported(t)));
    }
    assert_eq!(Packet::decode(&[]), Err(DecodeError::Length { packet_type: 0 }));
}

#[test]
fn encoding_refuses_what_mqtt_forbids() {
    let p = |qos, packet_id, dup| {
        Packet::Publish(Publish { dup, qos, retain: false, topic: "t", packet_id, payload: b"" })
    };
    let mut buf = [0u8; 64];
    for bad in [
        p(QoS::AtMostOnce, Some(1), false),
        p(QoS::AtMostOnce, None, true),
        p(QoS::AtLeastOnce, None, false),
        p(QoS::AtLeastOnce, Some(0), false),
    ] {
        assert_eq!(bad.encode(&mut buf), Err(EncodeError::Invalid), "{bad:?}");
    }
    let no_user = Packet::Connect(Connect {
        client_id: "c",
        username: None,
        password: Some(b"p"),
        keep_alive: 0,
        clean_session: true,
        will: None,
    });
    assert_eq!(no_user.encode(&mut buf), Err(EncodeError::Invalid));
    assert_eq!(Packet::PubAck(1).encode(&mut buf[..3]), Err(EncodeError::BufferTooSmall));
    let long = [b'a'; 70_000];
    let topic = core::str::from_utf8(&long).unwrap();
    let big = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic,
        packet_id: None,
        payload: b"",
    });
    assert_eq!(big.encoded_len(), Err(EncodeError::TooLong));
}

#[test]
fn a_payload_of_200_bytes_takes_a_two_byte_length() {
    let payload = [7u8; 200];
    let p = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: "a/b",
        packet_id: Some(1),
        payload: &payload,
    });
    let bytes = encode(&p);
    // 2 + 3 + 2 + 200 = 207 = 0xcf 0x01.
    assert_eq!(&bytes[..3], &[0x32, 0xcf, 0x01]);
    assert_eq!(Packet::decode(&bytes), Ok(p));
}
