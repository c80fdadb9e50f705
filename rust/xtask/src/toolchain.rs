//! Finding (and on a fresh machine installing) what builds and runs code for the
//! emulated Cortex-M33.
//!
//! The Rust target is `thumbv8m.main-none-eabi`. A rustup-installed standard library
//! for it is preferred; otherwise Debian's `rustc-web`/`cargo-web` build `core` and
//! `alloc` from `rust-web-src` with `-Zbuild-std`, and `RUSTC_BOOTSTRAP=1` is set for
//! that one cargo process only. `arm-none-eabi-gcc` links every image.

use crate::Result;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "thumbv8m.main-none-eabi";

/// Debian packages the target commands need, by the file that shows each is there.
const PACKAGES: &[(&str, &str)] = &[
    ("gcc-arm-none-eabi", "/usr/bin/arm-none-eabi-gcc"),
    ("libnewlib-arm-none-eabi", "/usr/lib/arm-none-eabi/newlib"),
    ("qemu-system-arm", "/usr/bin/qemu-system-arm"),
    // The interop tests check CSRs and keys with the openssl command.
    ("openssl", "/usr/bin/openssl"),
    // The Zephyr app's configuration checks run cmake/check_config.cmake.
    ("cmake", "/usr/bin/cmake"),
    // `azure`'s broker (broker/mosquitto.conf.in) and the tests' second MQTT client.
    ("mosquitto", "/usr/sbin/mosquitto"),
    ("mosquitto-clients", "/usr/bin/mosquitto_sub"),
    // The cloud's page in a real headless browser (rust/cloud/tests/serve.rs).
    ("chromium", "/usr/bin/chromium"),
];
/// Needed only when rustup has no standard library for the target.
const DEBIAN_RUST: &[(&str, &str)] = &[
    ("rustc-web", "/usr/bin/rustc"),
    ("cargo-web", "/usr/bin/cargo"),
    ("rust-web-src", "/usr/lib/rustlib/src/rust/library/core"),
];

/// How to invoke cargo for the target.
pub struct TargetCargo {
    cargo: PathBuf,
    rustc: Option<PathBuf>,
    build_std: bool,
}

impl TargetCargo {
    /// A `cargo <subcommand>` for the target, with the image profile and its own
    /// target directory (so host and target builds never invalidate each other).
    pub fn command(&self, subcommand: &str) -> Command {
        let mut cmd = Command::new(&self.cargo);
        cmd.current_dir(crate::root())
            .arg(subcommand)
            .args(["--target", TARGET, "--profile", "m33"])
            .env("CARGO_TARGET_DIR", target_dir())
            .env("CARGO_TARGET_THUMBV8M_MAIN_NONE_EABI_LINKER", "arm-none-eabi-gcc");
        if let Some(rustc) = &self.rustc {
            cmd.env("RUSTC", rustc);
        }
        if self.build_std {
            cmd.env("RUSTC_BOOTSTRAP", "1").args([
                "-Zbuild-std=core,alloc,compiler_builtins",
                "-Zbuild-std-features=compiler-builtins-mem",
            ]);
        }
        cmd
    }

    pub fn describe(&self) -> String {
        if self.build_std {
            format!("{} with -Zbuild-std (Debian rustc-web)", self.cargo.display())
        } else {
            format!("{} with rustup's {TARGET} standard library", self.cargo.display())
        }
    }
}

pub fn target_dir() -> PathBuf {
    crate::root().join("target/m33")
}

/// Where the linked images of `profile` land.
pub fn image_dir() -> PathBuf {
    target_dir().join(TARGET).join("m33")
}

fn rustup_has_target() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == TARGET))
        .unwrap_or(false)
}

/// What the demo runs besides Rust: the certificate check and the broker.
pub const DEMO_PACKAGES: &[(&str, &str)] =
    &[("openssl", "/usr/bin/openssl"), ("mosquitto", "/usr/sbin/mosquitto")];

/// Installs what is missing (as root) or says exactly what to install; then picks
/// the target toolchain.
pub fn ensure() -> Result<TargetCargo> {
    let rustup = rustup_has_target();
    let mut needed = PACKAGES.to_vec();
    if !rustup {
        needed.extend_from_slice(DEBIAN_RUST);
    }
    ensure_packages(&needed)?;
    Ok(if rustup {
        TargetCargo { cargo: "cargo".into(), rustc: None, build_std: false }
    } else {
        TargetCargo { cargo: "/usr/bin/cargo".into(), rustc: Some("/usr/bin/rustc".into()), build_std: true }
    })
}

/// Installs the Debian packages of `needed` (package, a file that shows it is there)
/// that are missing, as root, or says exactly what to install.
pub fn ensure_packages(needed: &[(&str, &str)]) -> Result {
    let missing: Vec<&str> =
        needed.iter().filter(|(_, probe)| !Path::new(probe).exists()).map(|(p, _)| *p).collect();
    if !missing.is_empty() {
        let line = format!("apt-get install -y {}", missing.join(" "));
        if !is_root() {
            return Err(format!("missing Debian packages; run: sudo apt-get update && sudo {line}"));
        }
        eprintln!("xtask: installing {}", missing.join(" "));
        crate::run(Command::new("apt-get").arg("update").arg("-qq"))?;
        crate::run(
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false)
}
