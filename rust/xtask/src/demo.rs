//! `cargo xtask demo`: README command one. Builds the host emulation, boots a fresh
//! emulated device and runs a scripted session that shows the system working, then a
//! SIGN1 and an ENCRYPT0 round whose results go to the cloud-side verifier (with a
//! replay it must refuse), then the connected system on loopback (`connected`): a
//! bootstrap CA, mosquitto and the cloud listener; the device provisions its
//! certificates (checked with `openssl verify`), publishes signed results over MQTT,
//! answers a nonce, and the cloud prints them verified and stored. `--interactive`
//! leaves the shell open instead, with the CA, the broker and the listener running.

mod connected;

use crate::Result;
use connected::CA_DIR;
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
    connected::LAYOUT.build(&root)?;
    // Relative to the root, so the boot log shows no machine-specific path.
    let state = std::path::Path::new("target/demo-state");
    // A new device every time, so the session shows a first boot.
    let absolute = root.join(state);
    if absolute.exists() {
        std::fs::remove_dir_all(&absolute).map_err(|e| format!("{}: {e}", absolute.display()))?;
    }
    let sim = || {
        let mut sim = Command::new(root.join("target/debug/device-sim"));
        sim.current_dir(&root).arg("--state").arg(state);
        sim
    };
    if interactive {
        let system = connected::start(&root)?;
        return crate::run(sim().args(system.device_flags()));
    }
    crate::run(sim().args(["-c", &SESSION.join("; ")]))?;
    signed_rounds(&root, &sim)?;
    let mut system = connected::start(&root)?;
    provisioning(&root, &sim, &system)?;
    connected::publishing(&root, &sim, &mut system)
}

/// `keys ca` for both keys against the bootstrap CA, the certificates printed, and
/// `openssl verify` of each against the CA's certificate.
fn provisioning(
    root: &std::path::Path,
    sim: &impl Fn() -> Command,
    system: &crate::system::System,
) -> Result {
    let script = "keys ca 5001; keys ca 5002; keys cert 5001; keys cert 5002; keys status";
    println!("\n== The device gets its certificates: keys ca (CSR signed in the secure world)");
    let out = sim().args(system.device_flags()).args(["-c", script]).output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    if !out.status.success() {
        return Err(format!("device-sim failed to provision: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let pems: Vec<&str> = text
        .match_indices("-----BEGIN CERTIFICATE-----")
        .filter_map(|(start, _)| {
            let end = text[start..].find("-----END CERTIFICATE-----")? + start + 25;
            Some(&text[start..end])
        })
        .collect();
    if pems.len() != 2 {
        return Err(format!("expected two certificates from keys cert, got {}", pems.len()));
    }
    println!("\n== openssl verify: each certificate against the CA's");
    for (key, pem) in ["5001", "5002"].iter().zip(pems) {
        let file = format!("target/demo-state/device-{key}.crt.pem");
        std::fs::write(root.join(&file), format!("{pem}\n")).map_err(|e| format!("{file}: {e}"))?;
        println!("$ openssl verify -CAfile {CA_DIR}/ca.crt.pem {file}");
        crate::run(Command::new("openssl").current_dir(root).args([
            "verify",
            "-CAfile",
            &format!("{CA_DIR}/ca.crt.pem"),
            &file,
        ]))?;
    }
    Ok(())
}

/// The device's results, verified where they are consumed: a SIGN1 result (checked by
/// the non-secure side too, `--verify-sign`) and an ENCRYPT0 result go to `cloud
/// verify`, then the SIGN1 result again, which the cloud refuses as a replay.
fn signed_rounds(root: &std::path::Path, sim: &impl Fn() -> Command) -> Result {
    let cloud_state = root.join("target/demo-state/cloud");
    let script = "keys public 5002; infer get sine SIGN1 90; infer get sine ENCRYPT0 270";
    println!("\n== The device again, with CONFIG_NONSECURE_COSE_VERIFY_SIGN (--verify-sign)");
    let out = sim().args(["--verify-sign", "-c", script]).output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    if !out.status.success() {
        return Err("device-sim failed in the signed rounds".into());
    }
    let pem = text
        .find("-----BEGIN PUBLIC KEY-----")
        .and_then(|start| Some(&text[start..start + text[start..].find("-----END PUBLIC KEY-----")? + 24]))
        .ok_or("no public key 0x5002 in the device's output")?;
    let key_file = root.join("target/demo-state/device-5002.pem");
    std::fs::write(&key_file, format!("{pem}\n")).map_err(|e| e.to_string())?;
    let results: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("Result (hex): ")).collect();
    let [sign1, encrypt0] = results[..] else {
        return Err(format!("expected two results from the device, got {}", results.len()));
    };
    let verify = |result: &str| {
        let mut cmd = Command::new(root.join("target/debug/cloud"));
        cmd.current_dir(root).args([
            "verify",
            "--device-key",
            "target/demo-state/device-5002.pem",
            "--key-id",
            "5002",
        ]);
        cmd.args(["--recipient-key", "keys/demo-recipient.pem", "--state", "target/demo-state/cloud"]);
        cmd.arg(result);
        cmd
    };
    let _ = std::fs::remove_dir_all(&cloud_state);
    for (name, keys, result) in [
        ("SIGN1", "the exported key 0x5002", sign1),
        ("ENCRYPT0", "the recipient's private key and the exported key 0x5002", encrypt0),
    ] {
        println!("\n== cloud verify: the {name} result above, with {keys}");
        println!("$ cloud verify --device-key target/demo-state/device-5002.pem --key-id 5002 \\");
        println!(
            "    --recipient-key keys/demo-recipient.pem --state target/demo-state/cloud {}...",
            &result[..16]
        );
        crate::run(&mut verify(result))?;
    }
    println!("\n== cloud verify: the SIGN1 result once more (a replay)");
    let replay = verify(sign1).status().map_err(|e| e.to_string())?;
    if replay.success() {
        return Err("cloud verify accepted a replayed result".into());
    }
    println!("(refused, as it must be: exit {})", replay.code().unwrap_or(-1));
    Ok(())
}
