//! The compiled sine engine is bit-exact with TFLM: on every int8 input, its output
//! equals the interpreter's and TFLM's reference kernels' (`tools/tflm_oracle.py`,
//! the pinned `tflite-micro` package, as `inference`'s oracle tests run it).

use aot_models::sine;
use inference::{Interpreter, Model};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const MODEL: &str = "models/sine/sine_int8.tflite";

/// The compiled engine's output for every int8 input, in order.
fn compiled() -> Vec<i8> {
    let mut engine = sine::Engine::new();
    (i8::MIN..=i8::MAX)
        .map(|x| {
            engine.input()[0] = x;
            engine.invoke();
            assert_eq!(engine.input()[0], x, "invoke keeps the input");
            engine.output()[0]
        })
        .collect()
}

#[test]
fn every_int8_input_equals_the_interpreter() {
    let bytes = std::fs::read(root().join(MODEL)).unwrap();
    let model = Model::load(&bytes).unwrap();
    let mut arena = vec![0u8; model.arena_bytes::<16>().unwrap()];
    let mut interp = Interpreter::<16, 4>::new(model, &mut arena).unwrap();
    let info = interp.input_info(0).unwrap();
    assert_eq!((info.scale, info.zero_point), (sine::INPUT_SCALE, sine::INPUT_ZERO_POINT));
    let info = interp.output_info(0).unwrap();
    assert_eq!((info.scale, info.zero_point), (sine::OUTPUT_SCALE, sine::OUTPUT_ZERO_POINT));
    let want: Vec<i8> = (i8::MIN..=i8::MAX)
        .map(|x| {
            interp.input(0).unwrap()[0] = x as u8;
            interp.invoke().unwrap();
            interp.output(0).unwrap()[0] as i8
        })
        .collect();
    let got = compiled();
    for (x, (g, w)) in (i8::MIN..=i8::MAX).zip(got.iter().zip(&want)) {
        assert_eq!(g, w, "input {x}: compiled {g}, interpreter {w}");
    }
    // Not a constant: the model's outputs span most of sin's range.
    let (lo, hi) = (got.iter().min().unwrap(), got.iter().max().unwrap());
    assert!(i32::from(*hi) - i32::from(*lo) > 200, "{lo}..{hi}");
}

#[test]
fn every_int8_input_equals_tflm() {
    let python = std::env::var("SI_PYTHON")
        .unwrap_or_else(|_| panic!("SI_PYTHON is not set: run the tests with `cargo xtask test`"));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let inputs = dir.join("sine-all-int8.txt");
    let lines: Vec<String> = (i8::MIN..=i8::MAX).map(|x| x.to_string()).collect();
    std::fs::write(&inputs, lines.join("\n")).unwrap();
    let out = dir.join("sine-all-int8.oracle");
    let status = std::process::Command::new(python)
        .arg(root().join("tools/tflm_oracle.py"))
        .arg(root().join(MODEL))
        .arg("--inputs")
        .arg(&inputs)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "tflm_oracle.py failed");
    let b = std::fs::read(&out).unwrap();
    // Header: magic, 1 input, 1 output, 256 cases; two descriptors of rank 2
    // (dtype, rank, pad, 2 dims, scale, zero point: 20 bytes each); then the cases.
    assert_eq!(&b[..8], b"TFLMORC1");
    let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    assert_eq!((u32_at(8), u32_at(12), u32_at(16)), (1, 1, 256));
    let cases = &b[20 + 2 * 20..];
    assert_eq!(cases.len(), 256 * 2);
    let got = compiled();
    for (n, case) in cases.chunks_exact(2).enumerate() {
        let (x, want) = (case[0] as i8, case[1] as i8);
        assert_eq!(i32::from(x), n as i32 - 128, "the oracle's input {n}");
        assert_eq!(got[n], want, "input {x}: compiled {}, TFLM {want}", got[n]);
    }
}
