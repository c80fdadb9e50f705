//! `HUK_DERIV_LABEL_EXTRA` is a build option of the secure image (TF-M's CMake passes
//! it in the environment); rebuild when it changes.
//!
//! With `model-kws`: finds the keyword-spotting model (MLPerf Tiny's DS-CNN) at
//! `SECURE_INFER_MODEL_KWS` (a path), else in `shared/models/mlperf-tiny/` beside the
//! repository, checks that the interpreter takes it, and writes `kws.rs`: its path for
//! `include_bytes!`, its exact arena ([`inference::Model::arena_bytes`]), tensor and
//! operator counts. A missing or refused model stops the build, naming the path; with
//! `model-kws-if-present` (the host emulation's) a missing one leaves the model out
//! with a warning, so that a clone without `shared/` still builds. `cfg(kws_model)`
//! says whether it is in.
use std::path::PathBuf;
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-env-changed=HUK_DERIV_LABEL_EXTRA");
    println!("cargo:rerun-if-env-changed=SECURE_INFER_MODEL_KWS");
    println!("cargo::rustc-check-cfg=cfg(kws_model)");
    let required = env::var_os("CARGO_FEATURE_MODEL_KWS").is_some();
    if !required && env::var_os("CARGO_FEATURE_MODEL_KWS_IF_PRESENT").is_none() {
        return;
    }
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let path = match env::var_os("SECURE_INFER_MODEL_KWS") {
        Some(p) => PathBuf::from(p),
        None => manifest.join("../../../shared/models/mlperf-tiny/kws_ref_model.tflite"),
    };
    println!("cargo:rerun-if-changed={}", path.display());
    if !required && !path.exists() {
        println!(
            "cargo:warning=keyword spotting left out: {} is missing (set SECURE_INFER_MODEL_KWS)",
            path.display()
        );
        return;
    }
    let bytes = fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\nfeature model-kws compiles in MLPerf Tiny's keyword-spotting model: set \
             SECURE_INFER_MODEL_KWS to its kws_ref_model.tflite, or build without the feature",
            path.display()
        )
    });
    let model = inference::Model::load(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let arena = model.arena_bytes::<64>().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let canonical = path.canonicalize().expect("the model was read");
    let code = format!(
        "/// MLPerf Tiny's keyword-spotting DS-CNN (`kws_ref_model.tflite`).\n\
         pub static MODEL: &[u8] = include_bytes!({canonical:?});\n\
         /// Its arena, exactly.\npub const ARENA_BYTES: usize = {arena};\n\
         pub const TENSORS: usize = {};\npub const OPERATORS: usize = {};\n",
        model.tensor_count(),
        model.operator_count(),
    );
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("kws.rs"), code).expect("write kws.rs");
    println!("cargo:rustc-cfg=kws_model");
}
