//! `cargo xtask <command>`: the project's build, test and benchmark entry points.
//!
//! Everything a fresh machine needs is installed from here (Debian packages when run
//! as root, a pinned Python venv under `target/`), so the README's two commands are
//! the whole setup.

mod bench;
mod bench_ca;
mod bench_fleet;
mod demo;
mod fuzz;
mod host;
mod python;
mod soak;
mod system;
mod target;
mod toolchain;
mod zephyr;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  demo [--interactive] boot the emulated device (host emulation) and run a scripted
                       session; --interactive leaves its shell open
  test                 everything CI runs: format, lints, host tests, target tests,
                       the instruction-counter check
  target-test [FILTER] build the test images for thumbv8m.main-none-eabi and run each
                       test on qemu-system-arm -machine mps2-an521 -cpu cortex-m33
  bench [IMAGE...]     build the benchmark images and measure them on the emulated M33:
                       retired instructions (exact), flash, RAM, stack peak
  bench ca [--liteboot CLONE_DIR]
                       the bootstrap CA under the anchor's load generator, beside
                       liteboot built from CLONE_DIR
  bench fleet [DEVICES]
                       DEVICES emulated devices (default 200) publishing at once through
                       one mosquitto to one cloud listen: results/s, p99, CPU, RSS
  size ELF...          flash and RAM of linked images
  soak [KILLS]         kill the secure process KILLS times (default 2,000) during
                       result and storage writes; no counter repeats, no write is lost
  fuzz [SECONDS]       fuzz the inference crate's loader, planner and kernels with
                       libFuzzer (nightly, cargo-fuzz) for SECONDS (default 600)
  headers [--check]    regenerate the Zephyr app's C from the Rust (cbindgen headers,
                       the shell command table); --check only compares
  setup                install what the other commands need, then stop
";

/// Errors end the command with a message; there is nothing to recover.
pub type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo::run(&args[1..]),
        Some("test") => host::test_all(),
        Some("target-test") => target::test(args.get(1).map(String::as_str)),
        Some("bench") => bench::run(&args[1..]),
        Some("size") => bench::size(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("soak") => soak::run(&args[1..]),
        Some("headers") => zephyr::headers(&args[1..]),
        Some("setup") => toolchain::ensure().map(|_| ()).and_then(|()| python::venv().map(|_| ())),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives in `rust/xtask`).
pub fn root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().nth(2).expect("rust/xtask sits two levels below the root").to_path_buf()
}

/// Runs a command to completion; a non-zero status is an error naming the command.
pub fn run(cmd: &mut std::process::Command) -> Result {
    let status = cmd.status().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}
