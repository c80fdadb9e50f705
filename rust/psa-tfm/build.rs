//! Optionally generates `src/ffi.rs`'s declarations from TF-M's own headers.
//!
//! Only with the `bindgen` feature AND `TFM_PSA_INCLUDE_DIR` naming TF-M's
//! `interface/include` (the folder holding `psa/client.h` and `psa/service.h`); extra
//! clang flags (a config header's folder, say) go in bindgen's `BINDGEN_EXTRA_CLANG_ARGS`.
//! The generated set then replaces the checked-in one and `ffi.rs`'s layout pins check
//! it, so a header that drifted from TF-M 2.1 fails the build instead of the partition.
//! Otherwise this script only declares the `psa_tfm_bindgen` cfg.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(psa_tfm_bindgen)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=TFM_PSA_INCLUDE_DIR");
    #[cfg(feature = "bindgen")]
    if let Some(dir) = std::env::var_os("TFM_PSA_INCLUDE_DIR") {
        generate(std::path::Path::new(&dir));
    }
}

#[cfg(feature = "bindgen")]
fn generate(dir: &std::path::Path) {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut builder = bindgen::Builder::default()
        // `no_std`: `core::ffi` types, not `std::os::raw`.
        .use_core()
        .clang_arg(format!("-I{}", dir.display()))
        // The headers only need <stdint.h>/<stddef.h>; clang's own copies serve a
        // bare-metal target that has no libc headers installed.
        .clang_arg("-ffreestanding")
        .allowlist_function("psa_.*")
        .allowlist_type("psa_.*")
        // ffi.rs pins the layout itself, for both sets alike.
        .layout_tests(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for header in ["psa/client.h", "psa/service.h"] {
        builder = builder.header(dir.join(header).display().to_string());
    }
    // A build script reports failure by panicking; the message names the cause.
    let bindings = builder.generate().unwrap_or_else(|e| panic!("bindgen on {}: {e}", dir.display()));
    bindings
        .write_to_file(out.join("psa_bindings.rs"))
        .unwrap_or_else(|e| panic!("write psa_bindings.rs: {e}"));
    println!("cargo::rustc-cfg=psa_tfm_bindgen");
}
