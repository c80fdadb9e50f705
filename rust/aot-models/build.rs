//! Compiles each model of `MODELS` into `OUT_DIR/<name>.rs` with inference-aot.

use std::path::Path;

/// Module name and `.tflite`, relative to the workspace root.
const MODELS: &[(&str, &str)] = &[("sine", "models/sine/sine_int8.tflite")];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    for (name, model) in MODELS {
        let path = root.join(model);
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{model}: {e}"));
        let source = inference_aot::generate(&bytes, model).unwrap_or_else(|e| panic!("{model}: {e}"));
        std::fs::write(Path::new(&out).join(format!("{name}.rs")), source).expect("OUT_DIR is writable");
    }
}
