//! `cargo xtask bench fleet [DEVICES]` (default 200): the connected system at scale on
//! loopback. DEVICES emulated devices (release builds; each its own state directory
//! and `--label-extra dev-N`, so its own UUID and keys) provision from one bootstrap
//! CA, 25 at a time, then all publish at once, one SIGN1 result a second, RESULTS
//! each, through one mosquitto to one `cloud listen`.
//!
//! Figures: results verified and stored per second (first to last store); end-to-end
//! latency from the device's write of the PUBLISH to the TLS stream (`device-sim
//! --azure-trace`: unix ms and the payload's SHA-256) to the moment `cloud listen`'s
//! stdout line for that result is read here (the listener prints it after the
//! store's commit), joined through the store's `payload_sha256`; the same clock on both
//! sides (one machine). Also the listener's own `received_at` minus the publish. The
//! consumer's CPU (utime + stime of /proc/<pid>/stat) per stored result; RSS of every
//! process of the run at the publishing's midpoint; the load average.

use crate::system::{tool, Layout, System};
use crate::Result;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const DIR: &str = "target/bench-fleet";
/// Results each device publishes.
const RESULTS: u64 = 10;
/// The whole publishing phase, at most.
const CAP: Duration = Duration::from_secs(180);
const PROVISION_AT_ONCE: usize = 25;
const LAYOUT: Layout = Layout {
    dir: DIR,
    bin: "target/release",
    echo: false,
    ca_flags: &["--device-limit", "0", "--max-connections", "2048", "--max-connections-per-ip", "2048"],
};

pub fn run(args: &[String]) -> Result {
    let devices: usize = match args {
        [] => 200,
        [n] => n.parse().map_err(|_| "usage: cargo xtask bench fleet [DEVICES]")?,
        _ => return Err("usage: cargo xtask bench fleet [DEVICES]".into()),
    };
    let root = crate::root();
    LAYOUT.build(&root)?;
    let _ = std::fs::remove_dir_all(root.join(DIR));
    std::fs::create_dir_all(root.join(DIR)).map_err(|e| e.to_string())?;
    println!("load average before: {}", loadavg());
    let mut system = System::start(&root, &LAYOUT)?;
    let sim = |n: usize, script: &str| {
        let mut cmd = tool(&root, LAYOUT.bin, "device-sim");
        cmd.args(["--state", &format!("{DIR}/dev-{n}"), "--label-extra", &format!("dev-{n}")])
            .args(system.device_flags())
            .args(["-c", script])
            .stdin(Stdio::null());
        cmd
    };

    let started = Instant::now();
    for batch in (0..devices).collect::<Vec<_>>().chunks(PROVISION_AT_ONCE) {
        let children: Vec<Child> = batch
            .iter()
            .map(|&n| sim(n, "keys ca 5001; keys ca 5002").stdout(Stdio::null()).spawn())
            .collect::<std::io::Result<_>>()
            .map_err(|e| format!("device-sim: {e}"))?;
        for mut child in children {
            let status = child.wait().map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("a device failed to provision ({status})"));
            }
        }
    }
    println!(
        "{devices} devices provisioned in {:.1} s (both certificates each)",
        started.elapsed().as_secs_f64()
    );

    let cpu_before = cpu_seconds(system.listener_pid());
    let script = format!("azure period 1; azure start; azure wait {RESULTS} {}; azure status", CAP.as_secs());
    let publish_start = Instant::now();
    let mut children = Vec::new();
    for n in 0..devices {
        let out =
            std::fs::File::create(root.join(format!("{DIR}/dev-{n}.out"))).map_err(|e| e.to_string())?;
        let child = sim(n, &script)
            .args(["--azure-trace", &format!("{DIR}/dev-{n}/trace.txt")])
            .stdout(out)
            .spawn()
            .map_err(|e| format!("device-sim: {e}"))?;
        children.push(child);
    }
    // Memory at the middle of the publishing.
    std::thread::sleep(Duration::from_secs(RESULTS / 2 + 1));
    let mut pids: Vec<u32> = children.iter().map(Child::id).collect();
    pids.extend(children.iter().flat_map(|c| descendants(c.id())));
    let devices_rss = pids.iter().map(|&p| rss_kib(p)).sum::<u64>();
    let broker_rss = system.broker.pid().map_or(0, rss_kib);
    let listener_rss = rss_kib(system.listener_pid());
    let load_mid = loadavg();
    let mut failed = 0;
    for mut child in children {
        let left = CAP.saturating_sub(publish_start.elapsed());
        if !wait_or_kill(&mut child, left) {
            failed += 1;
        }
    }
    let acked: u64 = (0..devices)
        .map(|n| {
            let text = std::fs::read_to_string(root.join(format!("{DIR}/dev-{n}.out"))).unwrap_or_default();
            // `results: made m (nonce k), published p, acked a, ...` of the last status.
            let results = text.rfind("results:").map_or("", |at| &text[at..]);
            after(results.lines().next().unwrap_or(""), "acked ")
        })
        .sum();
    // The listener catches up with what the broker acknowledged (bounded).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut stored = results(&root, &system)?;
    while (stored.len() as u64) < acked && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        stored = results(&root, &system)?;
    }
    if (stored.len() as u64) < acked {
        println!(
            "the consumer stored {} of the {acked} results the broker acknowledged within 60 s of the last device's end",
            stored.len()
        );
    }
    let cpu = cpu_seconds(system.listener_pid()) - cpu_before;
    let lines = system.stop_listener();

    let mut published: HashMap<String, u64> = HashMap::new();
    for n in 0..devices {
        let text = std::fs::read_to_string(root.join(format!("{DIR}/dev-{n}/trace.txt"))).unwrap_or_default();
        for line in text.lines() {
            if let Some((ms, hash)) = line.split_once(' ') {
                let ms: u64 = ms.parse().unwrap_or(0);
                published.entry(hash.to_owned()).and_modify(|m| *m = (*m).min(ms)).or_insert(ms);
            }
        }
    }
    let printed: HashMap<(String, u64), u64> = lines
        .iter()
        .filter(|(_, l)| l.starts_with('{'))
        .map(|(at, l)| ((field(l, "device").to_owned(), field(l, "counter").parse().unwrap_or(0)), *at))
        .collect();
    let mut to_store = Vec::new();
    let mut to_receive = Vec::new();
    for r in &stored {
        let Some(&sent) = published.get(&r.sha) else { continue };
        if let Some(&at) = printed.get(&(r.device.clone(), r.counter)) {
            to_store.push(at.saturating_sub(sent));
        }
        to_receive.push(r.received_at.saturating_sub(sent));
    }
    let first = printed.values().min().copied().unwrap_or(0);
    let last = printed.values().max().copied().unwrap_or(0);
    let span = (last.saturating_sub(first)) as f64 / 1000.0;
    let n = stored.len();
    println!("\n| devices | results stored | acked by the broker | devices failed | stored/s | p50 ms | p99 ms | max ms | received p99 ms | consumer CPU s | CPU ms/result |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {devices} | {n} | {acked} | {failed} | {:.1} | {} | {} | {} | {} | {cpu:.2} | {:.2} |",
        if span > 0.0 { n as f64 / span } else { 0.0 },
        percentile(&mut to_store, 50.0),
        percentile(&mut to_store, 99.0),
        percentile(&mut to_store, 100.0),
        percentile(&mut to_receive, 99.0),
        if n > 0 { cpu * 1000.0 / n as f64 } else { 0.0 },
    );
    println!("latencies joined: {} of {n} (publish trace and listener line both found)", to_store.len());
    println!(
        "RSS at mid-run: devices {} MiB ({} processes, {:.1} MiB each), mosquitto {} MiB, cloud listen {} MiB",
        devices_rss / 1024,
        pids.len(),
        devices_rss as f64 / 1024.0 / pids.len().max(1) as f64,
        broker_rss / 1024,
        listener_rss / 1024
    );
    println!("load average mid-run: {load_mid}; after: {}", loadavg());
    Ok(())
}

struct Stored {
    device: String,
    counter: u64,
    sha: String,
    received_at: u64,
}

fn results(root: &Path, system: &System) -> Result<Vec<Stored>> {
    let out = tool(root, LAYOUT.bin, "cloud")
        .args(["results", "--json", "--db", &system.db])
        .output()
        .map_err(|e| format!("cloud results: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| Stored {
            device: field(l, "device").to_owned(),
            counter: field(l, "counter").parse().unwrap_or(0),
            sha: field(l, "payload_sha256").to_owned(),
            received_at: field(l, "received_at").parse().unwrap_or(0),
        })
        .collect())
}

/// A string or number field of a flat JSON line (no escapes in the fields read).
fn field<'a>(json: &'a str, key: &str) -> &'a str {
    let pattern = format!("\"{key}\":");
    let Some(at) = json.find(&pattern) else { return "" };
    let rest = &json[at + pattern.len()..];
    match rest.strip_prefix('"') {
        Some(text) => &text[..text.find('"').unwrap_or(text.len())],
        None => &rest[..rest.find([',', '}']).unwrap_or(rest.len())],
    }
}

/// The number after the last `label` in `text` (0 if none).
fn after(text: &str, label: &str) -> u64 {
    text.rfind(label)
        .map(|at| text[at + label.len()..].chars().take_while(char::is_ascii_digit).collect::<String>())
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

fn percentile(values: &mut [u64], p: f64) -> String {
    if values.is_empty() {
        return "-".into();
    }
    values.sort_unstable();
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1].to_string()
}

fn wait_or_kill(child: &mut Child, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// utime + stime of `pid`, in seconds (USER_HZ 100).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // After the command: state is field 3, utime 14 and stime 15 (1-based).
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// VmRSS of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"));
    line.and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

fn descendants(pid: u32) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let children: Vec<u32> = text.split_whitespace().filter_map(|p| p.parse().ok()).collect();
    let mut all = children.clone();
    for child in children {
        all.extend(descendants(child));
    }
    all
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
