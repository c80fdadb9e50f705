//! The sine models against TFLM's reference kernels, and the refusal of models whose
//! operators are not implemented. Each operator family has its own test file.

mod common;

use common::{check, oracle_file, root};
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

/// `tools/strip_model.py model -o <tmp>/out_name`: the stripped model's path.
fn strip(model: &std::path::Path, out_name: &str) -> std::path::PathBuf {
    let python = std::env::var("SI_PYTHON")
        .unwrap_or_else(|_| panic!("SI_PYTHON is not set: run the tests with `cargo xtask test`"));
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(out_name);
    let status = std::process::Command::new(python)
        .arg(root().join("tools/strip_model.py"))
        .arg(model)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "strip_model.py failed on {}", model.display());
    out
}

/// The committed sine models are already stripped (`tools/strip_model.py`, as
/// `models/sine/train.py` writes them): stripping them again changes no byte, and
/// what was stripped (names, signatures, metadata) is gone.
#[test]
fn sine_models_are_stripped() {
    for name in ["sine_int8", "sine_float"] {
        let model = root().join(format!("models/sine/{name}.tflite"));
        let bytes = std::fs::read(&model).unwrap();
        let again = std::fs::read(strip(&model, &format!("{name}.stripped"))).unwrap();
        assert_eq!(again, bytes, "{name} is not stripped");
        for text in [&b"min_runtime_version"[..], b"CONVERSION_METADATA", b"serving_default", b"MatMul"] {
            assert!(
                !bytes.windows(text.len()).any(|w| w == text),
                "{name} holds {:?}",
                String::from_utf8_lossy(text)
            );
        }
    }
}

/// What `tools/strip_model.py` leaves out or shares changes no output: the operator
/// test models (not stripped in the repository: they keep their names), the
/// per-channel FULLY_CONNECTED models and one with two constants of the same bytes
/// (`elementwise_variants.py`) give TFLM the same outputs, byte for byte, before and
/// after stripping, on 100 seeded inputs each; every one of them gets smaller; and
/// our engine equals TFLM on the stripped ones.
#[test]
fn stripping_keeps_every_output() {
    let mut models: Vec<_> = std::fs::read_dir(root().join("models/ops"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tflite"))
        .collect();
    models.sort();
    assert!(models.len() >= 10, "{} operator models", models.len());
    let variants = common::generate("elementwise_variants.py");
    for prefix in ["fc_int8_per_channel", "concatenation_int8_repeated_constant"] {
        models.extend(common::named(&variants, prefix).into_iter().cloned());
    }
    for model in models {
        let name = model.file_name().unwrap().to_string_lossy().into_owned();
        let stripped = strip(&model, &format!("stripped-{name}"));
        let (before, after) = (std::fs::read(&model).unwrap(), std::fs::read(&stripped).unwrap());
        assert!(after.len() < before.len(), "{name}: {} -> {} bytes", before.len(), after.len());
        assert!(
            oracle_file(&model, 11, -1.0, 1.0) == oracle_file(&stripped, 11, -1.0, 1.0),
            "{name}: TFLM's outputs differ after stripping"
        );
        check(stripped.to_str().unwrap(), -1.0, 1.0);
    }
}
