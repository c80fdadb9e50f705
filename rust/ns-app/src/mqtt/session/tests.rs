//! The session against canned broker bytes: what it sends is decoded with the codec
//! and compared; time is a number the test advances.

extern crate std;
use super::*;
use crate::mqtt::Names;
use std::vec::Vec;

const UUID: &str = "3084b338-c39e-4c23-9050-fcb9630afcd0";
const CERT: &[u8] = b"the COSE SIGN certificate";

fn names() -> Names {
    Names::new("hub.example", UUID).unwrap()
}

/// Everything the session has to send now, each packet's bytes.
fn drain(s: &mut Session<'_>, now: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    while let Some(n) = s.transmit(now, &mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

fn publish(bytes: &[u8]) -> Publish<'_> {
    match Packet::decode(bytes).unwrap() {
        Packet::Publish(p) => p,
        other => panic!("not a PUBLISH: {other:?}"),
    }
}

fn connack(code: u8) -> [u8; 4] {
    [0x20, 2, 0, code]
}

fn puback(id: u16) -> [u8; 4] {
    let [hi, lo] = id.to_be_bytes();
    [0x40, 2, hi, lo]
}

fn push(s: &mut Session<'_>, text: &str) -> bool {
    s.push_with(|slot| {
        slot[..text.len()].copy_from_slice(text.as_bytes());
        Some(text.len())
    })
}

/// Connects at `now`: CONNECT out, CONNACK in; returns what follows the CONNACK.
fn connect(s: &mut Session<'_>, now: u64) -> Vec<Vec<u8>> {
    assert_eq!(s.poll(now), Action::Connect);
    s.opened(now);
    let sent = drain(s, now);
    assert_eq!(sent.len(), 1);
    assert!(matches!(Packet::decode(&sent[0]), Ok(Packet::Connect(_))));
    s.receive(now, &connack(0));
    drain(s, now)
}

#[test]
fn connect_sends_the_azure_names_then_the_certificate_then_subscribes() {
    let names = names();
    let mut slots = [Slot::EMPTY; 4];
    let mut s = Session::new(Config::new(&names, CERT), &mut slots, 42, 0);
    assert_eq!(s.poll(0), Action::Connect);
    s.opened(0);
    let sent = drain(&mut s, 0);
    assert_eq!(
        Packet::decode(&sent[0]),
        Ok(Packet::Connect(codec::Connect {
            client_id: UUID,
            username: Some("hub.example/3084b338-c39e-4c23-9050-fcb9630afcd0/?api-version=2021-04-12"),
            password: None,
            keep_alive: 60,
            clean_session: false,
            will: None,
        }))
    );
    // Nothing more before the CONNACK, even with a result queued.
    assert!(push(&mut s, "r1"));
    assert!(drain(&mut s, 0).is_empty());
    s.receive(5, &connack(0));
    let sent = drain(&mut s, 5);
    assert_eq!(sent.len(), 3);
    let cert = publish(&sent[0]);
    assert_eq!(
        (cert.topic, cert.payload, cert.qos, cert.dup, cert.retain, cert.packet_id),
        (
            "devices/3084b338-c39e-4c23-9050-fcb9630afcd0/messages/events/type=cose-cert",
            CERT,
            QoS::AtLeastOnce,
            false,
            false,
            Some(1)
        )
    );
    assert_eq!(
        Packet::decode(&sent[1]),
        Ok(Packet::Subscribe {
            packet_id: 2,
            filter: "devices/3084b338-c39e-4c23-9050-fcb9630afcd0/messages/devicebound/#",
            qos: QoS::AtLeastOnce
        })
    );
    let r = publish(&sent[2]);
    assert_eq!(
        (r.topic, r.payload, r.packet_id, r.dup),
        ("devices/3084b338-c39e-4c23-9050-fcb9630afcd0/messages/events/", &b"r1"[..], Some(3), false)
    );
    s.receive(6, &[0x90, 3, 0, 2, 1]);
    s.receive(6, &puback(1));
    s.receive(6, &puback(3));
    let st = s.stats();
    assert_eq!(
        (
            st.connected,
            st.connections,
            st.published,
            st.acked,
            st.queued,
            st.certificates,
            st.certificates_acked
        ),
        (true, 1, 1, 1, 0, 1, 1)
    );
}

#[test]
fn unacknowledged_results_go_again_with_dup_and_their_ids_after_a_reconnect() {
    let names = names();
    let mut slots = [Slot::EMPTY; 8];
    let mut s = Session::new(Config::new(&names, CERT), &mut slots, 42, 0);
    for r in ["a", "b", "c"] {
        assert!(push(&mut s, r));
    }
    let sent = connect(&mut s, 0);
    // certificate 1, subscribe 2, results 3, 4, 5.
    let ids: Vec<_> = sent[2..].iter().map(|p| publish(p).packet_id.unwrap()).collect();
    assert_eq!(ids, [3, 4, 5]);
    // Only "a" is acknowledged (the certificate not), then the connection breaks.
    s.receive(10, &puback(3));
    s.closed(20, Detail::from_text("connection reset"));
    let st = s.stats();
    assert_eq!((st.connected, st.failures, st.queued), (false, 1, 2));
    assert_eq!(st.last_error, Some(Reason::Transport(Detail::from_text("connection reset"))));
    let Action::Wait { until_ms } = s.poll(20) else { panic!() };
    // The first wait is 500 to 1000 ms.
    assert!((520..=1020).contains(&until_ms), "{until_ms}");
    assert!(push(&mut s, "d"));
    let sent = connect(&mut s, until_ms);
    let packets: Vec<_> = sent.iter().map(|b| Packet::decode(b).unwrap()).collect();
    // The certificate again with DUP and id 1, a new SUBSCRIBE, "b" and "c" with DUP
    // and ids 4 and 5, then "d" new (id 6 went to the SUBSCRIBE).
    let Packet::Publish(cert) = packets[0] else { panic!() };
    assert_eq!((cert.payload, cert.dup, cert.packet_id), (CERT, true, Some(1)));
    assert!(matches!(packets[1], Packet::Subscribe { .. }));
    let results: Vec<_> = packets[2..]
        .iter()
        .map(|p| match p {
            Packet::Publish(p) => (p.payload, p.dup, p.packet_id.unwrap()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(results, [(&b"b"[..], true, 4), (&b"c"[..], true, 5), (&b"d"[..], false, 7)]);
    for id in [1, 4, 5, 7] {
        s.receive(until_ms + 1, &puback(id));
    }
    let st = s.stats();
    assert_eq!(
        (st.connections, st.published, st.redelivered, st.acked, st.queued, st.certificates),
        (2, 4, 2, 4, 0, 2)
    );
}

#[test]
fn a_full_queue_counts_the_results_it_could_not_take_and_makes_none_of_them() {
    let names = names();
    let mut slots = [Slot::EMPTY; 4];
    let mut s = Session::new(Config::new(&names, CERT), &mut slots, 42, 0);
    for i in 0..4 {
        assert!(push(&mut s, &std::format!("r{i}")));
    }
    let mut made = 0;
    for _ in 0..3 {
        assert!(!s.push_with(|_| {
            made += 1;
            Some(1)
        }));
    }
    assert_eq!(made, 0, "no result is made without a slot for it");
    assert_eq!((s.stats().overflowed, s.stats().queued), (3, 4));
    // A producer that fails queues nothing and is no overflow.
    let sent = connect(&mut s, 0);
    let payloads: Vec<_> = sent[2..].iter().map(|p| publish(p).payload.to_vec()).collect();
    assert_eq!(payloads, [b"r0".to_vec(), b"r1".to_vec(), b"r2".to_vec(), b"r3".to_vec()]);
    s.receive(1, &puback(3));
    assert!(s.has_room());
    assert!(!s.push_with(|_| None));
    assert_eq!((s.stats().overflowed, s.stats().queued), (3, 3));
    assert!(push(&mut s, "r4"));
    assert_eq!(publish(&drain(&mut s, 1)[0]).payload, b"r4");
}

#[test]
fn acks_out_of_order_free_slots_only_from_the_oldest() {
    let names = names();
    let mut slots = [Slot::EMPTY; 3];
    let mut s = Session::new(Config::new(&names, CERT), &mut slots, 42, 0);
    for r in ["a", "b", "c"] {
        push(&mut s, r);
    }
    connect(&mut s, 0);
    s.receive(1, &puback(4));
    s.receive(1, &puback(5));
    assert_eq!((s.stats().acked, s.stats().queued), (2, 3));
    // An unknown id changes nothing.
    s.receive(1, &puback(77));
    assert_eq!((s.stats().acked, s.stats().queued), (2, 3));
    s.receive(1, &puback(3));
    assert_eq!((s.stats().acked, s.stats().queued), (3, 0));
}

#[test]
fn no_more_than_max_in_flight_unacknowledged() {
    let names = names();
    let mut slots = [Slot::EMPTY; 8];
    let mut config = Config::new(&names, CERT);
    config.max_in_flight = 2;
    let mut s = Session::new(config, &mut slots, 42, 0);
    for r in ["a", "b", "c", "d"] {
        push(&mut s, r);
    }
    let sent = connect(&mut s, 0);
    assert_eq!(sent.len(), 4, "certificate, subscribe, two results");
    s.receive(1, &puback(3));
    let sent = drain(&mut s, 1);
    assert_eq!(publish(&sent[0]).payload, b"c");
    assert_eq!(sent.len(), 1);
}

#[test]
fn the_backoff_of_seed_42_is_pinned() {
    let names = names();
    let mut slots = [Slot::EMPTY; 1];
    let mut s = Session::new(Config::new(&names, CERT), &mut slots, 42, 0);
    let waits: Vec<u32> = (1..=8).map(|n| s.backoff_ms(n)).collect();
    // Windows 1, 2, 4, 8, 16, 30, 30, 30 s: each wait is in the window's upper half.
    assert_eq!(waits, PINNED_42);
    for (n, w) in (1..).zip(&waits) {
        let window = (1000u32 << (n - 1)).min(30_000);
        assert!((window / 2..=window).contains(w), "attempt {n}: {w}");
    }
    // The same seed, the same waits; another seed, others.
    let mut one = [Slot::EMPTY; 1];
    let mut again = Session::new(Config::new(&names, CERT), &mut one, 42, 0);
    assert_eq!((1..=8).map(|n| again.backoff_ms(n)).collect::<Vec<_>>(), waits);
    let mut two = [Slot::EMPTY; 1];
    let mut other = Session::new(Config::new(&names, CERT), &mut two, 43, 0);
    assert_ne!((1..=8).map(|n| other.backoff_ms(n)).collect::<Vec<_>>(), waits);
}

/// Computed once by this code and kept: a change to the jitter's stream shows here.
const PINNED_42: [u32; 8] = [573, 1313, 2168, 4542, 15279, 23040, 24816, 24120];

#[test]
fn failed_attempts_wait_longer_each_time_and_a_connack_resets_the_wait() {
    let names = names();
    let mut slots = [Slot::EMPTY; 1];
    let mut s = Session::new(Config::new(&names, CERT), &mut slots, 42, 0);
    let mut one = [Slot::EMPTY; 1];
    let mut expected = Session::new(Config::new(&names, CERT), &mut one, 42, 0);
    let mut now = 0;
    for n in 1..=4 {
        assert_eq!(s.poll(now), Action::Connect);
        s.closed(now, Detail::from_text("refused"));
        let Action::Wait { until_ms } = s.poll(now) else { panic!() };
        assert_eq!(until_ms - now, u64::from(expected.backoff_ms(n)), "attempt {n}");
        // Polling early changes nothing.
        assert_eq!(s.poll(until_ms - 1), Action::Wait { until_ms });
        now = until_ms;
    }
    connect(&mut s, now);
    s.closed(now, Detail::from_text("reset"));
    let Action::Wait { until_ms } = s.poll(now) else { panic!() };
    assert_eq!(until_ms - now, u64::from(expected.backoff_ms(1)));
    assert_eq!(s.stats().failures, 5);
}

#[test]
fn a_refused_connack_closes_and_retries() {
    let names = names();
    let mut slots = [Slot::EMPTY; 1];
    let mut s = Session::new(Config::new(&names, CERT), &mut slots, 42, 0);
    assert_eq!(s.poll(0), Action::Connect);
    s.opened(0);
    drain(&mut s, 0);
    s.receive(1, &connack(5));
    assert_eq!(s.stats().last_error, Some(Reason::Refused(5)));
    assert_eq!(s.poll(1), Action::Close);
    assert!(matches!(s.poll(1), Action::Wait { .. }));
    assert_eq!(std::format!("{}", Reason::Refused(5)), "CONNACK refused: 5 (not authorized)");
}

#[test]
fn no_connack_in_time_closes() {
    let names = names();
    let mut slots = [Slot::EMPTY; 1];
    let mut s = Session::new(Config::new(&names, CERT), &mut slots, 42, 0);
    s.poll(0);
    s.opened(0);
    drain(&mut s, 0);
    assert_eq!(s.poll(9_999), Action::Wait { until_ms: 10_000 });
    assert_eq!(s.poll(10_000), Action::Close);
    assert_eq!(s.stats().last_error, Some(Reason::ConnAckTimeout));
}

#[test]
fn keep_alive_pings_and_a_missing_pingresp_closes() {
    let names = names();
    let mut slots = [Slot::EMPTY; 1];
    let mut s = Session::new(Config::new(&names, CERT), &mut slots, 42, 0);
    connect(&mut s, 0);
    s.receive(0, &puback(1));
    assert_eq!(s.poll(1), Action::Wait { until_ms: 60_000 });
    assert!(drain(&mut s, 59_999).is_empty());
    assert_eq!(drain(&mut s, 60_000), [std::vec![0xc0, 0]]);
    s.receive(60_010, &[0xd0, 0]);
    assert_eq!(s.poll(60_010), Action::Wait { until_ms: 120_000 });
    assert_eq!(drain(&mut s, 120_000), [std::vec![0xc0, 0]]);
    assert_eq!(s.poll(125_000), Action::Wait { until_ms: 130_000 });
    assert_eq!(s.poll(130_000), Action::Close);
    assert_eq!(s.stats().last_error, Some(Reason::PingTimeout));
    assert_eq!(s.stats().pings, 2);
}

fn devicebound(id: u16, topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 2048];
    let p = Publish { dup: false, qos: QoS::AtLeastOnce, retain: false, topic, packet_id: Some(id), payload };
    let n = Packet::Publish(p).encode(&mut buf).unwrap();
    buf[..n].to_vec()
}

#[test]
fn devicebound_nonce_requests_are_kept_and_everything_else_acked_and_counted() {
    let names = names();
    let mut slots = [Slot::EMPTY; 1];
    let mut s = Session::new(Config::new(&names, CERT), &mut slots, 42, 0);
    connect(&mut s, 0);
    let topic = "devices/3084b338-c39e-4c23-9050-fcb9630afcd0/messages/devicebound/";
    let mut request = std::vec![0xa1, 0x01, 0x50];
    request.extend([9u8; 16]);
    let mut stream = Vec::new();
    stream.extend(devicebound(100, topic, &request));
    stream.extend(devicebound(101, topic, b"not a nonce request"));
    // Another device's topic (a broker without our ACL) is not a request.
    stream.extend(devicebound(102, "devices/other/messages/devicebound/", &request));
    // Too large to hold: acknowledged from its head, the rest skipped.
    stream.extend(devicebound(103, topic, &[0u8; 1500]));
    stream.extend(devicebound(104, &std::format!("{topic}x?y=z"), &request));
    // One byte at a time, as a slow link delivers it.
    for b in &stream {
        s.receive(1, core::slice::from_ref(b));
    }
    assert_eq!(s.take_nonce().map(|n| n.as_bytes().to_vec()), Some([9u8; 16].to_vec()));
    assert_eq!(s.take_nonce().map(|n| n.as_bytes().to_vec()), Some([9u8; 16].to_vec()));
    assert!(s.take_nonce().is_none());
    let st = s.stats();
    assert_eq!((st.nonce_requests, st.devicebound_ignored, st.connected), (2, 3, true));
    let sent = drain(&mut s, 1);
    let acks: Vec<_> = sent.iter().map(|b| Packet::decode(b).unwrap()).collect();
    assert_eq!(acks, (100..=104).map(Packet::PubAck).collect::<Vec<_>>());
}

#[test]
fn malformed_or_unexpected_bytes_close_the_connection() {
    for bad in
        [&[0x20u8, 2, 0, 0, 0xf0, 0][..], &[0x20, 2, 0, 0, 0x30, 0x80, 0x00], &[0x20, 2, 0, 0, 0x10, 0]]
    {
        let names = names();
        let mut slots = [Slot::EMPTY; 1];
        let mut s = Session::new(Config::new(&names, CERT), &mut slots, 42, 0);
        s.poll(0);
        s.opened(0);
        drain(&mut s, 0);
        s.receive(1, bad);
        assert_eq!(s.poll(1), Action::Close, "{bad:02x?}");
        assert!(
            matches!(s.stats().last_error, Some(Reason::Protocol(_) | Reason::Unexpected(_))),
            "{bad:02x?}"
        );
    }
    // A PUBLISH before the CONNACK.
    let names = names();
    let mut slots = [Slot::EMPTY; 1];
    let mut s = Session::new(Config::new(&names, CERT), &mut slots, 42, 0);
    s.poll(0);
    s.opened(0);
    drain(&mut s, 0);
    s.receive(1, &[0x30, 4, 0, 1, b'a', b'x']);
    assert_eq!(s.stats().last_error, Some(Reason::Unexpected(3)));
}

#[test]
fn stop_waits_for_the_acks_in_flight_then_disconnects() {
    let names = names();
    let mut slots = [Slot::EMPTY; 4];
    let mut s = Session::new(Config::new(&names, CERT), &mut slots, 42, 0);
    push(&mut s, "a");
    connect(&mut s, 0);
    push(&mut s, "b");
    s.stop(1);
    // "b" is not sent; "a" (id 3) is awaited.
    assert!(drain(&mut s, 1).is_empty());
    s.receive(2, &puback(3));
    assert_eq!(drain(&mut s, 2), [std::vec![0xe0, 0]]);
    assert_eq!(s.poll(2), Action::Close);
    assert_eq!(s.poll(2), Action::Stopped);
    assert_eq!(s.stats().queued, 1);
    // Stopped while down: at once.
    let mut slots = [Slot::EMPTY; 1];
    let mut s = Session::new(Config::new(&names, CERT), &mut slots, 42, 0);
    s.stop(0);
    assert_eq!(s.poll(0), Action::Stopped);
}

#[test]
fn stop_gives_up_on_missing_acks_after_the_response_timeout() {
    let names = names();
    let mut slots = [Slot::EMPTY; 4];
    let mut s = Session::new(Config::new(&names, CERT), &mut slots, 42, 0);
    push(&mut s, "a");
    connect(&mut s, 0);
    s.stop(100);
    assert_eq!(s.poll(100), Action::Wait { until_ms: 10_100 });
    assert!(drain(&mut s, 10_099).is_empty());
    assert_eq!(drain(&mut s, 10_100), [std::vec![0xe0, 0]]);
    assert_eq!(s.poll(10_100), Action::Close);
    assert_eq!(s.poll(10_100), Action::Stopped);
}
