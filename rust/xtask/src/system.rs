//! The connected system's host services on loopback, for the demo and `bench fleet`:
//! a bootstrap CA (init with the hub's port, the cloud consumer's credential, serve),
//! mosquitto with the project's configuration (`device_sim::broker`), and `cloud
//! listen`. Paths are relative to the root, so that a transcript shows no
//! machine-specific path.

use crate::Result;
use device_sim::broker::{free_port, Broker};
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const RECIPIENT_KEY: &str = "keys/demo-recipient.pem";

/// Where a run keeps its state and which binaries it runs.
pub struct Layout {
    /// The state directory, relative to the root: `ca/`, `broker/`, `cloud.db`.
    pub dir: &'static str,
    /// `target/debug` or `target/release`.
    pub bin: &'static str,
    /// Print each command before running it (the demo's transcript).
    pub echo: bool,
    /// More flags for `bootstrap-ca serve` (limits).
    pub ca_flags: &'static [&'static str],
}

impl Layout {
    /// Installs what the system runs besides Rust (openssl, mosquitto) and builds its
    /// three binaries into `bin`.
    pub fn build(&self, root: &Path) -> Result {
        crate::toolchain::ensure_packages(crate::toolchain::DEMO_PACKAGES)?;
        let mut cargo = Command::new(env!("CARGO"));
        cargo.current_dir(root).args(["build", "--quiet"]);
        if self.bin == "target/release" {
            cargo.arg("--release");
        }
        crate::run(cargo.args(["--package", "device-sim", "--package", "cloud", "--package", "bootstrap-ca"]))
    }
}

/// The CA, the broker and the cloud listener, stopped when dropped.
pub struct System {
    ca: Child,
    ca_port: u16,
    pub broker: Broker,
    listener: Child,
    /// What the listener printed (results on stdout, the rest on stderr), in order,
    /// with the time each line was read (ms since the epoch).
    listener_lines: Arc<Mutex<Vec<(u64, String)>>>,
    pub ca_dir: String,
    pub db: String,
    cert: String,
    key: String,
    bin: &'static str,
}

impl Drop for System {
    fn drop(&mut self) {
        for child in [&mut self.listener, &mut self.ca] {
            stop(child);
        }
        self.broker.stop();
    }
}

/// Kills `child` and reaps it.
pub fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A command of `bin` run from the root.
pub fn tool(root: &Path, bin: &str, name: &str) -> Command {
    let mut cmd = Command::new(root.join(bin).join(name));
    cmd.current_dir(root);
    cmd
}

/// The first line a server prints, with the port after its last colon.
pub fn announced_port(child: &mut Child, what: &str) -> Result<(u16, String)> {
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    let port = line.trim().trim_end_matches('/').rsplit(':').next().and_then(|p| p.parse().ok());
    match port {
        Some(port) => Ok((port, line)),
        None => {
            stop(child);
            Err(format!("{what} did not say where it listens: {line:?}"))
        }
    }
}

impl System {
    pub fn start(root: &Path, layout: &Layout) -> Result<Self> {
        let echo = |text: String| {
            if layout.echo {
                println!("{text}");
            }
        };
        let dir = layout.dir;
        let (ca_dir, broker_dir, db) =
            (format!("{dir}/ca"), format!("{dir}/broker"), format!("{dir}/cloud.db"));
        let (cert, key) =
            (format!("{ca_dir}/cloud-consumer.crt.pem"), format!("{ca_dir}/cloud-consumer.key.pem"));
        let bca = || tool(root, layout.bin, "bootstrap-ca");
        let hub_port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let hub = hub_port.to_string();
        echo(format!("$ bootstrap-ca init --dir {ca_dir} --hub-host localhost --hub-port {hub}"));
        let quiet = |mut cmd: Command| {
            if !layout.echo {
                cmd.stdout(Stdio::null());
            }
            cmd
        };
        crate::run(
            quiet(bca())
                .args(["init", "--dir", &ca_dir, "--hub-host", "localhost"])
                .args(["--hub-port", &hub]),
        )?;
        echo(format!("$ bootstrap-ca credential --dir {ca_dir} --cn cloud-consumer --out-dir {ca_dir}"));
        crate::run(
            quiet(bca())
                .args(["credential", "--dir", &ca_dir, "--cn", "cloud-consumer"])
                .args(["--out-dir", &ca_dir]),
        )?;
        echo(format!("$ bootstrap-ca serve --dir {ca_dir} --listen 127.0.0.1:0 &"));
        let mut ca = bca()
            .args(["serve", "--dir", &ca_dir, "--listen", "127.0.0.1:0"])
            .args(layout.ca_flags)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start bootstrap-ca: {e}"))?;
        let (ca_port, line) = announced_port(&mut ca, "bootstrap-ca")?;
        if layout.echo {
            print!("{line}");
        }
        echo(format!("$ mosquitto -c {broker_dir}/mosquitto.conf   # broker/mosquitto.conf.in, broker/acl"));
        let broker = match Broker::start(&root.join(&broker_dir), &root.join(&ca_dir), hub_port) {
            Ok(b) => b,
            Err(e) => {
                stop(&mut ca);
                return Err(e);
            }
        };
        echo(format!(
            "mosquitto: listening on 127.0.0.1:{hub_port} (TLS, client certificates of the CA, ACL)"
        ));
        let _ = std::fs::remove_file(root.join(&db));
        echo(format!(
            "$ cloud listen --broker localhost:{hub} --ca {ca_dir}/ca.crt.pem --cert {cert} \\\n    --key {key} --db {db} --recipient-key {RECIPIENT_KEY} &"
        ));
        let mut listener = tool(root, layout.bin, "cloud")
            .args([
                "listen",
                "--broker",
                &format!("localhost:{hub}"),
                "--ca",
                &format!("{ca_dir}/ca.crt.pem"),
            ])
            .args(["--cert", &cert, "--key", &key, "--db", &db, "--recipient-key", RECIPIENT_KEY])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                stop(&mut ca);
                format!("cannot start cloud listen: {e}")
            })?;
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
                    let at = now_ms();
                    lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((at, line));
                }
            });
        }
        Ok(System { ca, ca_port, broker, listener, listener_lines, ca_dir, db, cert, key, bin: layout.bin })
    }

    /// What the emulated device needs to reach the CA: the fleet's bootstrap
    /// credential and the server's name. The broker's host and port come with the
    /// certificate, from the CA.
    pub fn device_flags(&self) -> [String; 4] {
        [
            "--bootstrap-creds".into(),
            self.ca_dir.clone(),
            "--bootstrap-server".into(),
            format!("localhost:{}", self.ca_port),
        ]
    }

    /// The broker's address, as the cloud's commands take it.
    pub fn broker_address(&self) -> String {
        format!("localhost:{}", self.broker.port)
    }

    /// `cloud <command>` with the broker's and the consumer's options (`nonce`).
    pub fn cloud_client(&self, root: &Path, command: &str) -> Command {
        let mut cmd = tool(root, self.bin, "cloud");
        cmd.args([
            command,
            "--broker",
            &self.broker_address(),
            "--ca",
            &format!("{}/ca.crt.pem", self.ca_dir),
        ]);
        cmd.args([
            "--cert",
            &self.cert,
            "--key",
            &self.key,
            "--db",
            &self.db,
            "--recipient-key",
            RECIPIENT_KEY,
        ]);
        cmd
    }

    /// The consumer's credential (certificate, key), relative to the root.
    pub fn credential(&self) -> (&str, &str) {
        (&self.cert, &self.key)
    }

    pub fn listener_pid(&self) -> u32 {
        self.listener.id()
    }

    /// Stops the listener (SIGTERM: it acknowledges what it stored, then disconnects)
    /// and returns what it printed, each line with the time it was read.
    pub fn stop_listener(&mut self) -> Vec<(u64, String)> {
        let _ = Command::new("kill").args(["-TERM", &self.listener.id().to_string()]).status();
        // It stops within 2 s (docs/cloud.md); one that does not is stuck: SIGKILL.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !matches!(self.listener.try_wait(), Ok(Some(_))) {
            if std::time::Instant::now() > deadline {
                let _ = self.listener.kill();
                let _ = self.listener.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(100));
        std::mem::take(&mut *self.listener_lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}
