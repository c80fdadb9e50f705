//! Links the images with m33-rt's memory map and startup (no C runtime), with a
//! 128 KiB stack instead of m33.ld's 64 KiB: the `results` and `p256_ct` images keep
//! the ENCRYPT0 recipient key's comb table (52 KiB, a static on the device) on it.
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let script = std::fs::read_to_string(manifest.join("../m33-rt/m33.ld")).expect("m33-rt's m33.ld");
    let from = "_stack_size = 64K;";
    assert!(script.contains(from), "m33-rt's m33.ld no longer sets {from}");
    std::fs::write(out.join("m33-bench.ld"), script.replace(from, "_stack_size = 128K;"))
        .expect("write m33-bench.ld");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../m33-rt/m33.ld");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-nostartfiles");
    println!("cargo:rustc-link-arg-bins=-Tm33-bench.ld");
}
