//! Deterministic measurements on the emulated Cortex-M33.
//!
//! Instructions: `tools/m33count.py` runs an image on Unicorn's Cortex-M33 and counts
//! the instructions retired between `m33_rt::bench` markers; the same image gives
//! the same count on every run, which [`check_counter`] proves before any figure is
//! trusted. Footprint: flash = every loaded section (vector table, .text, .rodata,
//! .data's load image); RAM = .data + .bss + the painted stack's peak.

use crate::toolchain;
use crate::Result;
use object::{Object, ObjectSection, SectionFlags, SectionKind};
use std::path::Path;
use std::process::Command;

/// Flash and static RAM of a linked image, in bytes.
pub struct Footprint {
    pub flash: u64,
    pub ram_static: u64,
}

pub fn footprint(elf: &Path) -> Result<Footprint> {
    let data = std::fs::read(elf).map_err(|e| format!("{}: {e}", elf.display()))?;
    let file = object::File::parse(&*data).map_err(|e| format!("{}: {e}", elf.display()))?;
    let (mut flash, mut ram_static) = (0, 0);
    for section in file.sections() {
        let SectionFlags::Elf { sh_flags } = section.flags() else {
            continue;
        };
        const SHF_WRITE: u64 = 0x1;
        const SHF_ALLOC: u64 = 0x2;
        if sh_flags & SHF_ALLOC == 0 {
            continue;
        }
        if section.kind() != SectionKind::UninitializedData {
            flash += section.size();
        }
        if sh_flags & SHF_WRITE != 0 {
            ram_static += section.size();
        }
    }
    Ok(Footprint { flash, ram_static })
}

/// What one counted run of an image reported.
#[derive(PartialEq, Debug)]
pub struct Counted {
    /// (measurement, instructions) in the order the image made them, markers included.
    pub measurements: Vec<(String, u64)>,
    pub exit: i32,
    /// From reset to exit.
    pub total: u64,
    pub stack_peak: Option<u64>,
    /// (operation, bytes) from `stack-peak-bytes[<operation>]: N` lines: the peak of
    /// one operation, which the image measures after `m33_rt::stack::repaint`.
    pub stack_peaks: Vec<(String, u64)>,
    /// Other figures an image prints as `report: <text>` lines (sizes, say).
    pub reports: Vec<String>,
}

impl Counted {
    pub fn get(&self, name: &str) -> Option<u64> {
        self.measurements.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// A measurement less the empty one (`m33_rt::bench::calibrate`).
    pub fn net(&self, name: &str) -> Option<u64> {
        Some(self.get(name)? - self.get("calibration").unwrap_or(0))
    }
}

pub fn count(python: &Path, image: &Path) -> Result<Counted> {
    let script = crate::root().join("tools/m33count.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(image)
        .output()
        .map_err(|e| format!("cannot start {}: {e}", script.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let console = String::from_utf8_lossy(&out.stderr);
    let mut counted = Counted {
        measurements: Vec::new(),
        exit: -1,
        total: 0,
        stack_peak: None,
        stack_peaks: Vec::new(),
        reports: Vec::new(),
    };
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields[..] {
            ["insn", name, n] => counted.measurements.push((name.to_owned(), parse(n)?)),
            ["exit", code, total] => {
                counted.exit = code.parse().map_err(|_| format!("bad exit line {line:?}"))?;
                counted.total = parse(total)?;
            }
            _ => return Err(format!("m33count: unexpected line {line:?}")),
        }
    }
    counted.stack_peak = console.lines().find_map(|l| l.strip_prefix("stack-peak-bytes: ")?.parse().ok());
    counted.stack_peaks = console
        .lines()
        .filter_map(|l| {
            let (op, n) = l.strip_prefix("stack-peak-bytes[")?.rsplit_once("]: ")?;
            Some((op.to_owned(), n.parse().ok()?))
        })
        .collect();
    counted.reports = console.lines().filter_map(|l| Some(l.strip_prefix("report: ")?.to_owned())).collect();
    if counted.exit != 0 || !out.status.success() {
        return Err(format!(
            "{} failed under the counter (exit {}):\n{console}",
            image.display(),
            counted.exit
        ));
    }
    Ok(counted)
}

fn parse(n: &str) -> Result<u64> {
    n.parse().map_err(|_| format!("m33count: bad count {n:?}"))
}

/// Runs `image` twice; the two runs must agree exactly.
pub fn count_twice(python: &Path, image: &Path) -> Result<Counted> {
    let first = count(python, image)?;
    let second = count(python, image)?;
    if first != second {
        return Err(format!("{}: the counter did not repeat:\n{first:?}\n{second:?}", image.display()));
    }
    Ok(first)
}

/// The counter's proof: a loop measured for 1000, 2000 and 4000 iterations scales
/// linearly (each doubling within 2.00 +- 0.02) and repeats exactly.
pub fn check_counter(python: &Path, image: &Path) -> Result {
    let runs = [count(python, image)?, count(python, image)?];
    println!("{:<10} {:>12} {:>12} {:>8}", "iterations", "run 1", "run 2", "ratio");
    let mut previous: Option<u64> = None;
    for n in [1000, 2000, 4000] {
        let name = format!("loop-{n}");
        let [a, b] = [runs[0].net(&name), runs[1].net(&name)];
        let (Some(a), Some(b)) = (a, b) else {
            return Err(format!("counter image reported no {name}"));
        };
        let ratio = previous.map(|p| a as f64 / p as f64);
        let shown = ratio.map(|r| format!("{r:.4}")).unwrap_or_else(|| "-".into());
        println!("{n:<10} {a:>12} {b:>12} {shown:>8}");
        if a != b {
            return Err(format!("{name}: {a} then {b} instructions: the counter does not repeat"));
        }
        if ratio.is_some_and(|r| (r - 2.0).abs() > 0.02) {
            return Err(format!("{name}: ratio {shown} is not 2.00 +- 0.02"));
        }
        previous = Some(a);
    }
    println!("counter: linear and repeatable");
    Ok(())
}

/// p256-sign's constant-time test (issue #18): `tools/m33trace.py` runs the
/// `p256_ct` image and requires, per operation (public key, signature, ECDH), the
/// same instruction count, executed blocks and data addresses for all of its 16 edge
/// and random keys (ECDH: with four peer points in turn) and no division, and finds
/// each of the image's deliberate leaks.
pub fn check_constant_time(python: &Path, image: &Path) -> Result {
    let script = crate::root().join("tools/m33trace.py");
    crate::run(Command::new(python).arg(&script).arg(image))
}

/// `cargo xtask bench [host] [IMAGE...]`: `host` runs the host benchmarks; image
/// names pick emulated-target images; nothing runs everything. `bench ca` and
/// `bench fleet` are the connected system's benchmarks (`bench_ca`, `bench_fleet`).
pub fn run(only: &[String]) -> Result {
    match only.split_first() {
        Some((first, rest)) if first == "ca" => return crate::bench_ca::run(rest),
        Some((first, rest)) if first == "fleet" => return crate::bench_fleet::run(rest),
        _ => {}
    }
    let images: Vec<String> = only.iter().filter(|o| *o != "host").cloned().collect();
    if only.is_empty() || images.len() < only.len() {
        host()?;
    }
    if only.is_empty() || !images.is_empty() {
        target(&images)?;
    }
    Ok(())
}

/// Host benchmarks: release builds, medians of many runs.
fn host() -> Result {
    let root = crate::root();
    println!("== host: psa_call round trip through the emulated boundary");
    crate::run(Command::new(env!("CARGO")).current_dir(&root).args([
        "build",
        "--quiet",
        "--release",
        "--package",
        "device-sim",
        "--bins",
    ]))?;
    crate::run(&mut Command::new(root.join("target/release/psa-call-bench")))?;
    inference_vs_tflm()
}

/// Invokes per timed run and timed runs (the median is reported) of [`inference_vs_tflm`].
const INVOKES: &str = "1000";
const RUNS: &str = "11";
/// The same for the MLPerf Tiny models (milliseconds per invoke on the host).
const MLPERF_INVOKES: &str = "20";
const MLPERF_RUNS: &str = "11";
/// The MLPerf Tiny models, beside the repository as CI clones it.
const MLPERF: [&str; 4] = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"];

/// Our engine against TFLM's interpreter (the pinned `tflite-micro` Python package,
/// its C++ reference kernels) on the largest test models, in one run: the same model,
/// input, invokes and runs on each side (`rust/inference/examples/host_bench.rs`,
/// `tools/tflm_bench.py`). conv_float32 is the largest by bytes; conv_int8 is the same
/// graph (the same MACs) quantized. The TFLM figure includes the fixed cost of each
/// call from Python into C++. Then the four MLPerf Tiny models (`../shared`), the
/// input written again before each invoke on both sides (their invokes reuse its
/// bytes), against the goal of at least twice TFLM's speed.
fn inference_vs_tflm() -> Result {
    let root = crate::root();
    let python = crate::python::venv()?;
    crate::run(Command::new(env!("CARGO")).current_dir(&root).args([
        "build",
        "--quiet",
        "--release",
        "--package",
        "inference",
        "--example",
        "host_bench",
    ]))?;
    let models = ["conv_float32", "conv_int8"].map(|m| (m, root.join("models/ops"), [INVOKES, RUNS], None));
    let mlperf = MLPERF.map(|m| {
        (m, root.join("../shared/models/mlperf-tiny"), [MLPERF_INVOKES, MLPERF_RUNS], Some("--refill"))
    });
    for (model, dir, counts, refill) in models.into_iter().chain(mlperf) {
        println!("== host: {model}.tflite, our engine against the tflite-micro interpreter");
        let path = dir.join(format!("{model}.tflite"));
        if !path.exists() {
            return Err(format!(
                "{}: missing (the MLPerf Tiny models are read from ../shared)",
                path.display()
            ));
        }
        let ours = timed(
            Command::new(root.join("target/release/examples/host_bench"))
                .arg(&path)
                .args(counts)
                .args(refill),
        )?;
        let tflm = timed(
            Command::new(&python).arg(root.join("tools/tflm_bench.py")).arg(&path).args(counts).args(refill),
        )?;
        if ours.1 != tflm.1 {
            return Err(format!("{model}: output checksums differ: ours {}, TFLM {}", ours.1, tflm.1));
        }
        println!("{:<40} {:>12.1} ns", "ours: median per invoke", ours.0);
        println!("{:<40} {:>12.1} ns", "tflite-micro: median per invoke", tflm.0);
        println!(
            "{:<40} {:>12.2} x (output checksum {} on both)",
            "ratio tflite-micro / ours",
            tflm.0 / ours.0,
            ours.1
        );
    }
    Ok(())
}

/// Runs a host benchmark (its arguments given): (median ns per invoke, output checksum).
fn timed(cmd: &mut Command) -> Result<(f64, u64)> {
    let out = cmd.output().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}{}", stdout, String::from_utf8_lossy(&out.stderr)));
    }
    let field = |name: &str| stdout.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
    let median = field("median-ns-per-invoke:").and_then(|v| v.parse().ok());
    let checksum = field("output-checksum:").and_then(|v| v.parse().ok());
    match (median, checksum) {
        (Some(m), Some(c)) => Ok((m, c)),
        _ => Err(format!("{cmd:?}: unexpected output {stdout:?}")),
    }
}

/// Emulated-target images of every bench package, `only` these if any are named.
fn target(only: &[String]) -> Result {
    let cargo = toolchain::ensure()?;
    let python = crate::python::venv()?;
    let mut images = Vec::new();
    for package in crate::target::BENCH_PACKAGES {
        images.extend(crate::target::build_images(&cargo, package)?);
    }
    for name in only {
        if !images.iter().any(|(n, _)| n == name) {
            return Err(format!("no benchmark image {name:?}"));
        }
    }
    for (name, image) in images.iter().filter(|(n, _)| only.is_empty() || only.contains(n)) {
        println!("== {name}");
        if name == "counter" {
            check_counter(&python, image)?;
            continue;
        }
        if name == "p256_ct" {
            check_constant_time(&python, image)?;
            continue;
        }
        let counted = count_twice(&python, image)?;
        let fp = footprint(image)?;
        for (measurement, _) in counted.measurements.iter().filter(|(m, _)| m != "calibration") {
            println!("{measurement:<40} {:>12} instructions", counted.net(measurement).unwrap_or(0));
        }
        for (op, bytes) in &counted.stack_peaks {
            println!("{:<40} {bytes:>12} B", format!("stack peak: {op}"));
        }
        for report in &counted.reports {
            println!("{report}");
        }
        let stack = counted.stack_peak.unwrap_or(0);
        println!(
            "image: flash {} B, RAM {} B (static {} + stack peak {})",
            fp.flash,
            fp.ram_static + stack,
            fp.ram_static,
            stack
        );
    }
    Ok(())
}

/// `cargo xtask size ELF...`.
pub fn size(paths: &[String]) -> Result {
    for path in paths {
        let fp = footprint(Path::new(path))?;
        println!("{path}: flash {} B, static RAM {} B", fp.flash, fp.ram_static);
    }
    Ok(())
}
