//! `azure` end to end on loopback: the real `device-sim` provisioned by the real
//! `bootstrap-ca`, the project's mosquitto configuration, and `mosquitto_sub` /
//! `mosquitto_pub` as the second, independent MQTT client holding the
//! cloud-consumer credential (CN `cloud-consumer`, clientAuth, from `bootstrap-ca
//! credential`).
//!
//! Needs Debian's `mosquitto` and `mosquitto-clients` (`cargo xtask test` installs
//! them) and `openssl`.

mod common;

use common::mqtt::{client_credential, counter, publish, subscriber, Device, World};
use common::Guard;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The `topic payload` lines the subscriber printed.
fn messages(path: &Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(t, p)| (t.to_owned(), unhex(p.trim())))
        .collect()
}

/// A result's counter and nonce (SIGN1, decoded with cose-results).
fn claims(payload: &[u8]) -> (u64, Option<Vec<u8>>) {
    let sign1 = cose_results::Sign1::decode(payload).expect("a COSE_Sign1");
    assert_eq!(sign1.signature.len(), 64);
    let claims = cose_results::Claims::decode(sign1.payload).expect("the claims");
    assert_eq!(claims.model, "sine");
    (claims.counter, claims.nonce.map(<[u8]>::to_vec))
}

/// Readable memory of process `pid` (as root, through procfs), region by region.
fn contains_in_memory(pid: u32, needle: &[u8]) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else { continue };
        if !perms.starts_with('r') || line.contains("[vvar]") || line.contains("[vsyscall]") {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let (start, end) = (u64::from_str_radix(start, 16).unwrap(), u64::from_str_radix(end, 16).unwrap());
        let mut region = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_err() || mem.read_exact(&mut region).is_err() {
            continue;
        }
        if region.windows(needle.len()).any(|w| w == needle) {
            return true;
        }
    }
    false
}

/// The 0x5001 private scalar of a device with TF-M's dummy HUK and no label extra,
/// computed as tools/identity_kat.py derives keys (docs/key-derivation.md).
fn client_tls_scalar() -> Vec<u8> {
    let python = std::env::var("SI_PYTHON").unwrap_or_else(|_| "python3".into());
    let tools = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools");
    let script = "import sys; sys.path.insert(0, sys.argv[1]); import identity_kat as k\n\
                  huk = bytes(list(range(16)) * 2)\n\
                  secret = k.hkdf_sha256(huk, (444).to_bytes(4, 'little', signed=True), 32)\n\
                  c = int.from_bytes(k.hkdf_sha256(secret, k.LABELS['5001'].encode() + b'\\0', 48), 'big')\n\
                  print((c % (k.N - 1) + 1).to_bytes(32, 'big').hex())";
    let out = Command::new(python).args(["-c", script, tools]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    unhex(String::from_utf8(out.stdout).unwrap().trim())
}

fn children(pid: u32) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    text.split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

#[test]
fn results_reach_a_second_client_signed_with_one_tls_signature_and_no_key_in_the_ns_process() {
    let w = World::start("azure", false);
    let sub_out = w.dir.join("sub.txt");
    let mut sub = subscriber(&w.ca, &w.cloud, w.broker.port, "cloud-test", &sub_out);
    std::thread::sleep(Duration::from_millis(300));
    let mut dev = Device::start(&w.dir.join("state"), &w.ca, w.ca_port, &["--azure-period", "1"]);
    // Without certificates `azure start` refuses, naming what is missing.
    dev.send("azure start");
    dev.until("key 0x5001 has no certificate", Duration::from_secs(10));
    dev.send("keys ca 5001");
    dev.until("Stored in Protected Storage", Duration::from_secs(20));
    dev.send("azure start");
    dev.until("key 0x5002 has no certificate", Duration::from_secs(10));
    dev.send("keys ca 5002");
    dev.until("Stored in Protected Storage: uid 0x5ec1ce2700005002", Duration::from_secs(20));
    dev.send("info uuid");
    let uuid = dev.until("-4", Duration::from_secs(5)).trim().to_owned();
    dev.send("azure start");
    dev.send("azure wait 3 30");
    dev.until("3 results acknowledged", Duration::from_secs(40));

    // The NS process holds no 0x5001 private key; its secure process does (the
    // scan finds what is there), and the NS process holds its UUID (it reads).
    let scalar = client_tls_scalar();
    let ns = dev.child.id();
    let secure = children(ns);
    assert_eq!(secure.len(), 1, "one secure process");
    assert!(contains_in_memory(secure[0], &scalar), "the scan finds the key in the secure process");
    assert!(contains_in_memory(ns, uuid.as_bytes()), "the scan reads the NS process");
    assert!(!contains_in_memory(ns, &scalar), "the 0x5001 private key is in the NS process");

    // A nonce request from the cloud is answered with a result bound to it.
    let nonce: Vec<u8> = (0..16).map(|i| 0xa0 + i).collect();
    let request = w.dir.join("nonce.cbor");
    std::fs::write(&request, [&[0xa1, 0x01, 0x50][..], &nonce].concat()).unwrap();
    let devicebound = format!("devices/{uuid}/messages/devicebound/");
    assert!(publish(&w.ca, &w.cloud, w.broker.port, &devicebound, &request));
    // Anything else on devicebound is counted and ignored.
    let junk = w.dir.join("junk");
    std::fs::write(&junk, b"hello").unwrap();
    assert!(publish(&w.ca, &w.cloud, w.broker.port, &devicebound, &junk));

    // Another device's credential (a CA-issued certificate with another UUID) cannot
    // publish on this device's topic; on its own it can.
    let other = "9b2e0b4c-1f1e-4d7a-8c3b-2a1d0e9f8a7b";
    let other_cred = client_credential(&w.ca, &w.dir, other);
    let forged = w.dir.join("forged");
    std::fs::write(&forged, b"forged result").unwrap();
    assert!(publish(&w.ca, &other_cred, w.broker.port, &format!("devices/{uuid}/messages/events/"), &forged));
    assert!(publish(
        &w.ca,
        &other_cred,
        w.broker.port,
        &format!("devices/{other}/messages/events/"),
        &forged
    ));

    for command in ["azure wait 6 30", "azure status", "azure stop", "azure status"] {
        dev.send(command);
    }
    // The refused `azure start`s fail the script.
    let text = dev.finish(false);
    std::thread::sleep(Duration::from_millis(500));
    let _ = sub.kill();
    let _ = sub.wait();
    assert!(text.contains("TLS:          handshakes 1, signatures (TLS_SIGN) 1"), "{text}");
    assert!(text.contains("devicebound:  nonce requests 1, ignored 1"), "{text}");
    assert!(text.contains("certificate sent 1 acked 1"), "{text}");

    let got = messages(&sub_out);
    let events = format!("devices/{uuid}/messages/events/");
    let cert_topic = format!("{events}type=cose-cert");
    // The certificate first, then the results.
    assert_eq!(got[0].0, cert_topic, "{got:?}");
    let cert = &got[0].1;
    assert_eq!(cert[0], 0x30, "a DER certificate");
    let results: Vec<_> = got.iter().filter(|(t, _)| *t == events).map(|(_, p)| claims(p)).collect();
    let acked = counter(&text, "acked ");
    assert!(results.len() as u64 >= acked.min(6), "{} results for {acked} acked", results.len());
    let counters: Vec<u64> = results.iter().map(|(c, _)| *c).collect();
    for pair in counters.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "counters contiguous: {counters:?}");
    }
    assert_eq!(
        results.iter().filter(|(_, n)| n.as_deref() == Some(&nonce[..])).count(),
        1,
        "the nonce's result"
    );
    // The forged message never reached the consumer; the other device's own did.
    assert!(!got.iter().any(|(t, p)| *t == events && p == b"forged result"));
    assert!(got
        .iter()
        .any(|(t, p)| *t == format!("devices/{other}/messages/events/") && p == b"forged result"));
    eprintln!(
        "azure: {} results received by mosquitto_sub, counters {}..={}, 1 handshake, 1 TLS_SIGN, nonce answered",
        results.len(),
        counters[0],
        counters[counters.len() - 1]
    );
}

#[test]
fn a_broker_restart_loses_nothing_below_the_queue_bound_and_counts_the_overflow() {
    let mut w = World::start("azure-restart", false);
    let sub_a = w.dir.join("sub-a.txt");
    let sub_b = w.dir.join("sub-b.txt");
    let mut sub = subscriber(&w.ca, &w.cloud, w.broker.port, "cloud-restart", &sub_a);
    std::thread::sleep(Duration::from_millis(300));
    let mut dev =
        Device::start(&w.dir.join("state"), &w.ca, w.ca_port, &["--azure-period", "1", "--azure-queue", "4"]);
    for command in ["keys ca 5001", "keys ca 5002", "azure start", "azure wait 2 30"] {
        dev.send(command);
    }
    dev.until("2 results acknowledged", Duration::from_secs(60));
    // A clean stop (SIGTERM): mosquitto saves the consumer's persistent session.
    w.broker.stop();
    let _ = sub.wait_timeout_or_kill(Duration::from_secs(3));
    // Down for 7 s at one result a second with 4 slots: some are not made.
    std::thread::sleep(Duration::from_secs(7));
    w.broker.restart().unwrap();
    let mut sub = subscriber(&w.ca, &w.cloud, w.broker.port, "cloud-restart", &sub_b);
    for command in ["azure wait 9 60", "azure status", "azure stop"] {
        dev.send(command);
    }
    let text = dev.finish(true);
    std::thread::sleep(Duration::from_millis(1000));
    let _ = sub.kill();
    let _ = sub.wait();
    let overflowed = counter(&text, "overflowed ");
    let acked = counter(&text, "acked ");
    let redelivered = counter(&text, "redelivered ");
    assert!(overflowed >= 1, "the full queue was counted:\n{text}");
    assert!(counter(&text, "reconnects ") >= 1, "{text}");
    let mut got = messages(&sub_a);
    got.extend(messages(&sub_b));
    let events: Vec<_> =
        got.iter().filter(|(t, _)| t.ends_with("/messages/events/")).map(|(_, p)| claims(p).0).collect();
    let mut counters = events.clone();
    counters.sort_unstable();
    let dups = counters.len() - {
        counters.dedup();
        counters.len()
    };
    // Every result the device made arrived: contiguous counters, as many as acked.
    for pair in counters.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "counters contiguous: {counters:?}\n{text}");
    }
    assert!(counters.len() as u64 >= acked, "{} distinct results for {acked} acked:\n{text}", counters.len());
    // QoS 1 may deliver twice what the device sent again after the reconnect, and, on
    // the broker's leg, what the consumer got just before the broker stopped and the
    // broker had not seen acknowledged (its persistent session sends it again). Any
    // duplicate beyond the device's redeliveries must be of the second kind: one of the
    // last results the first consumer received, received again by the second.
    let events_of = |path: &Path| -> Vec<u64> {
        messages(path)
            .iter()
            .filter(|(t, _)| t.ends_with("/messages/events/"))
            .map(|(_, p)| claims(p).0)
            .collect()
    };
    let (first, second) = (events_of(&sub_a), events_of(&sub_b));
    let last_of_first = &first[first.len().saturating_sub(2)..];
    let broker_redelivered = last_of_first.iter().filter(|c| second.contains(c)).count() as u64;
    assert!(
        dups as u64 <= redelivered + broker_redelivered,
        "{dups} duplicates, {redelivered} redelivered by the device, {broker_redelivered} by the broker"
    );
    assert!(
        got.iter().filter(|(t, _)| t.ends_with("type=cose-cert")).count() >= 2,
        "a certificate per connection"
    );
    eprintln!(
        "azure restart: {} results, counters {}..={} contiguous, {overflowed} overflowed while down, {dups} duplicates ({redelivered} redelivered)",
        counters.len(),
        counters[0],
        counters[counters.len() - 1]
    );
}

trait WaitOrKill {
    fn wait_timeout_or_kill(&mut self, within: Duration) -> bool;
}

impl WaitOrKill for Guard {
    /// Whether the process ended by itself within `within`; killed otherwise.
    fn wait_timeout_or_kill(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.kill();
        let _ = self.wait();
        false
    }
}
