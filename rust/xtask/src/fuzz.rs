//! `cargo xtask fuzz [SECONDS]`: libFuzzer over `inference`'s loader, planner and
//! kernels (`rust/inference/fuzz`, target `load_and_run`).
//!
//! Needs nightly Rust (`cargo +nightly`); cargo-fuzz is installed from crates.io when
//! missing. The fuzzer grows a scratch copy of the committed seeds under `target/`,
//! so `rust/inference/fuzz/corpus` stays the small set of the project's own models.
//! Crashing inputs land in `target/fuzz/artifacts/`. Not part of `cargo xtask test`.

use crate::Result;
use std::process::{Command, Stdio};

const TARGET: &str = "load_and_run";
const DEFAULT_SECONDS: u64 = 600;

pub fn run(args: &[String]) -> Result {
    let seconds = match args {
        [] => DEFAULT_SECONDS,
        [s] => s.parse().map_err(|_| format!("fuzz: SECONDS must be a number, not {s:?}"))?,
        _ => return Err("usage: cargo xtask fuzz [SECONDS]".into()),
    };
    ensure_cargo_fuzz()?;

    let root = crate::root();
    let fuzz_dir = root.join("rust/inference/fuzz");
    let seeds = fuzz_dir.join("corpus").join(TARGET);
    let scratch = root.join("target/fuzz/corpus").join(TARGET);
    let artifacts = root.join("target/fuzz/artifacts").join(TARGET);
    for dir in [&scratch, &artifacts] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let entries = std::fs::read_dir(&seeds).map_err(|e| format!("{}: {e}", seeds.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", seeds.display()))?.path();
        if path.is_file() {
            let to = scratch.join(path.file_name().expect("a file has a name"));
            std::fs::copy(&path, &to).map_err(|e| format!("{} -> {}: {e}", path.display(), to.display()))?;
        }
    }

    // libFuzzer writes new inputs to the first corpus directory only: the scratch one.
    crate::run(
        nightly_cargo()
            .current_dir(root.join("rust/inference"))
            .args(["fuzz", "run", TARGET])
            .arg(&scratch)
            .arg(&seeds)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-rss_limit_mb=2048")
            .arg(format!("-artifact_prefix={}/", artifacts.display())),
    )
}

/// `cargo +nightly` through rustup's proxy, without the variables of the cargo that
/// started xtask (they would pin its toolchain).
fn nightly_cargo() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg("+nightly").env_remove("RUSTC").env_remove("RUSTUP_TOOLCHAIN").env_remove("CARGO");
    cmd
}

fn ensure_cargo_fuzz() -> Result {
    let present = nightly_cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-fuzz from crates.io");
    crate::run(
        Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]).env_remove("RUSTUP_TOOLCHAIN"),
    )
}
