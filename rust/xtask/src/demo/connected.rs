//! The connected half of the demo: the host services on loopback (a bootstrap CA,
//! mosquitto with the project's configuration, the cloud listener: `crate::system`)
//! and the device publishing through them. Every path is relative to the root, so that
//! the transcript shows no machine-specific path.

use crate::system::{announced_port, stop, tool, Layout, System, RECIPIENT_KEY};
use crate::Result;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The CA's state.
pub const CA_DIR: &str = "target/demo-state/ca";
pub const LAYOUT: Layout =
    Layout { dir: "target/demo-state", bin: "target/debug", echo: true, ca_flags: &[] };

/// The host services, each command shown as it starts.
pub fn start(root: &Path) -> Result<System> {
    println!("\n== The host services on loopback: bootstrap CA, MQTT broker, cloud listener");
    System::start(root, &LAYOUT)
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
    let broker = system.broker_address();
    let nonce = system
        .cloud_client(root, "nonce")
        .args(["--device", &uuid, "--nonce", "6672657368206f6e6c79", "--timeout", "20"])
        .output()
        .map_err(|e| format!("cloud nonce: {e}"))?;
    let out = device.wait_with_output().map_err(|e| e.to_string())?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        return Err(format!("the device failed to publish: {}", String::from_utf8_lossy(&out.stderr)));
    }
    println!("\n== cloud nonce: a fresh result bound to a nonce of the cloud's (sent 3 s into the run)");
    let ((cert, key), db) = (system.credential(), &system.db);
    println!(
        "$ cloud nonce --broker {broker} --ca {CA_DIR}/ca.crt.pem --cert {cert} --key {key} \\\n    --db {db} --recipient-key {RECIPIENT_KEY} --device {uuid} --nonce 6672657368206f6e6c79"
    );
    print!("{}", String::from_utf8_lossy(&nonce.stdout));
    if !nonce.status.success() {
        return Err(format!("cloud nonce failed: {}", String::from_utf8_lossy(&nonce.stderr)));
    }
    std::thread::sleep(Duration::from_secs(1));
    println!("\n== cloud listen: what it printed meanwhile (each result verified and stored once)");
    for (_, line) in system.stop_listener() {
        println!("{line}");
    }
    println!("\n== cloud results: the store");
    println!("$ cloud results --db {}", system.db);
    crate::run(tool(root, LAYOUT.bin, "cloud").args(["results", "--db", &system.db]))?;
    println!("\n== The page (devices, results, the values plotted), on loopback");
    println!("$ cloud serve --db {} --listen 127.0.0.1:8080", system.db);
    let mut serve = tool(root, LAYOUT.bin, "cloud")
        .args(["serve", "--db", &system.db, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cloud serve: {e}"))?;
    let announced = announced_port(&mut serve, "cloud serve");
    stop(&mut serve);
    let (port, _) = announced?;
    println!("cloud: serving http://127.0.0.1:8080/   (this run checked it on port {port}, then stopped it)");
    Ok(())
}
