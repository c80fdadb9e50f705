//! AVERAGE_POOL_2D, MAX_POOL_2D, PAD, MEAN and CONCATENATION against TFLM's reference
//! kernels: the operator test models, single-operator models that cover what the
//! converter did not emit there (`pool_shapes_variants.py`), and models the engine
//! must refuse.

mod common;

use inference::{Error, Model, OpCode};
use std::path::PathBuf;
use std::sync::OnceLock;

#[test]
fn pool_int8_equals_tflm() {
    common::check("models/ops/pool_int8.tflite", -1.0, 1.0);
}

#[test]
fn pool_float32_within_1e6_of_tflm() {
    common::check("models/ops/pool_float32.tflite", -1.0, 1.0);
}

#[test]
fn shapes_int8_equals_tflm() {
    common::check("models/ops/shapes_int8.tflite", -1.0, 1.0);
}

#[test]
fn shapes_float32_within_1e6_of_tflm() {
    common::check("models/ops/shapes_float32.tflite", -1.0, 1.0);
}

/// The int8 network with float input and output, whose last missing operator was
/// AVERAGE_POOL_2D.
#[test]
fn cnn_float_io_within_1e6_of_tflm() {
    common::check("models/ops/cnn_float_io.tflite", -1.0, 1.0);
}

/// The single-operator models, written once per test run.
fn variants() -> &'static [PathBuf] {
    static PATHS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    PATHS.get_or_init(|| common::generate("pool_shapes_variants.py"))
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
fn pool_variants_equal_tflm() {
    // Wide enough for the fused activations to clamp.
    check_all("avgpool_", -3.0, 3.0);
    check_all("maxpool_", -3.0, 3.0);
}

#[test]
fn pad_variants_equal_tflm() {
    check_all("pad_", -1.0, 1.0);
}

#[test]
fn mean_variants_equal_tflm() {
    check_all("mean_", -1.0, 1.0);
}

#[test]
fn concatenation_variants_equal_tflm() {
    check_all("concat_", -1.0, 1.0);
}

/// The operator a variant's name starts with, after its prefix.
fn operator_of(name: &str) -> OpCode {
    match name.split('_').nth(1).unwrap() {
        "avgpool" => OpCode::AVERAGE_POOL_2D,
        "maxpool" => OpCode::MAX_POOL_2D,
        "pad" => OpCode::PAD,
        "mean" => OpCode::MEAN,
        "concat" => OpCode::CONCATENATION,
        _ => panic!("{name}"),
    }
}

#[test]
fn broken_models_are_refused_with_the_operator_named() {
    // Each broken model and a word of the reason it must be refused for.
    let reasons = [
        ("bad_avgpool_concat_options", "options"),
        ("bad_avgpool_no_options", "options"),
        ("bad_avgpool_output_size", "output size"),
        ("bad_avgpool_rank3", "4D"),
        ("bad_concat_activation", "activation"),
        ("bad_concat_axis", "axis"),
        ("bad_concat_eleven_inputs", "ten inputs"),
        ("bad_concat_int8_scales", "scale"),
        ("bad_concat_negative_axis", "axis"),
        ("bad_concat_shape", "off the axis"),
        ("bad_concat_sum", "sum"),
        ("bad_maxpool_channels", "channels"),
        ("bad_maxpool_filter_too_large", "output size"),
        ("bad_maxpool_int8_zero_point", "zero point"),
        ("bad_maxpool_stride_zero", "stride"),
        ("bad_mean_axes_not_constant", "constant"),
        ("bad_mean_axis_out_of_range", "axis"),
        ("bad_mean_negative_axis_out_of_range", "axis"),
        ("bad_mean_output_shape", "output shape"),
        ("bad_mean_types", "type"),
        ("bad_pad_int8_value_zero_point", "quantization"),
        ("bad_pad_negative", "negative"),
        ("bad_pad_output_shape", "output shape"),
        ("bad_pad_paddings_count", "two per dimension"),
        ("bad_pad_paddings_float", "int32"),
        ("bad_pad_paddings_not_constant", "constant"),
        ("bad_pad_rank6", "at most 5"),
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

#[test]
fn versions_above_the_implemented_are_refused() {
    for path in named("over_") {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let bytes = std::fs::read(path).unwrap();
        let op = operator_of(name);
        let version = if op == OpCode::PAD { 5 } else { 3 };
        assert_eq!(Model::load(&bytes).err(), Some(Error::UnsupportedVersion(op, version)), "{name}");
    }
}

#[test]
fn flipped_bytes_in_pool_and_shape_models_never_panic() {
    let models = [
        "models/ops/pool_int8.tflite",
        "models/ops/pool_float32.tflite",
        "models/ops/shapes_int8.tflite",
        "models/ops/shapes_float32.tflite",
    ]
    .map(|m| common::root().join(m));
    common::flip_bytes(models, 0x1357_9BDF, 2000);
}
