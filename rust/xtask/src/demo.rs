//! `cargo xtask demo`: README command one. Builds the host emulation, boots a fresh
//! emulated device and runs a scripted session that shows the system working;
//! `--interactive` leaves the shell open instead.

use crate::Result;
use std::process::Command;

/// The scripted session; each feature adds the commands that show it.
const SESSION: &[&str] = &[
    "help",
    "info version",
    "info uuid",
    "keys status",
    "keys public 5002",
    "keys csr PEM 5001",
    "infer model",
    "infer get sine CBOR 0 90 45",
];

pub fn run(args: &[String]) -> Result {
    let interactive = match args {
        [] => false,
        [flag] if flag == "--interactive" => true,
        _ => return Err("usage: cargo xtask demo [--interactive]".into()),
    };
    let root = crate::root();
    crate::run(Command::new(env!("CARGO")).current_dir(&root).args([
        "build",
        "--quiet",
        "--package",
        "device-sim",
    ]))?;
    // Relative to the root, so the boot log shows no machine-specific path.
    let state = std::path::Path::new("target/demo-state");
    // A new device every time, so the session shows a first boot.
    let absolute = root.join(state);
    if absolute.exists() {
        std::fs::remove_dir_all(&absolute).map_err(|e| format!("{}: {e}", absolute.display()))?;
    }
    let mut sim = Command::new(root.join("target/debug/device-sim"));
    sim.current_dir(&root).arg("--state").arg(state);
    if !interactive {
        sim.args(["-c", &SESSION.join("; ")]);
    }
    crate::run(&mut sim)
}
