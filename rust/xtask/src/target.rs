//! Test images on QEMU's `mps2-an521` Cortex-M33.
//!
//! Each `m33-tests` bin is an image holding several tests. The image is asked for
//! its test names (`list`), then started once per test (`run <index>`), so a test that
//! panics, faults or hangs fails alone; a hang is killed after [`TEST_TIMEOUT`].

use crate::toolchain::{self, TargetCargo};
use crate::Result;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Image packages whose bins build only with their `image` feature (so that a host
/// build of the workspace skips them), each with its own operator features.
const IMAGE_FEATURE: &[&str] = &["m33-bench-sine", "m33-bench-conv", "m33-bench-mlperf", "m33-bench-cert"];

/// Every image package `cargo xtask bench` runs.
pub const BENCH_PACKAGES: &[&str] =
    &["m33-bench", "m33-bench-sine", "m33-bench-conv", "m33-bench-mlperf", "m33-bench-cert"];

/// Builds every bin of `package` for the target; returns the images, by name.
pub fn build_images(cargo: &TargetCargo, package: &str) -> Result<Vec<(String, PathBuf)>> {
    let mut build = cargo.command("build");
    build.args(["--package", package, "--bins"]);
    if IMAGE_FEATURE.contains(&package) {
        build.args(["--features", "image"]);
    }
    crate::run(&mut build)?;
    let bins = crate::root().join("rust").join(package).join("src/bin");
    let mut names: Vec<String> = std::fs::read_dir(&bins)
        .map_err(|e| format!("{}: {e}", bins.display()))?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    Ok(names.into_iter().map(|n| (n.clone(), toolchain::image_dir().join(n))).collect())
}

/// The result of one emulator run.
pub struct Run {
    pub status: Option<i32>,
    pub timed_out: bool,
    pub console: String,
}

/// Runs `image` in QEMU with the semihosting command line `args`.
pub fn qemu(image: &Path, args: &[&str], timeout: Duration) -> Result<Run> {
    let mut semihosting = String::from("enable=on,target=native");
    for arg in std::iter::once("image").chain(args.iter().copied()) {
        semihosting.push_str(",arg=");
        semihosting.push_str(arg);
    }
    let mut cmd = Command::new("qemu-system-arm");
    cmd.args(["-machine", "mps2-an521", "-cpu", "cortex-m33", "-nographic", "-monitor", "none"])
        .args(["-serial", "none", "-semihosting-config", &semihosting, "-kernel"])
        .arg(image);
    run_with_timeout(&mut cmd, timeout)
}

/// Runs `cmd` with its output captured, killing it after `timeout`.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<Run> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            timed_out = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let Output { status, stdout, stderr } = child.wait_with_output().map_err(|e| e.to_string())?;
    let mut console = String::from_utf8_lossy(&stdout).into_owned();
    console.push_str(&String::from_utf8_lossy(&stderr));
    Ok(Run { status: status.code(), timed_out, console })
}

/// `cargo xtask target-test [FILTER]`: one line per test, then `N passed, N failed`.
pub fn test(filter: Option<&str>) -> Result {
    let cargo = toolchain::ensure()?;
    eprintln!("xtask: target toolchain: {}", cargo.describe());
    let images = build_images(&cargo, "m33-tests")?;
    let (mut passed, mut failed) = (0usize, 0usize);
    for (image_name, image) in &images {
        let listing = qemu(image, &["list"], TEST_TIMEOUT)?;
        let names: Vec<&str> =
            listing.console.lines().filter_map(|l| l.strip_prefix("test-name: ")).collect();
        if listing.status != Some(0) || names.is_empty() {
            println!("test {image_name} (listing) ... FAILED\n{}", listing.console);
            failed += 1;
            continue;
        }
        for (index, name) in names.iter().enumerate() {
            let full = format!("{image_name}::{name}");
            if filter.is_some_and(|f| !full.contains(f)) {
                continue;
            }
            let run = qemu(image, &["run", &index.to_string()], TEST_TIMEOUT)?;
            let ok = run.status == Some(0) && run.console.contains(&format!("test-passed: {name}"));
            if ok {
                println!("test {full} ... ok");
                passed += 1;
            } else {
                let why = if run.timed_out {
                    format!("timed out after {TEST_TIMEOUT:?}")
                } else {
                    format!("exit {:?}", run.status)
                };
                println!("test {full} ... FAILED ({why})");
                for line in run.console.lines() {
                    println!("    {line}");
                }
                failed += 1;
            }
        }
    }
    println!("target: {passed} passed, {failed} failed");
    if failed == 0 && passed > 0 {
        Ok(())
    } else if passed == 0 && failed == 0 {
        Err("no target test ran".into())
    } else {
        Err(format!("{failed} target test(s) failed"))
    }
}
