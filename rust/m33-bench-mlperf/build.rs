//! With the `image` feature: finds the MLPerf Tiny models in `../shared/models/mlperf-tiny`
//! beside the repository (a clear error if absent), and writes `models.rs` for the
//! images: per model its path (for `include_bytes!`), its tensor and operator counts,
//! the exact arena it needs ([`inference::Model::arena_bytes`]) and the output our
//! engine gives on the host for the bench input, which the image must reproduce. All four
//! are also compiled by `inference-aot` into Rust, `<name>_aot.rs`, for the `<name>_aot`
//! images. Links
//! the images with m33-rt's memory map and startup, with a larger stack for the arenas.
use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

/// (module name, file stem) of each model.
const MODELS: [(&str, &str); 4] = [
    ("kws", "kws_ref_model"),
    ("vww", "vww_96_int8"),
    ("resnet", "pretrainedResnet_quant"),
    ("ad", "ad01_int8"),
];

/// The models compiled ahead of time as well (module name `<name>_aot`).
const AOT: [&str; 4] = ["kws", "vww", "resnet", "ad"];

/// The stack of these images: the arena lives on it (VWW's is about 100 kB).
const STACK: &str = "256K";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if env::var_os("CARGO_FEATURE_IMAGE").is_none() {
        return;
    }
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = manifest.join("../../../shared/models/mlperf-tiny");
    let mut code = String::new();
    for (name, stem) in MODELS {
        let path = dir.join(format!("{stem}.tflite"));
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}\nthe MLPerf Tiny benchmark images read the models from `shared/models/mlperf-tiny` \
                 beside the repository's folder",
                path.display()
            )
        });
        let model = inference::Model::load(&bytes).unwrap_or_else(|e| panic!("{stem}: {e}"));
        let arena = model.arena_bytes::<256>().unwrap_or_else(|e| panic!("{stem}: {e}"));
        let mut buf = vec![0u8; arena];
        let mut interp =
            inference::Interpreter::<256, 64>::new(model, &mut buf).expect("arena_bytes is exact");
        for (i, b) in interp.input(0).expect("one input").iter_mut().enumerate() {
            *b = (((i * 7919) % 256) as i32 - 128) as u8;
        }
        interp.invoke().unwrap_or_else(|e| panic!("{stem}: {e}"));
        let output: Vec<String> =
            interp.output(0).expect("one output").iter().map(|&b| (b as i8).to_string()).collect();
        let canonical = path.canonicalize().expect("the model was read");
        writeln!(
            code,
            "/// `{stem}.tflite`.\npub mod {name} {{\n    \
             pub static MODEL: &[u8] = include_bytes!({canonical:?});\n    \
             pub const TENSORS: usize = {};\n    \
             pub const OPERATORS: usize = {};\n    \
             pub const ARENA: usize = {arena};\n    \
             /// Our engine's output on the host for the bench input.\n    \
             pub const OUTPUT: [i8; {}] = [{}];\n}}",
            model.tensor_count(),
            model.operator_count(),
            output.len(),
            output.join(", "),
        )
        .expect("write to a String");
        if AOT.contains(&name) {
            let source = inference_aot::generate(&bytes, &format!("{stem}.tflite"))
                .unwrap_or_else(|e| panic!("{stem}: {e}"));
            fs::write(out.join(format!("{name}_aot.rs")), source).expect("write the generated engine");
            writeln!(
                code,
                "/// `{stem}.tflite`, compiled ahead of time by inference-aot.\npub mod {name}_aot {{\n    \
                 include!(concat!(env!(\"OUT_DIR\"), \"/{name}_aot.rs\"));\n}}"
            )
            .expect("write to a String");
        }
    }
    fs::write(out.join("models.rs"), code).expect("write models.rs");

    let script = fs::read_to_string(manifest.join("../m33-rt/m33.ld")).expect("m33-rt's m33.ld");
    let from = "_stack_size = 64K;";
    assert!(script.contains(from), "m33-rt's m33.ld no longer sets {from}");
    fs::write(out.join("m33-mlperf.ld"), script.replace(from, &format!("_stack_size = {STACK};")))
        .expect("write m33-mlperf.ld");
    println!("cargo:rerun-if-changed=../m33-rt/m33.ld");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-nostartfiles");
    println!("cargo:rustc-link-arg-bins=-Tm33-mlperf.ld");
}
