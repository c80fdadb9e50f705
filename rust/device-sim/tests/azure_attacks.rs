//! Attacks the broker refuses in the TLS handshake (issue #15): a revoked device
//! certificate, an expired one, and certificates of another CA. The real `bootstrap-ca`
//! (its `revoke` and `crl`), the project's mosquitto configuration with the CA's CRL
//! (`device_sim::broker::Broker::start_with_crl`, SIGHUP to read a new one), the real
//! device's `azure` commands, and `mosquitto_pub -d` as a plain TLS client, which
//! prints the alert the broker sent. After each refusal the broker still serves the
//! cloud consumer (`bootstrap-ca credential --cn cloud-consumer`).
//!
//! Needs Debian's `mosquitto` and `mosquitto-clients` (`cargo xtask test` installs
//! them) and `openssl`.

mod common;

use common::mqtt::{bca, client_credential, make_crl, service_credential, tls_args, Device, World};
use common::Guard;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A device's CN and key label: what a device certificate of the CA carries.
const DEVICE_OU: &str = "Device Client TLS";

/// `mosquitto_pub -d` with `cred`, one QoS 1 message to `topic`: (acknowledged, what
/// it printed).
fn publish(w: &World, cred: &(PathBuf, PathBuf), topic: &str) -> (bool, String) {
    let out = Command::new("mosquitto_pub")
        .args(tls_args(&w.ca, cred, w.broker.port))
        .args(["-d", "-q", "1", "-t", topic, "-m", "attack test"])
        .output()
        .expect("mosquitto_pub (Debian package mosquitto-clients)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success() && text.contains("received PUBACK"), text)
}

/// How many clients the broker's log says got past TLS and CONNECT.
fn connected(w: &World) -> usize {
    w.broker.log().matches("New client connected").count()
}

/// `openssl s_client` with `cred` and TLS `version` (`-tls1_2`, `-tls1_3`), its input
/// held open so that it reads until the broker answers or closes: what it printed,
/// once it has ended (at most 10 s; a connection still open then is accepted).
fn s_client(w: &World, cred: &(PathBuf, PathBuf), version: &str) -> String {
    let mut child = Guard(
        Command::new("openssl")
            .args(["s_client", version, "-connect", &format!("127.0.0.1:{}", w.broker.port)])
            .args(["-servername", "localhost", "-CAfile"])
            .arg(w.ca.join("ca.crt.pem"))
            .arg("-cert")
            .arg(&cred.0)
            .arg("-key")
            .arg(&cred.1)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("openssl"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the broker kept the TLS connection of {} open", cred.0.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut text = String::new();
    for stream in [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn Read>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn Read>),
    ] {
        stream.unwrap().read_to_string(&mut text).unwrap();
    }
    text
}

/// The broker refuses `cred` in the TLS handshake of TLS 1.2 and of 1.3 with `alert`
/// (OpenSSL's words) and `mosquitto_pub` with it gets no CONNACK; no client connects
/// meanwhile; then it still serves the cloud consumer.
fn refused_in_tls(w: &World, cred: &(PathBuf, PathBuf), topic_id: &str, alert: &str) {
    let before = connected(w);
    for version in ["-tls1_2", "-tls1_3"] {
        let text = s_client(w, cred, version);
        assert!(text.contains(alert), "{version}: not refused with {alert:?}:\n{text}");
    }
    let (ok, text) = publish(w, cred, &format!("devices/{topic_id}/messages/events/"));
    assert!(!ok && !text.contains("received CONNACK"), "the broker accepted it:\n{text}");
    assert_eq!(connected(w), before, "{}", w.broker.log());
    assert!(w.broker.log().contains("certificate verify failed"), "{}", w.broker.log());
    still_serving(w);
}

/// The broker process is alive and the cloud consumer's credential connects and
/// publishes a nonce request (QoS 1, acknowledged).
fn still_serving(w: &World) {
    let pid = w.broker.pid().expect("the broker runs");
    assert!(Path::new(&format!("/proc/{pid}")).exists(), "mosquitto {pid} ended:\n{}", w.broker.log());
    let topic = "devices/00000000-0000-4000-8000-000000000000/messages/devicebound/";
    let (ok, text) = publish(w, &w.cloud, topic);
    assert!(ok, "the cloud consumer was not served:\n{text}\n{}", w.broker.log());
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `YYYYMMDDHHMMSSZ` of `now + offset` seconds, for `openssl ca -startdate/-enddate`.
fn asn1_time(offset: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let out =
        Command::new("date").args(["-u", "-d", &format!("@{}", now + offset), "+%Y%m%d%H%M%SZ"]).output();
    String::from_utf8(out.unwrap().stdout).unwrap().trim().to_owned()
}

/// A device certificate (O=Linaro, CN=uuid, OU=Device Client TLS, clientAuth) for a new
/// key, signed by openssl with the CA key of `ca` and valid from `start` to `end`
/// (`asn1_time`): what `bootstrap-ca` would issue, but with dates it never sets.
fn device_certificate(
    ca: &Path,
    dir: &Path,
    name: &str,
    uuid: &str,
    start: &str,
    end: &str,
) -> (PathBuf, PathBuf) {
    let (key, csr, cert) = (
        dir.join(format!("{name}.key.pem")),
        dir.join(format!("{name}.csr")),
        dir.join(format!("{name}.crt.pem")),
    );
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &s(&key),
        "-subj",
        &format!("/O=Linaro/CN={uuid}/OU={DEVICE_OU}"),
        "-out",
        &s(&csr),
    ]);
    // A throwaway `openssl ca` set-up: its database, serial file and policy.
    let work = dir.join(format!("{name}.openssl-ca"));
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("index.txt"), "").unwrap();
    std::fs::write(work.join("serial"), "7E57\n").unwrap();
    let config = format!(
        "[ca]\ndefault_ca = d\n[d]\ndir = {work}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir\n\
         serial = $dir/serial\ncertificate = {ca}/ca.crt.pem\nprivate_key = {ca}/ca.key.pem\n\
         default_md = sha256\npolicy = p\nunique_subject = no\nx509_extensions = e\n\
         [p]\norganizationName = supplied\ncommonName = supplied\norganizationalUnitName = supplied\n\
         [e]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = clientAuth\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
        work = work.display(),
        ca = ca.display(),
    );
    let conf = work.join("ca.cnf");
    std::fs::write(&conf, config).unwrap();
    openssl(&[
        "ca",
        "-batch",
        "-notext",
        "-preserveDN",
        "-config",
        &s(&conf),
        "-startdate",
        start,
        "-enddate",
        end,
        "-in",
        &s(&csr),
        "-out",
        &s(&cert),
    ]);
    (cert, key)
}

/// The output of one `azure status` (a period command after it marks its end).
fn status(dev: &mut Device) -> String {
    let from = dev.text.len();
    dev.send("azure status");
    dev.send("azure period 1");
    dev.until("Publishing period:", Duration::from_secs(10));
    dev.text[from..].to_owned()
}

/// `azure status` until it has `needle` (at most `within`): that status.
fn status_until(dev: &mut Device, needle: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let text = status(dev);
        if text.contains(needle) {
            return text;
        }
        assert!(Instant::now() < deadline, "no {needle:?} in azure status within {within:?}:\n{}", dev.text);
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_revoked_device_certificate_is_refused_in_tls_once_the_broker_has_the_new_crl() {
    let w = World::start("attack-revoked", true);
    let mut dev = Device::start(&w.dir.join("state"), &w.ca, w.ca_port, &["--azure-period", "1"]);
    dev.send("keys ca 5001");
    dev.send("keys ca 5002");
    dev.until("Stored in Protected Storage: uid 0x5ec1ce2700005002", Duration::from_secs(40));
    dev.send("info uuid");
    let uuid = dev.until("-4", Duration::from_secs(5)).trim().to_owned();
    // Before: the device connects and its results are acknowledged.
    dev.send("azure start");
    dev.send("azure wait 1 30");
    dev.until("1 results acknowledged", Duration::from_secs(40));
    dev.send("azure stop");
    dev.until("Stopped.", Duration::from_secs(20));

    // The operator revokes the device; the CA writes a new CRL; the broker reads it.
    let list = bca(&["list", "--dir", w.ca.to_str().unwrap(), "--uuid", &uuid]);
    let serial = list
        .lines()
        .find(|l| l.contains(DEVICE_OU) && l.contains("valid"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no valid 0x5001 certificate:\n{list}"))
        .to_owned();
    let revoked = bca(&["revoke", "--dir", w.ca.to_str().unwrap(), &serial]);
    assert!(revoked.contains(&format!("revoked device {uuid}")), "{revoked}");
    assert!(make_crl(&w.ca, &w.crl).contains("CRL of 2 revoked certificates"));
    w.broker.reload().unwrap();

    // The device's next connection fails: the broker's alert, in the device's status.
    let log_before = w.broker.log().matches(&format!("u'{uuid}')")).count();
    dev.send("azure start");
    let text = status_until(&mut dev, "CertificateRevoked", Duration::from_secs(15));
    assert!(text.contains("received fatal alert: CertificateRevoked"), "{text}");
    assert!(!text.contains("connected to"), "{text}");
    assert!(text.contains(" acked 0,"), "nothing of this run acknowledged:\n{text}");
    eprintln!("{text}");
    dev.send("azure stop");
    dev.finish(true);
    assert_eq!(w.broker.log().matches(&format!("u'{uuid}')")).count(), log_before, "{}", w.broker.log());
    still_serving(&w);
}

#[test]
fn an_expired_device_certificate_is_refused_in_tls() {
    let w = World::start("attack-expired", true);
    let uuid = "5c1d1a3e-0f6b-4a4e-9d3c-7e2b8a6f4d10";
    // Valid for two minutes, ended a minute ago (inside the CA's own validity, which
    // began five minutes before init).
    let expired = device_certificate(&w.ca, &w.dir, "expired", uuid, &asn1_time(-240), &asn1_time(-60));
    refused_in_tls(&w, &expired, uuid, "alert certificate expired");
    // The same subject, key usage and CA with a current validity connects: the expiry
    // is what the broker refused.
    let current = device_certificate(&w.ca, &w.dir, "current", uuid, &asn1_time(-60), &asn1_time(3600));
    let (ok, text) = publish(&w, &current, &format!("devices/{uuid}/messages/events/"));
    assert!(ok, "{text}");
}

#[test]
fn certificates_of_another_ca_are_refused_in_tls() {
    let w = World::start("attack-other-ca", true);
    // Another CA, initialised as ours is (the same organisation, so the same issuer
    // name), with a cloud-consumer credential and a device certificate of its own.
    let other = w.dir.join("other-ca");
    bca(&["init", "--dir", other.to_str().unwrap()]);
    let other_dir = w.dir.join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let cloud = service_credential(&other, &other_dir, "cloud-consumer");
    refused_in_tls(&w, &cloud, "3084b338-c39e-4c23-9050-fcb9630afcd0", "alert unknown ca");
    let uuid = "0b7e3f52-3c1a-4d8e-a1f0-6d2c9b4e7a35";
    let device = client_credential(&other, &other_dir, uuid);
    refused_in_tls(&w, &device, uuid, "alert unknown ca");
    assert!(!w.broker.log().contains(&format!("u'{uuid}'")), "{}", w.broker.log());
}
