//! The whole connected system on loopback, every part a real process (issue #15, "Must
//! show"): `bootstrap-ca` (init with the hub's port, a `cloud-consumer` credential,
//! serve), the project's mosquitto (`device_sim::broker`), `cloud listen` storing into
//! SQLite, and the emulated device, which provisions both certificates from the CA and
//! publishes a result every second. What the cloud stored is read back with `cloud
//! results --json`: every result the broker acknowledged to the device is verified and
//! stored once, the device's counters contiguous from its first, and the device's
//! `azure status` counts one `TLS_SIGN` per TLS handshake. Then the faults, with the same
//! real device and listener: the broker SIGKILLed and restarted while the device
//! publishes, and the listener SIGKILLed and restarted.
//!
//! `bootstrap-ca` and `cloud` are the workspace's binaries beside `device-sim` (built
//! first if missing). Needs Debian's `mosquitto` (`cargo xtask test` installs it).
//! About 20 s: the three tests run side by side, each at one result a second.

mod common;

use common::mqtt::{counter, workspace_binary, Device, World};
use common::Guard;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Results each device publishes (the issue asks for at least 10).
const N: u64 = 10;
const RECIPIENT_KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../keys/demo-recipient.pem");

fn cloud() -> Command {
    workspace_binary("cloud")
}

/// CA, broker and listener; the listener's output goes to `listen-<n>.out/.err`, one
/// pair per start.
struct System {
    world: World,
    db: PathBuf,
    listener: Option<Guard>,
    starts: usize,
}

impl System {
    fn start(name: &str) -> System {
        let world = World::start(name, false);
        let db = world.dir.join("cloud.db");
        let mut system = System { world, db, listener: None, starts: 0 };
        system.listen();
        system
    }

    /// `cloud listen`, returned once it has subscribed.
    fn listen(&mut self) {
        self.starts += 1;
        let out = self.world.dir.join(format!("listen-{}.out", self.starts));
        let err = self.world.dir.join(format!("listen-{}.err", self.starts));
        let child = cloud()
            .arg("listen")
            .args(["--broker", &format!("localhost:{}", self.world.broker.port), "--ca"])
            .arg(self.world.ca.join("ca.crt.pem"))
            .arg("--cert")
            .arg(&self.world.cloud.0)
            .arg("--key")
            .arg(&self.world.cloud.1)
            .arg("--db")
            .arg(&self.db)
            .args(["--recipient-key", RECIPIENT_KEY])
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        self.listener = Some(Guard(child));
        let subscribed = self.starts;
        wait_for(15, "cloud listen to subscribe", || {
            self.listener_said(".err").matches("cloud: subscribed to").count() >= subscribed
        });
    }

    /// SIGKILL: the listener cannot acknowledge or disconnect.
    fn kill_listener(&mut self) {
        drop(self.listener.take());
    }

    /// SIGTERM: the listener acknowledges what it stored and disconnects.
    fn stop_listener(&mut self) {
        if let Some(listener) = self.listener.take() {
            let _ = Command::new("kill").args(["-TERM", &listener.id().to_string()]).status();
            let mut listener = listener;
            let _ = listener.wait();
        }
    }

    /// Everything the listener's starts printed to stdout (".out") or stderr (".err").
    fn listener_said(&self, ext: &str) -> String {
        (1..=self.starts)
            .map(|n| {
                std::fs::read_to_string(self.world.dir.join(format!("listen-{n}{ext}"))).unwrap_or_default()
            })
            .collect()
    }

    /// A device (its own state, `--label-extra` for its own identity) with its shell on
    /// a pipe, publishing every second once `azure start` is sent.
    fn device(&self, name: &str, args: &[&str]) -> Device {
        let mut args = args.to_vec();
        args.extend(["--label-extra", name, "--azure-period", "1"]);
        Device::start(&self.world.dir.join(name), &self.world.ca, self.world.ca_port, &args)
    }

    /// What `cloud results --json` lists: (device, counter, format) per result.
    fn stored(&self) -> Vec<(String, u64, String)> {
        let out = cloud().arg("results").arg("--json").arg("--db").arg(&self.db).output().unwrap();
        assert!(out.status.success(), "cloud results: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                (
                    field(l, "device").to_owned(),
                    field(l, "counter").parse().unwrap(),
                    field(l, "format").to_owned(),
                )
            })
            .collect()
    }

    /// Waits until the store holds at least `n` results of `uuid`.
    fn wait_stored(&self, uuid: &str, n: u64) {
        wait_for(30, &format!("{n} results of {uuid} stored"), || {
            self.stored().iter().filter(|(d, _, _)| d == uuid).count() as u64 >= n
        });
    }
}

/// A string or number field of one JSON line of `cloud results --json` (flat, no
/// escapes in these fields).
fn field<'a>(json: &'a str, key: &str) -> &'a str {
    let at =
        json.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("no {key} in {json}")) + key.len() + 3;
    let rest = &json[at..];
    match rest.strip_prefix('"') {
        Some(text) => &text[..text.find('"').unwrap()],
        None => &rest[..rest.find([',', '}']).unwrap()],
    }
}

fn wait_for(secs: u64, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Provisions both keys from the CA, starts publishing, and returns the UUID.
fn provision_and_start(dev: &mut Device) -> String {
    dev.send("keys ca 5001");
    dev.until("Stored in Protected Storage", Duration::from_secs(20));
    dev.send("keys ca 5002");
    dev.until("Stored in Protected Storage", Duration::from_secs(20));
    dev.send("info uuid");
    let uuid = dev.until("-4", Duration::from_secs(5)).trim().to_owned();
    dev.send("azure start");
    uuid
}

/// Waits until the broker has acknowledged `n` results of this run.
fn acked(dev: &mut Device, n: u64) {
    dev.send(&format!("azure wait {n} 60"));
    dev.until(&format!("{n} results acknowledged"), Duration::from_secs(70));
}

/// Stops the device (`azure stop` waits for what is in flight) and returns its last
/// status.
fn stop(mut dev: Device) -> String {
    dev.send("azure stop");
    dev.finish(true)
}

/// What every run must show for one device: the broker acknowledged `acked` results;
/// the store holds each result the device made at most once, those acknowledged
/// certainly, with the counters contiguous from the device's first (0: a new device);
/// the listener printed each stored result once; one `TLS_SIGN` per handshake.
/// Returns (stored, handshakes, duplicates the listener absorbed).
fn check(system: &System, uuid: &str, status: &str, format: &str) -> (u64, u64, usize) {
    let acked = counter(status, "acked ");
    let made = counter(status, "made ");
    system.wait_stored(uuid, acked);
    let stored = system.stored();
    let mine: Vec<u64> = stored.iter().filter(|(d, _, _)| d == uuid).map(|(_, c, _)| *c).collect();
    assert!(stored.iter().filter(|(d, _, _)| d == uuid).all(|(_, _, f)| f == format), "{stored:?}");
    let expected: Vec<u64> = (0..mine.len() as u64).collect();
    assert_eq!(mine, expected, "counters contiguous from 0, in order, none twice:\n{status}");
    let n = mine.len() as u64;
    assert!(n >= acked && n <= made, "{n} stored, {acked} acknowledged, {made} made:\n{status}");
    // Each stored result printed once (stdout lines across the listener's starts).
    let printed = system.listener_said(".out").lines().filter(|l| l.contains(uuid)).count();
    assert_eq!(printed as u64, n, "the listener stored {n} and printed {printed}");
    let handshakes = counter(status, "handshakes ");
    assert_eq!(handshakes, counter(status, "signatures (TLS_SIGN) "), "{status}");
    assert_eq!(handshakes, counter(status, "connections: "), "a full handshake per connection:\n{status}");
    let duplicates = system
        .listener_said(".err")
        .lines()
        .filter(|l| l.contains("duplicate of a stored result") && l.contains(uuid))
        .count();
    (n, handshakes, duplicates)
}

#[test]
fn results_of_a_sign1_and_an_encrypt0_device_are_verified_and_stored_once() {
    let mut system = System::start("system");
    let trace = system.world.dir.join("sign1.trace");
    let mut sign1 = system.device("sign1", &["--azure-trace", trace.to_str().unwrap()]);
    let mut encrypt0 = system.device("encrypt0", &["--azure-format", "ENCRYPT0"]);
    let sign1_uuid = provision_and_start(&mut sign1);
    let encrypt0_uuid = provision_and_start(&mut encrypt0);
    assert_ne!(sign1_uuid, encrypt0_uuid, "--label-extra gives each device its own identity");
    acked(&mut sign1, N);
    acked(&mut encrypt0, N);
    let (sign1_status, encrypt0_status) = (stop(sign1), stop(encrypt0));
    let (n1, handshakes1, dups1) = check(&system, &sign1_uuid, &sign1_status, "SIGN1");
    let (n2, handshakes2, dups2) = check(&system, &encrypt0_uuid, &encrypt0_status, "ENCRYPT0");
    system.stop_listener();
    // --azure-trace: a line per result written to the broker, the payload's SHA-256 as
    // the cloud stored it.
    let trace = std::fs::read_to_string(&trace).unwrap();
    let out = cloud().args(["results", "--json", "--db"]).arg(&system.db).output().unwrap();
    let stored: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains(&sign1_uuid))
        .map(|l| field(l, "payload_sha256").to_owned())
        .collect();
    assert_eq!(stored.len() as u64, n1);
    assert!(stored.iter().all(|h| trace.contains(&format!(" {h}\n"))), "{trace}");
    assert_eq!(trace.lines().count() as u64, n1, "one write each, no redelivery: {trace}");
    assert_eq!((handshakes1, handshakes2), (1, 1), "one connection each");
    assert_eq!((dups1, dups2), (0, 0), "nothing delivered twice without a fault");
    let refusals = system.listener_said(".err").lines().filter(|l| l.contains("refused")).count();
    assert_eq!(refusals, 0, "{}", system.listener_said(".err"));
    eprintln!("system: SIGN1 {n1} and ENCRYPT0 {n2} results stored once each, counters 0.., 1 handshake and 1 TLS_SIGN each");
}

/// The broker SIGKILLed while the device publishes and started again 2 s later on its
/// persistence. mosquitto saves its database every second (`autosave_interval 1`), so a
/// SIGKILL loses what it received since the last save. What holds anyway: the device
/// forgets a result only after its PUBACK (before it, the result is sent again after
/// the reconnect), and mosquitto hands a QoS 1 PUBLISH to the subscribers' sessions
/// before it sends the publisher's PUBACK (`handle__publish`: `sub__messages_queue`,
/// then `send__puback`); the listener, connected and keeping up (under mosquitto's 20
/// in flight), gets it at once and stores it before it acknowledges. So every result
/// the broker acknowledged is stored, and what the restarted broker delivers again from
/// its last save the listener absorbs as a duplicate (acknowledged, not stored). The
/// kill lands between two results (400 ms after one was acknowledged), where a test can
/// say what must hold; a kill inside the broker's handling of one PUBLISH is not timed.
#[test]
fn a_broker_killed_and_restarted_while_publishing_loses_nothing_and_stores_nothing_twice() {
    let mut system = System::start("system-broker");
    let mut dev = system.device("dev", &[]);
    let uuid = provision_and_start(&mut dev);
    acked(&mut dev, 3);
    // Mid-period: the kill lands at some point between results.
    std::thread::sleep(Duration::from_millis(400));
    system.world.broker.kill();
    std::thread::sleep(Duration::from_secs(2));
    system.world.broker.restart().unwrap();
    acked(&mut dev, N + 2);
    let status = stop(dev);
    assert!(counter(&status, "reconnects ") >= 1, "{status}");
    let (n, handshakes, dups) = check(&system, &uuid, &status, "SIGN1");
    system.stop_listener();
    assert!(
        system.listener_said(".err").matches("cloud: connected").count() >= 2,
        "the listener reconnected"
    );
    assert!(handshakes >= 2, "a handshake per connection: {status}");
    eprintln!(
        "system, broker SIGKILL: {n} results stored once each (counters 0..{n}), {handshakes} handshakes = TLS_SIGN, {dups} redeliveries absorbed"
    );
}

/// The listener SIGKILLed while the device publishes (it acknowledges nothing more) and
/// started again 3 s later: its persistent session kept at the broker what came
/// meanwhile, and what it stored without acknowledging comes again as a duplicate.
#[test]
fn a_listener_killed_and_restarted_while_publishing_loses_nothing() {
    let mut system = System::start("system-listener");
    let mut dev = system.device("dev", &[]);
    let uuid = provision_and_start(&mut dev);
    acked(&mut dev, 3);
    std::thread::sleep(Duration::from_millis(400));
    system.kill_listener();
    std::thread::sleep(Duration::from_secs(3));
    system.listen();
    acked(&mut dev, N + 2);
    let status = stop(dev);
    let (n, handshakes, dups) = check(&system, &uuid, &status, "SIGN1");
    system.stop_listener();
    assert_eq!(handshakes, 1, "the device never lost its connection: {status}");
    assert!(system.listener_said(".err").contains("(session resumed)"), "{}", system.listener_said(".err"));
    eprintln!("system, listener SIGKILL: {n} results stored once each (counters 0..{n}), {dups} redeliveries absorbed");
}
