//! The connected half of the demo: the host services on loopback (a bootstrap CA,
//! mosquitto with the project's configuration, the cloud listener) and the device
//! publishing through them. Every path is relative to the root, so that the transcript
//! shows no machine-specific path.

use crate::Result;
use device_sim::broker::{free_port, Broker};
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The CA's state.
pub const CA_DIR: &str = "target/demo-state/ca";
const BROKER_DIR: &str = "target/demo-state/broker";
const CLOUD_DB: &str = "target/demo-state/cloud.db";
/// The cloud consumer's credential, issued by the CA.
const CLOUD_CERT: &str = "target/demo-state/ca/cloud-consumer.crt.pem";
const CLOUD_KEY: &str = "target/demo-state/ca/cloud-consumer.key.pem";
const RECIPIENT_KEY: &str = "keys/demo-recipient.pem";

/// The CA, the broker and the cloud listener, stopped when dropped.
pub struct System {
    ca: Child,
    ca_port: u16,
    broker: Broker,
    listener: Child,
    /// What the listener printed (results on stdout, the rest on stderr), in order.
    listener_lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for System {
    fn drop(&mut self) {
        for child in [&mut self.listener, &mut self.ca] {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.broker.stop();
    }
}

/// A command run from the root.
fn tool(root: &Path, name: &str) -> Command {
    let mut cmd = Command::new(root.join("target/debug").join(name));
    cmd.current_dir(root);
    cmd
}

/// The first line a server prints, with the port after its last colon.
fn announced_port(child: &mut Child, what: &str) -> Result<(u16, String)> {
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    let port = line.trim().trim_end_matches('/').rsplit(':').next().and_then(|p| p.parse().ok());
    match port {
        Some(port) => Ok((port, line)),
        None => {
            let _ = child.kill();
            Err(format!("{what} did not say where it listens: {line:?}"))
        }
    }
}

impl System {
    pub fn start(root: &Path) -> Result<Self> {
        let hub_port = free_port().map_err(|e| format!("no free port: {e}"))?;
        println!("\n== The host services on loopback: bootstrap CA, MQTT broker, cloud listener");
        let hub = hub_port.to_string();
        println!("$ bootstrap-ca init --dir {CA_DIR} --hub-host localhost --hub-port {hub}");
        crate::run(
            tool(root, "bootstrap-ca")
                .args(["init", "--dir", CA_DIR, "--hub-host", "localhost"])
                .args(["--hub-port", &hub]),
        )?;
        println!("$ bootstrap-ca credential --dir {CA_DIR} --cn cloud-consumer --out-dir {CA_DIR}");
        crate::run(
            tool(root, "bootstrap-ca")
                .args(["credential", "--dir", CA_DIR, "--cn", "cloud-consumer"])
                .args(["--out-dir", CA_DIR]),
        )?;
        println!("$ bootstrap-ca serve --dir {CA_DIR} --listen 127.0.0.1:0 &");
        let mut ca = tool(root, "bootstrap-ca")
            .args(["serve", "--dir", CA_DIR, "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start bootstrap-ca: {e}"))?;
        let (ca_port, line) = announced_port(&mut ca, "bootstrap-ca")?;
        print!("{line}");
        println!("$ mosquitto -c {BROKER_DIR}/mosquitto.conf   # broker/mosquitto.conf.in, broker/acl");
        let broker = match Broker::start(&root.join(BROKER_DIR), &root.join(CA_DIR), hub_port) {
            Ok(b) => b,
            Err(e) => {
                let _ = ca.kill();
                return Err(e);
            }
        };
        println!("mosquitto: listening on 127.0.0.1:{hub_port} (TLS, client certificates of the CA, ACL)");
        let _ = std::fs::remove_file(root.join(CLOUD_DB));
        println!(
            "$ cloud listen --broker localhost:{hub} --ca {CA_DIR}/ca.crt.pem --cert {CLOUD_CERT} \\\n    --key {CLOUD_KEY} --db {CLOUD_DB} --recipient-key {RECIPIENT_KEY} &"
        );
        let mut listener = tool(root, "cloud")
            .args([
                "listen",
                "--broker",
                &format!("localhost:{hub}"),
                "--ca",
                &format!("{CA_DIR}/ca.crt.pem"),
            ])
            .args([
                "--cert",
                CLOUD_CERT,
                "--key",
                CLOUD_KEY,
                "--db",
                CLOUD_DB,
                "--recipient-key",
                RECIPIENT_KEY,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start cloud listen: {e}"))?;
        let listener_lines = Arc::new(Mutex::new(Vec::new()));
        for out in [
            listener.stdout.take().map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
            listener.stderr.take().map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let lines = Arc::clone(&listener_lines);
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(out).lines().map_while(std::result::Result::ok) {
                    lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(line);
                }
            });
        }
        Ok(System { ca, ca_port, broker, listener, listener_lines })
    }

    /// What the emulated device needs to reach the CA: the fleet's bootstrap
    /// credential and the server's name. The broker's host and port come with the
    /// certificate, from the CA.
    pub fn device_flags(&self) -> [String; 4] {
        [
            "--bootstrap-creds".into(),
            CA_DIR.into(),
            "--bootstrap-server".into(),
            format!("localhost:{}", self.ca_port),
        ]
    }

    /// The broker's address, as the cloud's commands take it.
    fn broker(&self) -> String {
        format!("localhost:{}", self.broker.port)
    }

    /// Stops the listener (SIGTERM: it acknowledges what it stored, then disconnects)
    /// and returns what it printed.
    fn stop_listener(&mut self) -> Vec<String> {
        let _ = Command::new("kill").args(["-TERM", &self.listener.id().to_string()]).status();
        let _ = self.listener.wait();
        std::thread::sleep(Duration::from_millis(100));
        std::mem::take(&mut *self.listener_lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// The device publishes signed results every second; meanwhile the cloud asks it for a
/// result bound to a nonce; then the listener's output, the stored results, and where
/// the page is.
pub fn publishing(root: &Path, sim: &impl Fn() -> Command, system: &mut System) -> Result {
    let uuid_out = sim().args(["-c", "info uuid"]).output().map_err(|e| e.to_string())?;
    let uuid_text = String::from_utf8_lossy(&uuid_out.stdout).into_owned();
    let uuid = uuid_text
        .lines()
        .skip_while(|l| !l.ends_with("info uuid"))
        .nth(1)
        .map(str::trim)
        .filter(|u| u.len() == 36)
        .ok_or("no UUID from info uuid")?
        .to_string();
    let script = "azure period 1; azure start; azure wait 8; azure status";
    println!("\n== The device publishes signed results over MQTT (mutual TLS, its key in the secure world)");
    let device = sim()
        .args(system.device_flags())
        .args(["-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("device-sim: {e}"))?;
    // The nonce goes out while the device is connected.
    std::thread::sleep(Duration::from_secs(3));
    let broker = system.broker();
    let nonce = tool(root, "cloud")
        .args(["nonce", "--broker", &broker, "--ca", &format!("{CA_DIR}/ca.crt.pem"), "--cert", CLOUD_CERT])
        .args(["--key", CLOUD_KEY, "--db", CLOUD_DB, "--recipient-key", RECIPIENT_KEY, "--device", &uuid])
        .args(["--nonce", "6672657368206f6e6c79", "--timeout", "20"])
        .output()
        .map_err(|e| format!("cloud nonce: {e}"))?;
    let out = device.wait_with_output().map_err(|e| e.to_string())?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        return Err(format!("the device failed to publish: {}", String::from_utf8_lossy(&out.stderr)));
    }
    println!("\n== cloud nonce: a fresh result bound to a nonce of the cloud's (sent 3 s into the run)");
    println!(
        "$ cloud nonce --broker {broker} --ca {CA_DIR}/ca.crt.pem --cert {CLOUD_CERT} --key {CLOUD_KEY} \\\n    --db {CLOUD_DB} --recipient-key {RECIPIENT_KEY} --device {uuid} --nonce 6672657368206f6e6c79"
    );
    print!("{}", String::from_utf8_lossy(&nonce.stdout));
    if !nonce.status.success() {
        return Err(format!("cloud nonce failed: {}", String::from_utf8_lossy(&nonce.stderr)));
    }
    std::thread::sleep(Duration::from_secs(1));
    println!("\n== cloud listen: what it printed meanwhile (each result verified and stored once)");
    for line in system.stop_listener() {
        println!("{line}");
    }
    println!("\n== cloud results: the store");
    println!("$ cloud results --db {CLOUD_DB}");
    crate::run(tool(root, "cloud").args(["results", "--db", CLOUD_DB]))?;
    println!("\n== The page (devices, results, the values plotted), on loopback");
    println!("$ cloud serve --db {CLOUD_DB} --listen 127.0.0.1:8080");
    let mut serve = tool(root, "cloud")
        .args(["serve", "--db", CLOUD_DB, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cloud serve: {e}"))?;
    let announced = announced_port(&mut serve, "cloud serve");
    let _ = serve.kill();
    let _ = serve.wait();
    let (port, _) = announced?;
    println!("cloud: serving http://127.0.0.1:8080/   (this run checked it on port {port}, then stopped it)");
    Ok(())
}
