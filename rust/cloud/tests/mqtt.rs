//! `cloud listen` and `cloud nonce` against a real broker (Debian's mosquitto with the
//! project's broker/mosquitto.conf.in and broker/acl: mutual TLS on 127.0.0.1, identity
//! from the certificate, an ACL by identity), with the CA of a
//! real `bootstrap-ca init`, a device certificate that the real `device-sim` got with
//! `keys ca 5002`, and the device's genuine results published by `mosquitto_pub`, an
//! independent MQTT client standing in for the device's transport (its client
//! certificate, CN = the UUID, made with openssl from the CA key).
//!
//! The workspace's `bootstrap-ca` and `device-sim` binaries sit beside `cloud` (`cargo
//! test --workspace` builds them); a `cargo test -p cloud` alone builds them first.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const MISSING: &str =
    "needs Debian's mosquitto, mosquitto-clients and openssl (cargo xtask test installs them)";

/// Kills its process when dropped (a failed test leaves nothing running).
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A workspace binary beside `cloud`, built if missing.
fn sibling(name: &str) -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_cloud")).with_file_name(name);
    if !exe.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo).args(["build", "--quiet", "-p", name]).status().unwrap();
        assert!(status.success() && exe.exists(), "cannot build {name} ({})", exe.display());
    }
    exe
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} ({MISSING})"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits (at most `secs`) for `ready`.
fn wait_for(secs: u64, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The CA (a real `bootstrap-ca init`), the broker, and the client certificates.
struct World {
    dir: tempfile::TempDir,
    port: u16,
    _broker: Guard,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        run(Command::new(sibling("bootstrap-ca")).arg("init").arg("--dir").arg(dir.path().join("ca")));
        let world = World { port: free_port(), _broker: Guard(Command::new("true").spawn().unwrap()), dir };
        // The cloud consumer's credential as the CA issues it (OU Service, clientAuth).
        run(Command::new(sibling("bootstrap-ca"))
            .args(["credential", "--cn", "cloud-consumer", "--dir"])
            .arg(world.path("ca"))
            .arg("--out-dir")
            .arg(world.dir.path()));
        for kind in ["crt", "key"] {
            let from = world.path(&format!("cloud-consumer.{kind}.pem"));
            std::fs::rename(from, world.path(&format!("cloud.{kind}.pem"))).unwrap();
        }
        // The project's broker configuration and ACL (broker/, docs/mqtt.md), filled in
        // as device_sim::broker does.
        let acl = world.path("acl");
        std::fs::copy(workspace().join("broker/acl"), &acl).unwrap();
        let ca = world.path("ca");
        let template = std::fs::read_to_string(workspace().join("broker/mosquitto.conf.in")).unwrap();
        let user = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "root".into());
        let conf = template
            .replace("@USER@", &user)
            .replace("@STATE@", &world.dir.path().display().to_string())
            .replace("@PORT@", &world.port.to_string())
            .replace("@CAFILE@", &ca.join("ca.crt.pem").display().to_string())
            .replace("@CERTFILE@", &ca.join("server.crt.pem").display().to_string())
            .replace("@KEYFILE@", &ca.join("server.key.pem").display().to_string())
            .replace("@ACLFILE@", &acl.display().to_string());
        std::fs::write(world.path("mosquitto.conf"), conf).unwrap();
        let broker = Command::new("mosquitto")
            .arg("-c")
            .arg(world.path("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("mosquitto: {e} ({MISSING})"));
        let world = World { _broker: Guard(broker), ..world };
        wait_for(10, "mosquitto", || TcpStream::connect(("127.0.0.1", world.port)).is_ok());
        world
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `name.crt.pem`, `name.key.pem`: a P-256 key certified by the CA with `subject`.
    fn client_cert(&self, name: &str, subject: &str, eku: Option<&str>) {
        let (key, csr, ext) = (self.path(&format!("{name}.key.pem")), self.path("req.csr"), self.path("ext"));
        run(Command::new("openssl")
            .args([
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
            ])
            .arg(&key)
            .args(["-subj", subject, "-out"])
            .arg(&csr));
        let mut extensions =
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n".to_owned();
        if let Some(eku) = eku {
            extensions += &format!("extendedKeyUsage={eku}\n");
        }
        std::fs::write(&ext, extensions).unwrap();
        let ca = self.path("ca");
        run(Command::new("openssl")
            .args(["x509", "-req", "-days", "1", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(ca.join("ca.crt.pem"))
            .arg("-CAkey")
            .arg(ca.join("ca.key.pem"))
            .arg("-CAcreateserial")
            .arg("-CAserial")
            .arg(self.path("ca.srl"))
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(self.path(&format!("{name}.crt.pem"))));
    }

    /// `mosquitto_pub` as `who` (a client certificate made by `client_cert`), QoS 1.
    fn publish(&self, who: &str, topic: &str, payload: &[u8]) {
        let file = self.path("payload.bin");
        std::fs::write(&file, payload).unwrap();
        run(self.mqtt_client("mosquitto_pub", who).args(["-q", "1", "-t", topic, "-f"]).arg(&file));
    }

    fn mqtt_client(&self, program: &str, who: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(["-h", "localhost", "-p", &self.port.to_string(), "--cafile"])
            .arg(self.path("ca/ca.crt.pem"))
            .arg("--cert")
            .arg(self.path(&format!("{who}.crt.pem")))
            .arg("--key")
            .arg(self.path(&format!("{who}.key.pem")));
        cmd
    }

    /// The cloud's MQTT options: broker, CA, client certificate, store.
    fn cloud_args(&self) -> Vec<String> {
        let p = |name: &str| self.path(name).to_str().unwrap().to_owned();
        vec![
            "--broker".into(),
            format!("localhost:{}", self.port),
            "--ca".into(),
            p("ca/ca.crt.pem"),
            "--cert".into(),
            p("cloud.crt.pem"),
            "--key".into(),
            p("cloud.key.pem"),
            "--db".into(),
            p("cloud.db"),
            "--recipient-key".into(),
            workspace().join("keys/demo-recipient.pem").to_str().unwrap().to_owned(),
        ]
    }

    fn cloud(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cloud")).args(args).output().unwrap()
    }
}

/// A running `cloud listen` and the lines it printed so far.
struct Listener {
    _child: Guard,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Listener {
    fn start(world: &World) -> Listener {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cloud"))
            .arg("listen")
            .args(world.cloud_args())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let collect = |pipe: Box<dyn std::io::Read + Send>| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(line);
                }
            });
            lines
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        let listener = Listener { _child: Guard(child), stdout, stderr };
        listener.wait_err(10, "subscribed to devices/+/messages/events/# (QoS 1)");
        listener
    }

    fn wait_err(&self, secs: u64, text: &str) {
        let stderr = self.stderr.clone();
        wait_for(secs, text, || stderr.lock().unwrap().iter().any(|l| l.contains(text)));
    }

    fn err_count(&self, text: &str) -> usize {
        self.stderr.lock().unwrap().iter().filter(|l| l.contains(text)).count()
    }

    fn stdout_len(&self) -> usize {
        self.stdout.lock().unwrap().len()
    }
}

/// The device: `keys ca 5002` against the real bootstrap CA, its certificate (DER),
/// then `infer get` rounds; returns the certificate and the results, in order.
fn device_results(world: &World) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut ca = Guard(
        Command::new(sibling("bootstrap-ca"))
            .arg("serve")
            .arg("--dir")
            .arg(world.path("ca"))
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(ca.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().rsplit(':').next().unwrap().to_owned();
    let out = run(Command::new(sibling("device-sim"))
        .arg("--state")
        .arg(world.path("device"))
        .arg("--bootstrap-creds")
        .arg(world.path("ca"))
        .args(["--bootstrap-server", &format!("localhost:{port}")])
        .args([
            "-c",
            "keys ca 5002; keys cert 5002; infer get sine SIGN1 0 90 10; infer get sine ENCRYPT0 100",
        ]));
    drop(ca);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let pem = &text[text.find("-----BEGIN CERTIFICATE-----").unwrap()..];
    let pem = &pem[..pem.find("-----END CERTIFICATE-----").unwrap() + 25];
    let der = {
        use x509_cert::der::{DecodePem, Encode};
        x509_cert::Certificate::from_pem(pem).unwrap().to_der().unwrap()
    };
    let results =
        text.lines().filter_map(|l| l.strip_prefix("Result (hex): ")).map(|h| hex::decode(h).unwrap());
    (der, results.collect())
}

fn results_json(world: &World) -> Vec<serde_json::Value> {
    let db = world.path("cloud.db");
    let out = world.cloud(&["results", "--db", db.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn refusals(world: &World) -> Vec<String> {
    let db = world.path("cloud.db");
    let out = world.cloud(&["results", "--db", db.to_str().unwrap(), "--refusals", "--json"]);
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["reason"].as_str().unwrap().into())
        .collect()
}

#[test]
fn genuine_results_are_stored_once_forgeries_and_replays_refused_and_a_restart_loses_nothing() {
    let world = World::new();
    let (cert, results) = device_results(&world);
    assert_eq!(results.len(), 11, "10 SIGN1 (0 to 90 degrees) and one ENCRYPT0");
    let uuid = UUID_TEXT; // TF-M's dummy HUK, as device-sim uses by default
    world.client_cert("device", &format!("/O=Linaro/CN={uuid}/OU=Device Client TLS"), Some("clientAuth"));
    let other = "0f4e2a37-1b5c-4d8e-9a6b-3c2d1e0f9a8b";
    world.client_cert("other", &format!("/O=Linaro/CN={other}/OU=Device Client TLS"), Some("clientAuth"));
    let events = format!("devices/{uuid}/messages/events/");
    let cert_topic = format!("{events}type=cose-cert");

    let listener = Listener::start(&world);
    // Another device sends the first one's certificate on its own topic: CN mismatch.
    world.publish("other", &format!("devices/{other}/messages/events/type=cose-cert"), &cert);
    world.publish("device", &cert_topic, &cert);
    listener.wait_err(10, "COSE SIGN certificate registered");
    // Results 0, 1, 2, 4 and 5 (3 is held back), then 1 again (a redelivery).
    for i in [0, 1, 2, 4, 5, 1] {
        world.publish("device", &events, &results[i]);
    }
    // A forgery: result 6 with its signature's last byte changed.
    let mut forged = results[6].clone();
    *forged.last_mut().unwrap() ^= 1;
    world.publish("device", &events, &forged);
    // Held-back result 3, after 5: stale.
    world.publish("device", &events, &results[3]);
    // The (r, n - s) copy of result 5: another payload, the same counter.
    let copy = {
        use p256::ecdsa::Signature;
        let at = results[5].len() - 64;
        let (r, s) = Signature::from_slice(&results[5][at..]).unwrap().split_scalars();
        let flipped = Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
        let mut copy = results[5].clone();
        copy[at..].copy_from_slice(&flipped.to_bytes());
        copy
    };
    world.publish("device", &events, &copy);
    wait_for(10, "5 results stored and 4 refusals", || {
        listener.stdout_len() == 5 && refusals(&world).len() == 4
    });
    assert_eq!(listener.err_count("duplicate of a stored result"), 1);

    // The listener dies (SIGKILL); results 6 to 10 are published meanwhile, and the
    // certificate again as after a reconnect.
    drop(listener);
    world.publish("device", &cert_topic, &cert);
    for result in &results[6..] {
        world.publish("device", &events, result);
    }
    let listener = Listener::start(&world);
    wait_for(10, "the results published while the listener was down", || listener.stdout_len() == 5);
    listener.wait_err(5, "COSE SIGN certificate unchanged");

    let stored = results_json(&world);
    let counters: Vec<u64> = stored.iter().map(|r| r["counter"].as_u64().unwrap()).collect();
    assert_eq!(counters, [0, 1, 2, 4, 5, 6, 7, 8, 9, 10], "each once, in order; 3 refused as stale");
    assert_eq!(stored.last().unwrap()["format"], "ENCRYPT0");
    assert!(stored.iter().all(|r| r["device"] == uuid && r["via"] == "mqtt"));
    // Each carries the input the shell asked about: result c at 10 c degrees, in
    // radians as `infer get` computes them, through signature, encryption and store.
    for r in &stored {
        let degrees = (r["counter"].as_u64().unwrap() * 10) as f32;
        let asked = degrees * std::f32::consts::PI / 180.0;
        assert_eq!(r["inputs"][0].as_f64().map(|x| x as f32), Some(asked), "{r}");
    }
    let reasons = refusals(&world);
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons[0].contains(&format!("subject CN is \"{uuid}\", not the topic's device {other}")),
        "{reasons:?}"
    );
    assert_eq!(reasons[1], "invalid signature");
    assert_eq!(reasons[2], "replayed or stale result: counter 3, last accepted 5");
    assert_eq!(reasons[3], "replayed or stale result: counter 5, last accepted 5");
    // The device's ACL: it cannot publish under another device's topic (mosquitto drops
    // it silently for MQTT 3.1.1), so nothing arrives from there.
    world.publish("device", &format!("devices/{other}/messages/events/"), &results[0]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(refusals(&world).len(), 4);
    drop(listener);
}

#[test]
fn nonce_asks_the_device_and_prints_the_fresh_result() {
    let world = World::new();
    // The device stand-in: its COSE SIGN key certified by the CA (as keys ca 5002 gets
    // it), signing results for UUID_TEXT with a nonce it reads from devicebound.
    world.client_cert(
        "device",
        &format!("/O=Linaro/CN={UUID_TEXT}/OU=Device Client TLS"),
        Some("clientAuth"),
    );
    world.client_cert("cose", &format!("/O=Linaro/CN={UUID_TEXT}/OU=Device COSE SIGN"), None);
    let cose_pem = std::fs::read_to_string(world.path("cose.crt.pem")).unwrap();
    let der = {
        use x509_cert::der::{DecodePem, Encode};
        x509_cert::Certificate::from_pem(&cose_pem).unwrap().to_der().unwrap()
    };
    let key: p256::ecdsa::SigningKey = p256::pkcs8::DecodePrivateKey::from_pkcs8_pem(
        &std::fs::read_to_string(world.path("cose.key.pem")).unwrap(),
    )
    .unwrap();
    let listener = Listener::start(&world);
    world.publish("device", &format!("devices/{UUID_TEXT}/messages/events/type=cose-cert"), &der);
    listener.wait_err(10, "COSE SIGN certificate registered");

    // The device's side: wait for one devicebound message, answer with a fresh result.
    let mut sub = Guard(
        world
            .mqtt_client("mosquitto_sub", "device")
            .args([
                "-q",
                "1",
                "-C",
                "1",
                "-F",
                "%x",
                "-t",
                &format!("devices/{UUID_TEXT}/messages/devicebound/#"),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let sub_out = sub.0.stdout.take().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut args = vec!["nonce".to_owned()];
    args.extend(world.cloud_args());
    args.extend(["--device".into(), UUID_TEXT.into(), "--timeout".into(), "10".into()]);
    let asking = Command::new(env!("CARGO_BIN_EXE_cloud"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut request = String::new();
    BufReader::new(sub_out).read_line(&mut request).unwrap();
    let request = hex::decode(request.trim()).unwrap();
    // CBOR {1: bstr(16)}: a1 01 50 <nonce>
    assert_eq!((&request[..3], request.len()), (&[0xa1, 0x01, 0x50][..], 19), "{request:02x?}");
    let nonce = &request[3..];
    let stale = sign1(&key, 7, None);
    let fresh = sign1(&key, 8, Some(nonce));
    world.publish("device", &format!("devices/{UUID_TEXT}/messages/events/"), &stale);
    world.publish("device", &format!("devices/{UUID_TEXT}/messages/events/"), &fresh);
    let out = asking.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (printed["counter"].as_u64(), printed["nonce"].as_str()),
        (Some(8), Some(hex::encode(nonce).as_str()))
    );
    // The listener stored both (or found them stored by `nonce`): each once.
    wait_for(10, "the listener's copies", || listener.err_count("duplicate") + listener.stdout_len() == 2);
    let counters: Vec<u64> = results_json(&world).iter().map(|r| r["counter"].as_u64().unwrap()).collect();
    assert_eq!(counters, [7, 8]);

    // No answer: exit 1 within the timeout, with the reason.
    let mut args = args.clone();
    let n = args.len();
    args[n - 1] = "1".into();
    let out = Command::new(env!("CARGO_BIN_EXE_cloud")).args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no result carrying nonce"));
}
