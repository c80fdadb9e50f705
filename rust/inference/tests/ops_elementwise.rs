//! ADD, MUL, SOFTMAX, LOGISTIC and TANH against TFLM's reference kernels: the operator
//! test models, single-operator models that cover what the converter did not emit
//! there (`elementwise_variants.py`: other broadcasts, betas, scales, zero points,
//! both inputs constant, ...), and models the engine must refuse.

mod common;

use inference::{Error, Interpreter, Model, OpCode};
use std::path::PathBuf;
use std::sync::OnceLock;

#[test]
fn elementwise_int8_equals_tflm() {
    common::check("models/ops/elementwise_int8.tflite", -1.0, 1.0);
}

#[test]
fn elementwise_float32_within_1e6_of_tflm() {
    common::check("models/ops/elementwise_float32.tflite", -2.0, 2.0);
}

#[test]
fn activations_int8_equals_tflm() {
    common::check("models/ops/activations_int8.tflite", -1.0, 1.0);
}

#[test]
fn activations_float32_within_1e6_of_tflm() {
    // Wide enough to reach logistic's cut-offs (-9, 16.6) and tanh's saturation.
    common::check("models/ops/activations_float32.tflite", -20.0, 20.0);
}

#[test]
fn fc_int8_equals_tflm() {
    common::check("models/ops/fc_int8.tflite", -1.0, 1.0);
}

#[test]
fn fc_float32_within_1e6_of_tflm() {
    common::check("models/ops/fc_float32.tflite", -1.0, 1.0);
}

/// Per-channel weights, which the converter does not emit for FULLY_CONNECTED
/// (`elementwise_variants.py`).
#[test]
fn fc_int8_per_channel_variants_equal_tflm() {
    assert_eq!(named("fc_int8_per_channel").len(), 4);
    check_all("fc_int8_per_channel", -1.0, 1.0);
}

/// The single-operator models, written once per test run.
fn variants() -> &'static [PathBuf] {
    static PATHS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    PATHS.get_or_init(|| common::generate("elementwise_variants.py"))
}

fn named(prefix: &str) -> Vec<&'static PathBuf> {
    common::named(variants(), prefix)
}

fn check_all(prefix: &str, low: f32, high: f32) {
    for path in named(prefix) {
        common::check(path.to_str().unwrap(), low, high);
    }
}

#[test]
fn add_and_mul_variants_equal_tflm() {
    check_all("add_", -3.0, 3.0);
    check_all("mul_", -3.0, 3.0);
}

#[test]
fn softmax_variants_equal_tflm() {
    check_all("softmax_", -10.0, 10.0);
}

#[test]
fn logistic_and_tanh_variants_equal_tflm() {
    check_all("logistic_", -1.0, 1.0);
    check_all("tanh_", -1.0, 1.0);
}

/// The operator a variant's name starts with, after its prefix.
fn operator_of(name: &str) -> OpCode {
    let op = name.split('_').nth(1).unwrap();
    match op {
        "add" => OpCode::ADD,
        "mul" => OpCode::MUL,
        "softmax" => OpCode::SOFTMAX,
        "logistic" => OpCode::LOGISTIC,
        "tanh" => OpCode::TANH,
        _ => panic!("{name}"),
    }
}

#[test]
fn broken_models_are_refused_with_the_operator_named() {
    // Each broken model and a word of the reason it must be refused for.
    let reasons = [
        ("bad_add_int8_output_scale", "below one"),
        ("bad_add_mul_options", "options"),
        ("bad_add_not_broadcast", "broadcast"),
        ("bad_add_output_not_broadcast", "broadcast"),
        ("bad_add_tanh_fused", "activation"),
        ("bad_add_types", "type"),
        ("bad_logistic_int8_output_zero_point", "zero point"),
        ("bad_logistic_int8_tiny_scale", "scale"),
        ("bad_mul_int8_rescale_huge", "scale"),
        ("bad_mul_one_input", "two inputs"),
        ("bad_softmax_int8_no_beta", "beta"),
        ("bad_softmax_int8_output_scale", "1/256"),
        ("bad_softmax_int8_output_zero_point", "-128"),
        ("bad_softmax_shape", "shape"),
        ("bad_tanh_sizes", "size"),
        ("bad_tanh_types", "type"),
    ];
    let paths = named("bad_");
    assert_eq!(paths.len(), reasons.len());
    for path in paths {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let (_, reason) = reasons.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("{name}"));
        let bytes = std::fs::read(path).unwrap();
        match Model::load(&bytes) {
            Err(Error::InvalidOperator(op, why)) => {
                assert_eq!(op, operator_of(name), "{name}: {why}");
                assert!(why.text().contains(reason), "{name}: {why}");
            }
            other => panic!("{name}: {:?}", other.err()),
        }
    }
}

/// Where TFLM's int8 softmax aborts (a TFLITE_CHECK: the row's sum of exponentials
/// reaches 512), invoke fails instead.
#[test]
fn int8_softmax_rows_summing_to_512_fail_at_invoke() {
    let path = named("softmax_int8_deep")[0];
    let bytes = std::fs::read(path).unwrap();
    let model = Model::load(&bytes).unwrap();
    let mut arena = vec![0u8; 4096];
    let mut interp = Interpreter::<4, 2>::new(model, &mut arena).unwrap();
    interp.input(0).unwrap().fill(3); // 600 equal values: the sum is 600
    assert!(matches!(interp.invoke(), Err(Error::InvalidOperator(OpCode::SOFTMAX, _))));
    for (i, x) in interp.input(0).unwrap().iter_mut().enumerate() {
        *x = if i < 511 { 0 } else { 0x80 }; // 511 maxima, the rest far below
    }
    interp.invoke().unwrap();
    let out = interp.output(0).unwrap();
    assert!(out[..511].iter().all(|&v| v == out[0]) && out[511..].iter().all(|&v| v as i8 == -128));
}

#[test]
fn versions_above_the_implemented_are_refused() {
    for path in named("over_") {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let bytes = std::fs::read(path).unwrap();
        let op = operator_of(name);
        let version = if op == OpCode::MUL { 4 } else { 3 };
        assert_eq!(Model::load(&bytes).err(), Some(Error::UnsupportedVersion(op, version)), "{name}");
    }
}

#[test]
fn flipped_bytes_in_elementwise_models_never_panic() {
    let models = [
        "models/ops/elementwise_int8.tflite",
        "models/ops/elementwise_float32.tflite",
        "models/ops/activations_int8.tflite",
        "models/ops/activations_float32.tflite",
    ]
    .map(|m| common::root().join(m));
    common::flip_bytes(models.into_iter().chain(named("softmax_").into_iter().cloned()), 0x2468_ACE1, 3000);
}
