//! Puts the image linker script where the linker finds it; images pass `-Tm33.ld`.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("m33.ld"), include_bytes!("m33.ld")).expect("write m33.ld");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=m33.ld");
}
