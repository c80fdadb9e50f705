//! Generated engines against TFLM's reference kernels: each model is compiled to
//! Rust by `generate`, the source built with `rustc` into a small program that runs
//! the engine on inputs from stdin, and its outputs compared byte for byte with the
//! `tflite-micro` oracle's (`tools/tflm_oracle.py`) on the same seeded inputs.
//! Models: the sine model (`aot-models` tests it on every int8 input), the MLPerf
//! Tiny anomaly-detection autoencoder (`../shared/models/mlperf-tiny/`, beside the
//! repository as CI clones it: ten FULLY_CONNECTED, depths 8 to 640), and
//! `fc_variants.py`'s single FULLY_CONNECTED models, one per path of the kernel.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> String {
    std::env::var("SI_PYTHON")
        .unwrap_or_else(|_| panic!("SI_PYTHON is not set: run the tests with `cargo xtask test`"))
}

/// The program around a generated engine: reads whole inputs from stdin, writes
/// each output to stdout.
const MAIN: &str = r#"
mod engine {
    include!("engine.rs");
}
use std::io::{Read, Write};
fn main() {
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).unwrap();
    let mut engine = engine::Engine::new();
    let mut out = std::io::stdout().lock();
    for case in input.chunks_exact(engine::INPUT_BYTES) {
        for (d, &s) in engine.input().iter_mut().zip(case) {
            *d = s as i8;
        }
        engine.invoke();
        let bytes: Vec<u8> = engine.output().iter().map(|&b| b as u8).collect();
        out.write_all(&bytes).unwrap();
    }
}
"#;

/// Compiles `model`'s engine (relative to the workspace root) and checks it
/// against TFLM on `cases` seeded inputs.
fn equals_tflm(model: &str, cases: usize) {
    equals_tflm_at(&root().join(model), cases, false);
}

/// The oracle's records for `args` (`count` cases): input and output sizes, then the
/// records, each the input's bytes and the output's.
fn oracle(path: &Path, dir: &Path, args: &[&str], count: usize) -> (usize, usize, Vec<u8>) {
    let oracle = dir.join("oracle");
    let status = Command::new(python())
        .arg(root().join("tools/tflm_oracle.py"))
        .arg(path)
        .args(args)
        .arg("-o")
        .arg(&oracle)
        .status()
        .unwrap();
    assert!(status.success(), "{}: tflm_oracle.py failed", path.display());
    let b = std::fs::read(&oracle).unwrap();
    assert_eq!(&b[..8], b"TFLMORC1");
    let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!((u32_at(8), u32_at(12), u32_at(16)), (1, 1, count));
    // Two descriptors (int8): dtype, rank, pad, dims, scale, zero point.
    let mut at = 20;
    let mut sizes = Vec::new();
    for _ in 0..2 {
        let rank = b[at + 1] as usize;
        sizes.push((0..rank).map(|d| u32_at(at + 4 + 4 * d)).product::<usize>());
        at += 4 + 4 * rank + 8;
    }
    let records = b[at..].to_vec();
    assert_eq!(records.len(), count * (sizes[0] + sizes[1]));
    (sizes[0], sizes[1], records)
}

/// Compiles the engine of the model at `path` and checks it against TFLM on `cases`
/// seeded inputs, and on the bench images' input when `bench`.
fn equals_tflm_at(path: &Path, cases: usize, bench: bool) {
    let model = &path.display().to_string();
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let source = inference_aot::generate(&bytes, model).unwrap_or_else(|e| panic!("{model}: {e}"));
    let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("aot-{stem}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("engine.rs"), source).unwrap();
    std::fs::write(dir.join("main.rs"), MAIN).unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let status = Command::new(rustc)
        .args(["--edition", "2021", "-C", "opt-level=1", "-o"])
        .arg(dir.join("engine"))
        .arg(dir.join("main.rs"))
        .status()
        .unwrap();
    assert!(status.success(), "{model}: the generated source does not compile");

    let (n_in, n_out, mut records) =
        oracle(path, &dir, &["--seed", "7", "--count", &cases.to_string()], cases);
    let mut cases = cases;
    if bench {
        // The bench images' input, int8 `(i * 7919) % 256 - 128`, as one more case.
        let values: Vec<String> = (0..n_in).map(|i| (((i * 7919) % 256) as i32 - 128).to_string()).collect();
        let file = dir.join("bench-input.txt");
        std::fs::write(&file, values.join(" ")).unwrap();
        let (_, _, more) = oracle(path, &dir, &["--inputs", file.to_str().unwrap()], 1);
        records.extend(more);
        cases += 1;
    }
    let records = &records[..];
    let inputs: Vec<u8> = records.chunks_exact(n_in + n_out).flat_map(|r| r[..n_in].to_vec()).collect();

    let mut child =
        Command::new(dir.join("engine")).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(&inputs).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), cases * n_out);
    let mut distinct = std::collections::BTreeSet::new();
    for (n, (record, got)) in
        records.chunks_exact(n_in + n_out).zip(out.stdout.chunks_exact(n_out)).enumerate()
    {
        let want = &record[n_in..];
        if let Some(k) = (0..n_out).find(|&k| got[k] != want[k]) {
            panic!("{model} case {n} output[{k}]: compiled {}, TFLM {}", got[k] as i8, want[k] as i8);
        }
        distinct.insert(got.to_vec());
    }
    // The cases tell something apart.
    assert!(distinct.len() >= 4, "{model}: only {} different outputs", distinct.len());
}

#[test]
fn sine_equals_tflm() {
    equals_tflm("models/sine/sine_int8.tflite", 100);
}

#[test]
fn anomaly_autoencoder_equals_tflm() {
    equals_tflm("../shared/models/mlperf-tiny/ad01_int8.tflite", 20);
}

/// `fc_variants.py`'s models: each path of the generated FULLY_CONNECTED (the
/// source shows which it took).
#[test]
fn fully_connected_variants_equal_tflm() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fc_variants");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fc_variants.py");
    let out = Command::new(python()).arg(script).arg(&dir).output().unwrap();
    assert!(out.status.success(), "fc_variants.py: {}", String::from_utf8_lossy(&out.stderr));
    let models: Vec<PathBuf> = String::from_utf8(out.stdout).unwrap().lines().map(PathBuf::from).collect();
    assert_eq!(models.len(), 6);
    for model in &models {
        let name = model.file_stem().unwrap().to_str().unwrap();
        let source = inference_aot::generate(&std::fs::read(model).unwrap(), name).unwrap();
        let (packed, single) = (source.contains("_PACKED:"), source.contains("_WEIGHTS:"));
        // Looped: `for (w, x) in w.iter()` one by one, `w.as_chunks` packed.
        let unrolled = !source.contains("for (w, x) in w.");
        let expected = match name {
            "fc_aot_groups_and_rest" => (true, true, true),
            "fc_aot_packed_loop" | "fc_aot_packed_loop_odd" => (true, false, false),
            "fc_aot_unpackable" => (false, true, false),
            "fc_aot_left_shift" | "fc_aot_depth1" => (false, true, true),
            other => panic!("unexpected model {other}"),
        };
        assert_eq!((packed, single, unrolled), expected, "{name}: (packed, one by one, unrolled)");
        if name == "fc_aot_packed_loop_odd" {
            assert!(source.contains("w[44..]"), "{name}: the last input after the blocks of two");
        }
        if name == "fc_aot_left_shift" {
            assert!(source.contains("acc.wrapping_mul(4)"), "{name}: a left shift of 2");
        }
        equals_tflm_at(model, 50, false);
    }
}

/// `models/ops`' convolution models: padded and not, strides 1 and 2, depthwise
/// multipliers 1 to 3, per-channel weights, few channels (not packed).
#[test]
fn convolution_models_equal_tflm() {
    equals_tflm("models/ops/conv_int8.tflite", 50);
    equals_tflm("models/ops/depthwise_int8.tflite", 50);
}

/// `models/ops`' fully connected model: three FULLY_CONNECTED (RELU, RELU6, none)
/// into SOFTMAX, whose fixed point the generated module carries.
#[test]
fn fully_connected_and_softmax_model_equals_tflm() {
    equals_tflm("models/ops/fc_int8.tflite", 100);
}

/// MLPerf Tiny's keyword spotting DS-CNN: CONV_2D (10 x 4, stride 2, padded),
/// DEPTHWISE_CONV_2D 3 x 3 and pointwise CONV_2D, AVERAGE_POOL_2D, RESHAPE,
/// FULLY_CONNECTED, SOFTMAX.
#[test]
fn keyword_spotting_equals_tflm() {
    equals_tflm_at(&root().join("../shared/models/mlperf-tiny/kws_ref_model.tflite"), 20, true);
}

/// MLPerf Tiny's visual wake words MobileNetV1 (96 x 96 x 3): the convolutions with
/// strides of 2.
#[test]
fn visual_wake_words_equals_tflm() {
    equals_tflm_at(&root().join("../shared/models/mlperf-tiny/vww_96_int8.tflite"), 20, true);
}

/// MLPerf Tiny's ResNet-8 (CIFAR-10): 3 x 3 CONV_2D and the residual ADDs.
#[test]
fn resnet8_equals_tflm() {
    equals_tflm_at(&root().join("../shared/models/mlperf-tiny/pretrainedResnet_quant.tflite"), 20, true);
}
