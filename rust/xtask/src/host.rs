//! `cargo xtask test`: everything CI runs, in the order that fails fastest.

use crate::Result;
use std::process::Command;
use std::time::Instant;

/// Crates that only build for the emulated target.
const TARGET_ONLY: &[&str] = &["m33-rt", "m33-tests", "m33-bench", "tfm-partitions", "zephyr-ns"];

pub fn test_all() -> Result {
    let started = Instant::now();
    let root = crate::root();
    let cargo = || {
        let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        c.current_dir(&root);
        c
    };
    let host_crates = |c: &mut Command| {
        c.arg("--workspace");
        for name in TARGET_ONLY {
            c.args(["--exclude", name]);
        }
    };

    step("setup: Debian packages, target toolchain, pinned Python venv");
    let target_cargo = crate::toolchain::ensure()?;
    let python = crate::python::venv()?;

    step("format");
    crate::run(cargo().args(["fmt", "--all", "--", "--check"]))?;

    step("lints (host crates)");
    let mut clippy = cargo();
    clippy.args(["clippy", "--all-targets"]);
    host_crates(&mut clippy);
    crate::run(clippy.args(["--", "-D", "warnings"]))?;

    step("lints (the firmware's two staticlibs, checked on the host as no_std with panic=abort)");
    for args in [&["zephyr-ns"][..], &["zephyr-ns", "--features", "net"], &["tfm-partitions"]] {
        let mut clippy = cargo();
        clippy.args(["clippy", "--quiet", "--lib", "--package"]).args(args);
        crate::run(clippy.args(["--", "-C", "panic=abort", "-D", "warnings"]))?;
    }

    step("lints (inference with each operator alone, as an image chooses them)");
    for feature in operator_features()? {
        let mut clippy = cargo();
        clippy.args(["clippy", "--quiet", "--package", "inference", "--lib", "--no-default-features"]);
        if !feature.is_empty() {
            clippy.args(["--features", &feature]);
        }
        crate::run(clippy.args(["--", "-D", "warnings"]))?;
    }
    eprintln!("inference: each operator feature alone (and none) is clean");

    step("host tests (interop tests use openssl and the venv's Python)");
    let mut test = cargo();
    test.arg("test").env("SI_PYTHON", &python);
    host_crates(&mut test);
    crate::run(&mut test)?;

    step("Zephyr app without Zephyr: generated C, Kconfig, config checks, staticlib exports");
    crate::zephyr::check_app(&python, &target_cargo)?;

    step("target tests (emulated Cortex-M33)");
    crate::target::test(None)?;

    step("instruction counter (Unicorn Cortex-M33)");
    let images = crate::target::build_images(&target_cargo, "m33-bench")?;
    let (_, counter) = images.iter().find(|(n, _)| n == "counter").ok_or("no counter image")?;
    crate::bench::check_counter(&python, counter)?;

    step("constant time: p256-sign's traces on Unicorn's Cortex-M33 (tools/m33trace.py)");
    let (_, traced) = images.iter().find(|(n, _)| n == "p256_ct").ok_or("no p256_ct image")?;
    crate::bench::check_constant_time(&python, traced)?;

    eprintln!("xtask: all checks passed in {:.0?}", started.elapsed());
    Ok(())
}

/// `inference`'s operator features (`op-*` in its Cargo.toml), and "" for none.
fn operator_features() -> Result<Vec<String>> {
    let path = crate::root().join("rust/inference/Cargo.toml");
    let manifest = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut features = vec![String::new()];
    features.extend(
        manifest
            .lines()
            .filter_map(|line| line.split_once(" = ["))
            .map(|(name, _)| name.trim())
            .filter(|name| name.starts_with("op-"))
            .map(String::from),
    );
    if features.len() < 2 {
        return Err("rust/inference/Cargo.toml: no op-* features found".into());
    }
    Ok(features)
}

fn step(name: &str) {
    eprintln!("\nxtask: == {name}");
}
