//! The sine models against TFLM's reference kernels, and the refusal of models whose
//! operators are not implemented. Each operator family has its own test file.

mod common;

use common::{check, root};
use inference::{Error, Model};

#[test]
fn sine_int8_equals_tflm() {
    check("models/sine/sine_int8.tflite", 0.0, 0.0);
}

#[test]
fn sine_float_within_1e6_of_tflm() {
    check("models/sine/sine_float.tflite", 0.0, std::f32::consts::TAU);
}

/// Models whose operators are not all implemented yet: loading names the first
/// missing operator (and this list shrinks as kernels land).
#[test]
fn models_with_missing_operators_are_refused_by_name() {
    // A slice, not an array literal: it may hold one model, or none.
    const MISSING: &[(&str, &str)] = &[];
    for &(model, op) in MISSING {
        let bytes = std::fs::read(root().join(model)).unwrap();
        match Model::load(&bytes) {
            Err(Error::UnsupportedOperator(code)) => assert_eq!(code.name(), op, "{model}"),
            other => panic!("{model}: {:?}", other.err()),
        }
    }
}
