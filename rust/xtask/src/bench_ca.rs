//! `cargo xtask bench ca [--liteboot CLONE_DIR]`: our bootstrap CA against liteboot, the
//! original Go CA, in one run, with the anchor's load generator
//! (`../shared/anchors/liteboot/load.py`) on loopback: issuances/s and latency for 1 and
//! 50 clients, a new connection per request and keep-alive, and 1,000 concurrent
//! devices. liteboot is built from a clone given by path (`build-liteboot.sh`, Debian's
//! Go packages); without one only our CA is measured.

use crate::Result;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// (clients, requests, mode, latency from send even for a client's first request): the
/// anchor's table; then the 50-client keep-alive run twice more, to tell the server's
/// steady state from the 50 handshakes at the start, which the single-threaded Python
/// client makes one after the other (each client's first request counts from its
/// connect): without the connects, and over 10,000 requests, where the first requests
/// are 0.5% of the latencies rather than 2.5%; then 1,000 devices at once.
const RUNS: &[(u32, u32, &str, bool)] = &[
    (1, 200, "new", false),
    (1, 200, "keepalive", false),
    (50, 2000, "new", false),
    (50, 2000, "keepalive", false),
    (50, 2000, "keepalive", true),
    (50, 10000, "keepalive", false),
    (1000, 1000, "new", false),
];

struct Server {
    name: &'static str,
    child: Child,
    port: u16,
    /// CA.crt, BOOTSTRAP.crt, BOOTSTRAP.key, as load.py wants them.
    certdir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        crate::system::stop(&mut self.child);
    }
}

pub fn run(args: &[String]) -> Result {
    let liteboot = match args {
        [] => None,
        [flag, dir] if flag == "--liteboot" => Some(PathBuf::from(dir)),
        _ => return Err("usage: cargo xtask bench ca [--liteboot CLONE_DIR]".into()),
    };
    let root = crate::root();
    let python = crate::python::venv()?;
    let load = root.join("../shared/anchors/liteboot/load.py");
    if !load.exists() {
        return Err(format!("{}: the anchor's load generator is missing", load.display()));
    }
    let work = root.join("target/bench-ca");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;

    let mut servers = vec![ours(&root, &work)?];
    if let Some(dir) = liteboot {
        servers.push(liteboot_server(&root, &dir)?);
    }
    println!(
        "\n| server | clients | requests | mode | ok | failed | issued/s | p50 ms | p99 ms | server CPU s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &(clients, requests, mode, exclude_connect) in RUNS {
        let mode_label = if exclude_connect { "keepalive, connect excluded" } else { mode };
        for server in &servers {
            let out =
                work.join(format!("{}-{clients}-{requests}-{mode}-{exclude_connect}.json", server.name));
            let mut load_py = Command::new(&python);
            load_py.arg(&load);
            if exclude_connect {
                load_py.arg("--exclude-connect");
            }
            let status = load_py
                .arg("--certdir")
                .arg(&server.certdir)
                .args(["--port", &server.port.to_string(), "-n", &requests.to_string()])
                .args(["-c", &clients.to_string(), "--mode", mode, "--max-seconds", "300"])
                .args(["--server-pid", &server.child.id().to_string()])
                .arg("--json")
                .arg(&out)
                .stdout(Stdio::null())
                .status()
                .map_err(|e| format!("load.py: {e}"))?;
            let text =
                std::fs::read_to_string(&out).map_err(|e| format!("{}: {e} ({status})", out.display()))?;
            let ok = number(&text, "\"ok\"");
            println!(
                "| {} | {clients} | {requests} | {mode_label} | {} | {} | {} | {} | {} | {} |",
                server.name,
                ok,
                requests as f64 - ok.parse::<f64>().unwrap_or(0.0),
                number(&text, "\"issuances_per_s\""),
                number(&text, "\"p50\""),
                number(&text, "\"p99\""),
                number(&text, "\"server_cpu_s\""),
            );
            if let Some(errors) = text.split("\"errors\":").nth(1).and_then(|t| t.split('}').next()) {
                if errors.trim() != "{" {
                    println!("|   errors: {}}} |", errors.trim().replace('\n', " "));
                }
            }
        }
    }
    println!("\nRaw results (load.py's JSON): {}", work.display());
    Ok(())
}

/// The number after `key` in load.py's JSON (its first occurrence).
fn number(json: &str, key: &str) -> String {
    json.split(key)
        .nth(1)
        .and_then(|rest| rest.trim_start().strip_prefix(':'))
        .map(|rest| {
            rest.trim_start().chars().take_while(|c| c.is_ascii_digit() || ".-".contains(*c)).collect()
        })
        .filter(|s: &String| !s.is_empty())
        .unwrap_or_else(|| "-".into())
}

/// Our CA, release build, limits opened for a load that comes from one address.
fn ours(root: &Path, work: &Path) -> Result<Server> {
    crate::run(Command::new(env!("CARGO")).current_dir(root).args([
        "build",
        "--quiet",
        "--release",
        "--package",
        "bootstrap-ca",
    ]))?;
    let exe = root.join("target/release/bootstrap-ca");
    let dir = work.join("ours");
    crate::run(Command::new(&exe).arg("init").arg("--dir").arg(&dir).stdout(Stdio::null()))?;
    let certdir = work.join("ours-certs");
    std::fs::create_dir_all(&certdir).map_err(|e| e.to_string())?;
    for (from, to) in [
        ("ca.crt.pem", "CA.crt"),
        ("bootstrap.crt.pem", "BOOTSTRAP.crt"),
        ("bootstrap.key.pem", "BOOTSTRAP.key"),
    ] {
        std::fs::copy(dir.join(from), certdir.join(to)).map_err(|e| format!("{from}: {e}"))?;
    }
    let mut child = Command::new(&exe)
        .arg("serve")
        .arg("--dir")
        .arg(&dir)
        .args(["--listen", "127.0.0.1:0", "--device-limit", "0"])
        .args(["--max-connections", "2048", "--max-connections-per-ip", "2048"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("bootstrap-ca: {e}"))?;
    let (port, _) = crate::system::announced_port(&mut child, "bootstrap-ca")?;
    println!("ours: bootstrap-ca (release) on 127.0.0.1:{port}, per-device and per-address limits opened");
    Ok(Server { name: "bootstrap-ca", child, port, certdir })
}

/// liteboot from a clone, built (once) by the anchor's script, on port 1443.
fn liteboot_server(root: &Path, clone: &Path) -> Result<Server> {
    let clone = clone.canonicalize().map_err(|e| format!("{}: {e}", clone.display()))?;
    if !clone.join("liteboot").exists() || !clone.join("certs/CA.crt").exists() {
        crate::run(
            Command::new("bash")
                .arg(root.join("../shared/anchors/liteboot/build-liteboot.sh"))
                .arg(&clone)
                .args(["--apt", "--setup", "localhost"]),
        )?;
    }
    let port = 1443;
    let mut child = Command::new(clone.join("liteboot"))
        .current_dir(&clone)
        .args(["server", "start", "-p", &port.to_string(), "--hostname=localhost"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("liteboot: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            crate::system::stop(&mut child);
            return Err("liteboot did not listen on 127.0.0.1:1443 within 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("peer: liteboot ({}) on 127.0.0.1:{port}", clone.display());
    Ok(Server { name: "liteboot", child, port, certdir: clone.join("certs") })
}
