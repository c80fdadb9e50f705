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

/// The bench input (`cargo xtask bench`, `tools/tflm_bench.py` and TFLM's anchor
/// images fill int8 inputs with `(i * 7919) % 256 - 128`): our output equals TFLM's
/// for every model, so that the figures measured on it compare like with like. The
/// bench images check that the target gives our host output.
#[test]
fn bench_input_equals_tflm_on_every_model() {
    let python = std::env::var("SI_PYTHON")
        .unwrap_or_else(|_| panic!("SI_PYTHON is not set: run the tests with `cargo xtask test`"));
    let tmp = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    for name in ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"] {
        let path = common::root().join(model(name));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let model = inference::Model::load(&bytes).unwrap();
        let mut arena = vec![0u8; model.arena_bytes::<128>().unwrap()];
        let mut interp = inference::Interpreter::<128, 64>::new(model, &mut arena).unwrap();
        let input = interp.input(0).unwrap();
        let values: Vec<i32> = (0..input.len()).map(|i| ((i * 7919) % 256) as i32 - 128).collect();
        input.iter_mut().zip(&values).for_each(|(b, &v)| *b = v as i8 as u8);
        interp.invoke().unwrap();
        let ours: Vec<String> = interp.output(0).unwrap().iter().map(|&b| (b as i8).to_string()).collect();

        let line: Vec<String> = values.iter().map(i32::to_string).collect();
        let (inputs, out) =
            (tmp.join(format!("{name}.bench-input")), tmp.join(format!("{name}.bench-oracle")));
        std::fs::write(&inputs, line.join(" ") + "\n").unwrap();
        let run = |args: &[&std::ffi::OsStr]| {
            let out = std::process::Command::new(&python).args(args).output().unwrap();
            assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        };
        let oracle = common::root().join("tools/tflm_oracle.py");
        run(&[
            oracle.as_os_str(),
            path.as_os_str(),
            "--inputs".as_ref(),
            inputs.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ]);
        let dump = run(&[oracle.as_os_str(), "--dump".as_ref(), out.as_os_str()]);
        let tflm = dump.lines().find_map(|l| l.strip_prefix("case 0 out0: ")).expect("one case, one output");
        assert_eq!(ours.join(" "), tflm, "{name}: bench input");
    }
}
