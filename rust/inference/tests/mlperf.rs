//! The four MLPerf Tiny reference models (`../shared/models/mlperf-tiny/`, beside the
//! repository, as CI clones it) against TFLM's reference kernels: every output byte
//! equal on seeded int8 inputs. A missing model fails the test with its path.

mod common;

use common::check_cases;

/// Seeded inputs per model (uniform over -128..=127, numpy's PCG64 from seed 7).
const CASES: usize = 20;

fn model(name: &str) -> String {
    format!("../shared/models/mlperf-tiny/{name}.tflite")
}

/// Equal to TFLM on every case, and the cases tell something apart: at least four
/// different outputs (VWW's two scores, on noise, give 5 in 20; the others 20).
fn equals_tflm(name: &str) {
    let distinct = check_cases(&model(name), CASES, 0.0, 0.0);
    assert!(distinct >= 4, "{name}: only {distinct} different outputs in {CASES} cases");
}

#[test]
fn kws_ds_cnn_equals_tflm() {
    equals_tflm("kws_ref_model");
}

#[test]
fn vww_mobilenet_equals_tflm() {
    equals_tflm("vww_96_int8");
}

#[test]
fn resnet8_equals_tflm() {
    equals_tflm("pretrainedResnet_quant");
}

#[test]
fn anomaly_autoencoder_equals_tflm() {
    equals_tflm("ad01_int8");
}
