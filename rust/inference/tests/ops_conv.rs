//! CONV_2D and DEPTHWISE_CONV_2D against TFLM's reference kernels: the operator test
//! models, variants of them that cover what the converter did not emit there
//! (`conv_variants.py`: dilation, unequal strides, grouped filters, no bias,
//! RELU_N1_TO_1, two batches, wide channel blocks), and models the engine must refuse.

mod common;

use inference::{Error, Interpreter, Model, OpCode};
use std::path::PathBuf;
use std::sync::OnceLock;

#[test]
fn conv_int8_equals_tflm() {
    common::check("models/ops/conv_int8.tflite", -1.0, 1.0);
}

#[test]
fn conv_float32_within_1e6_of_tflm() {
    common::check("models/ops/conv_float32.tflite", -1.0, 1.0);
}

#[test]
fn depthwise_int8_equals_tflm() {
    common::check("models/ops/depthwise_int8.tflite", -1.0, 1.0);
}

#[test]
fn depthwise_float32_within_1e6_of_tflm() {
    common::check("models/ops/depthwise_float32.tflite", -1.0, 1.0);
}

/// The derived models, written once per test run.
fn variants() -> &'static [PathBuf] {
    static PATHS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    PATHS.get_or_init(|| common::generate("conv_variants.py"))
}

fn named(prefix: &str) -> Vec<&'static PathBuf> {
    common::named(variants(), prefix)
}

fn check_all(prefix: &str) {
    for path in named(prefix) {
        common::check(path.to_str().unwrap(), -1.0, 1.0);
    }
}

#[test]
fn conv_variants_int8_equal_tflm() {
    check_all("conv_int8_");
}

#[test]
fn conv_variants_float32_within_1e6_of_tflm() {
    check_all("conv_float32_");
}

#[test]
fn depthwise_variants_int8_equal_tflm() {
    check_all("depthwise_int8_");
}

#[test]
fn depthwise_variants_float32_within_1e6_of_tflm() {
    check_all("depthwise_float32_");
}

#[test]
fn broken_models_are_refused_with_the_operator_named() {
    for path in named("bad_") {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let want = if name.starts_with("bad_conv") { OpCode::CONV_2D } else { OpCode::DEPTHWISE_CONV_2D };
        let bytes = std::fs::read(path).unwrap();
        match Model::load(&bytes) {
            Err(Error::InvalidOperator(op, why)) => assert_eq!(op, want, "{name}: {why}"),
            other => panic!("{name}: {:?}", other.err()),
        }
    }
}

#[test]
fn versions_above_the_implemented_are_refused() {
    // The models' operator code table: one code, version 3 for both int8 models.
    for (model, op, version) in [
        ("models/ops/conv_int8.tflite", OpCode::CONV_2D, 7),
        ("models/ops/depthwise_int8.tflite", OpCode::DEPTHWISE_CONV_2D, 4),
    ] {
        let bytes = std::fs::read(common::root().join(model)).unwrap();
        let patched = set_version(&bytes, version);
        assert_eq!(Model::load(&patched).err(), Some(Error::UnsupportedVersion(op, version)), "{model}");
    }
}

#[test]
fn parse_then_init_refuses_what_load_refuses() {
    // Model::parse leaves each operator's constraints to the interpreter's one
    // preparation: the models load refuses must fail there, with load's error.
    let mut cases: Vec<(String, Vec<u8>)> = named("bad_")
        .into_iter()
        .map(|path| (path.file_stem().unwrap().to_str().unwrap().to_owned(), std::fs::read(path).unwrap()))
        .collect();
    for (model, version) in [("models/ops/conv_int8.tflite", 7), ("models/ops/depthwise_int8.tflite", 4)] {
        let bytes = std::fs::read(common::root().join(model)).unwrap();
        cases.push((format!("{model} version {version}"), set_version(&bytes, version)));
    }
    assert!(cases.len() > 2);
    for (name, bytes) in &cases {
        let refused = Model::load(bytes).err().unwrap_or_else(|| panic!("{name}: load accepts it"));
        let model = Model::parse(bytes).unwrap_or_else(|e| panic!("{name}: parse refuses it: {e}"));
        let mut arena = vec![0u8; 1 << 20];
        match Interpreter::<64, 16>::new(model, &mut arena) {
            Err(e) => assert_eq!(e, refused, "{name}"),
            Ok(_) => panic!("{name}: init accepts what load refuses ({refused})"),
        }
    }
}

/// The model with its single operator code's version field set (the field must be
/// present, as the converter writes it).
fn set_version(bytes: &[u8], version: i32) -> Vec<u8> {
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let u16_at = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap()) as usize;
    let table_field = |table: usize, id: usize| {
        let vtable = (table as isize - u32_at(table) as i32 as isize) as usize;
        let off = u16_at(vtable + 4 + 2 * id);
        assert_ne!(off, 0, "field {id} absent");
        table + off
    };
    let root = u32_at(0);
    let codes_field = table_field(root, 1);
    let codes = codes_field + u32_at(codes_field);
    assert_eq!(u32_at(codes), 1, "one operator code");
    let code = codes + 4 + u32_at(codes + 4);
    let at = table_field(code, 2);
    let mut out = bytes.to_vec();
    out[at..at + 4].copy_from_slice(&version.to_le_bytes());
    out
}

#[test]
fn flipped_bytes_in_conv_models_never_panic() {
    let models = [
        "models/ops/conv_int8.tflite",
        "models/ops/conv_float32.tflite",
        "models/ops/depthwise_int8.tflite",
        "models/ops/depthwise_float32.tflite",
    ]
    .map(|m| common::root().join(m));
    common::flip_bytes(models, 0x1234_5677, 3000);
}
