//! What the MQTT tests share: the real `bootstrap-ca` (a CA serving on loopback, service
//! credentials from `bootstrap-ca credential`), client certificates made by openssl,
//! `mosquitto_sub`/`mosquitto_pub` with a credential, and the device with its shell on
//! a pipe.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use super::{device_sim, scratch, Guard};
use device_sim::broker::{free_port, Broker};

/// A workspace binary beside `device-sim` (`cargo test --workspace` builds them all),
/// built first if missing (`cargo test -p device-sim` alone).
pub fn workspace_binary(name: &str) -> Command {
    let exe = Path::new(env!("CARGO_BIN_EXE_device-sim")).with_file_name(name);
    if !exe.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo).args(["build", "--quiet", "-p", name]).status().unwrap();
        assert!(status.success() && exe.exists(), "cannot build {name} ({})", exe.display());
    }
    Command::new(exe)
}

pub fn bootstrap_ca() -> Command {
    workspace_binary("bootstrap-ca")
}

/// The value after `label` in `azure status` output (`acked 12,` -> 12).
pub fn counter(text: &str, label: &str) -> u64 {
    let at = text.rfind(label).unwrap_or_else(|| panic!("no {label:?} in:\n{text}"));
    text[at + label.len()..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A CA whose hub is `localhost:hub_port`, serving on a free port: (server, port).
pub fn ca(dir: &Path, hub_port: u16) -> (Guard, u16) {
    init_ca(dir, Some(hub_port));
    serve_ca(dir)
}

/// `bootstrap-ca init` in `dir`, with the hub on `localhost:hub_port` (the CA's default
/// hub without one).
pub fn init_ca(dir: &Path, hub_port: Option<u16>) {
    let mut init = bootstrap_ca();
    init.arg("init").arg("--dir").arg(dir);
    if let Some(port) = hub_port {
        init.args(["--hub-host", "localhost", "--hub-port", &port.to_string()]);
    }
    let out = init.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `bootstrap-ca serve` for `dir` on a free loopback port: (server, port).
pub fn serve_ca(dir: &Path) -> (Guard, u16) {
    let mut child = Guard(
        bootstrap_ca()
            .arg("serve")
            .arg("--dir")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("bootstrap-ca: listening on https://127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("bootstrap-ca said {line:?}"));
    (child, port)
}

/// A test's world in a new scratch directory: a CA serving on loopback, mosquitto for
/// its hub (with the CA's CRL when asked) and the cloud consumer's credential.
pub struct World {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub ca_port: u16,
    pub _ca_server: Guard,
    /// Where the CA's CRL is written (`bootstrap-ca crl`), when the broker has one.
    pub crl: PathBuf,
    pub broker: Broker,
    pub cloud: (PathBuf, PathBuf),
}

impl World {
    /// With `crl`, the CA's CRL (nothing revoked yet) is made first and given to the
    /// broker (`Broker::start_with_crl`).
    pub fn start(name: &str, crl: bool) -> World {
        let dir = scratch(name);
        let ca_dir = dir.join("ca");
        let port = free_port().unwrap();
        let (server, ca_port) = ca(&ca_dir, port);
        let crl_path = dir.join("crl.pem");
        if crl {
            make_crl(&ca_dir, &crl_path);
        }
        let broker =
            Broker::start_with_crl(&dir.join("broker"), &ca_dir, port, crl.then_some(crl_path.as_path()))
                .unwrap();
        let cloud = service_credential(&ca_dir, &dir, "cloud-consumer");
        World { dir, ca: ca_dir, ca_port, _ca_server: server, crl: crl_path, broker, cloud }
    }
}

/// `bootstrap-ca` with `args`, which must succeed: what it printed.
pub fn bca(args: &[&str]) -> String {
    let out = bootstrap_ca().args(args).output().unwrap();
    assert!(out.status.success(), "bootstrap-ca {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `bootstrap-ca crl` of the CA in `ca` into `out`: what it printed.
pub fn make_crl(ca: &Path, out: &Path) -> String {
    bca(&["crl", "--dir", ca.to_str().unwrap(), "--out", out.to_str().unwrap()])
}

/// A service's client credential from `bootstrap-ca credential --cn cn` (clientAuth,
/// OU Service), written into `dir`: (cert, key) paths.
pub fn service_credential(ca: &Path, dir: &Path, cn: &str) -> (PathBuf, PathBuf) {
    let out = bootstrap_ca()
        .arg("credential")
        .arg("--dir")
        .arg(ca)
        .args(["--cn", cn, "--out-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "bootstrap-ca credential: {}", String::from_utf8_lossy(&out.stderr));
    (dir.join(format!("{cn}.crt.pem")), dir.join(format!("{cn}.key.pem")))
}

/// A client certificate of the CA with CN `cn` and clientAuth, made by openssl with the
/// CA key: for a device's CN (a UUID), which `bootstrap-ca credential` refuses. (cert,
/// key) paths.
pub fn client_credential(ca: &Path, dir: &Path, cn: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{cn}.key.pem"));
    let csr = dir.join(format!("{cn}.csr.pem"));
    let cert = dir.join(format!("{cn}.crt.pem"));
    let ext = dir.join("client.ext");
    std::fs::write(&ext, "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
        .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    run(&[
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
        &format!("/CN={cn}"),
        "-out",
        &s(&csr),
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &s(&csr),
        "-CA",
        &s(&ca.join("ca.crt.pem")),
        "-CAkey",
        &s(&ca.join("ca.key.pem")),
        "-set_serial",
        "0x1234",
        "-days",
        "2",
        "-extfile",
        &s(&ext),
        "-out",
        &s(&cert),
    ]);
    (cert, key)
}

/// The MQTT options of a client with credential `cred` on `port`.
pub fn tls_args(ca: &Path, cred: &(PathBuf, PathBuf), port: u16) -> Vec<String> {
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    vec![
        "-h".into(),
        "localhost".into(),
        "-p".into(),
        port.to_string(),
        "--cafile".into(),
        s(&ca.join("ca.crt.pem")),
        "--cert".into(),
        s(&cred.0),
        "--key".into(),
        s(&cred.1),
    ]
}

/// `mosquitto_sub` on every device's events, persistent session `id`, printing
/// `topic hex-payload` lines into `out`.
pub fn subscriber(ca: &Path, cred: &(PathBuf, PathBuf), port: u16, id: &str, out: &Path) -> Guard {
    let file = std::fs::File::create(out).unwrap();
    Guard(
        Command::new("mosquitto_sub")
            .args(tls_args(ca, cred, port))
            .args(["-i", id, "-c", "-q", "1", "-t", "devices/+/messages/events/#", "-F", "%t %x"])
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub (Debian package mosquitto-clients)"),
    )
}

pub fn publish(ca: &Path, cred: &(PathBuf, PathBuf), port: u16, topic: &str, payload: &Path) -> bool {
    Command::new("mosquitto_pub")
        .args(tls_args(ca, cred, port))
        .args(["-q", "1", "-t", topic, "-f", payload.to_str().unwrap()])
        .status()
        .unwrap()
        .success()
}

/// The device with its shell on a pipe: commands go in as the test goes.
pub struct Device {
    pub child: Guard,
    pub stdin: Option<ChildStdin>,
    pub lines: Receiver<String>,
    pub text: String,
}

impl Device {
    pub fn start(state: &Path, ca: &Path, ca_port: u16, args: &[&str]) -> Device {
        let mut child = Guard(
            device_sim()
                .arg("--state")
                .arg(state)
                .arg("--bootstrap-creds")
                .arg(ca)
                .args(["--bootstrap-server", &format!("localhost:{ca_port}")])
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap(),
        );
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Device { child, stdin, lines, text: String::new() }
    }

    pub fn send(&mut self, commands: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{commands}").unwrap();
        stdin.flush().unwrap();
    }

    /// Reads output until a line contains `needle`.
    pub fn until(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.text.push_str(&line);
                    self.text.push('\n');
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no {needle:?} within {within:?}; output:\n{}", self.text),
            }
        }
    }

    /// Ends the script and waits for the process: all its output. `ok`: whether
    /// every command should have succeeded (the exit status says so).
    pub fn finish(mut self, ok: bool) -> String {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Ok(line) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.text.push_str(&line);
            self.text.push('\n');
        }
        let status = self.child.wait().unwrap();
        assert_eq!(status.success(), ok, "device-sim's exit status:\n{}", self.text);
        self.text
    }
}
