//! The oracle harness shared by the operator test files: runs a model on TFLM's
//! reference kernels (`tools/tflm_oracle.py`, the pinned `tflite-micro` package) and
//! on our engine, and compares: int8 bit for bit, float32 within 1e-6.
#![allow(dead_code)] // each test file uses part of it

use inference::{Error, Interpreter, Model};
use std::path::{Path, PathBuf};
use std::process::Command;

const CASES: usize = 100;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Tensor {
    dtype: u8,
    len: usize,
}

impl Tensor {
    fn bytes(&self) -> usize {
        self.len * if self.dtype == 2 || self.dtype == 4 { 4 } else { 1 }
    }
}

struct Oracle {
    inputs: Vec<Tensor>,
    outputs: Vec<Tensor>,
    /// Per case: every input's bytes, then every output's.
    cases: Vec<Vec<Vec<u8>>>,
}

fn u32_at(b: &[u8], at: &mut usize) -> u32 {
    let v = u32::from_le_bytes(b[*at..*at + 4].try_into().unwrap());
    *at += 4;
    v
}

/// The oracle's file for `model` (seeded inputs in [low, high) for float inputs): its
/// tensors' descriptions, then every case's inputs and outputs.
pub fn oracle_file(model: &Path, seed: u32, low: f32, high: f32) -> Vec<u8> {
    oracle_cases(model, seed, CASES, low, high)
}

/// [`oracle_file`] with `cases` cases.
pub fn oracle_cases(model: &Path, seed: u32, cases: usize, low: f32, high: f32) -> Vec<u8> {
    let python = std::env::var("SI_PYTHON")
        .unwrap_or_else(|_| panic!("SI_PYTHON is not set: run the tests with `cargo xtask test`"));
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{}-{seed}-{cases}.oracle", model.file_stem().unwrap().to_string_lossy()));
    let status = Command::new(python)
        .arg(root().join("tools/tflm_oracle.py"))
        .arg(model)
        .args(["--seed", &seed.to_string(), "--count", &cases.to_string()])
        .args(["--low", &low.to_string(), "--high", &high.to_string(), "-o"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "oracle failed on {}", model.display());
    std::fs::read(&out).unwrap()
}

/// Runs the oracle on `model` (seeded inputs in [low, high) for float inputs).
fn oracle(model: &Path, seed: u32, cases: usize, low: f32, high: f32) -> Oracle {
    let b = oracle_cases(model, seed, cases, low, high);
    assert_eq!(&b[..8], b"TFLMORC1");
    let mut at = 8;
    let (n_in, n_out, n_cases) = (u32_at(&b, &mut at), u32_at(&b, &mut at), u32_at(&b, &mut at));
    let mut tensors = Vec::new();
    for _ in 0..n_in + n_out {
        let (dtype, rank) = (b[at], b[at + 1] as usize);
        at += 4;
        let len = (0..rank).map(|_| u32_at(&b, &mut at) as usize).product();
        at += 8; // scale, zero point
        tensors.push(Tensor { dtype, len });
    }
    let outputs = tensors.split_off(n_in as usize);
    let mut cases = Vec::new();
    for _ in 0..n_cases {
        let mut case = Vec::new();
        for t in tensors.iter().chain(&outputs) {
            case.push(b[at..at + t.bytes()].to_vec());
            at += t.bytes();
        }
        cases.push(case);
    }
    assert_eq!(at, b.len());
    Oracle { inputs: tensors, outputs, cases }
}

/// `Model::arena_bytes` is exact: `init` succeeds with that many bytes and uses them
/// all, and refuses one byte less (and none at all) with `ArenaTooSmall` naming it.
pub fn exact_arena(name: &str, model: Model<'_>) -> usize {
    let needed = model.arena_bytes::<256>().unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut arena = vec![0u8; needed];
    let used =
        Interpreter::<256, 64>::new(model, &mut arena).unwrap_or_else(|e| panic!("{name}: {e}")).arena_used();
    assert_eq!(used, needed, "{name}");
    let want = Some(Error::ArenaTooSmall { needed });
    if let Some(less) = needed.checked_sub(1) {
        assert_eq!(Interpreter::<256, 64>::new(model, &mut arena[..less]).err(), want, "{name}");
    }
    if needed > 0 {
        assert_eq!(Interpreter::<256, 64>::new(model, &mut []).err(), want, "{name}");
    }
    needed
}

/// Runs every case on our engine and compares.
pub fn check(model_path: &str, low: f32, high: f32) {
    check_cases(model_path, CASES, low, high);
}

/// [`check`] on `cases` seeded cases; returns how many different outputs (all output
/// tensors' bytes together) they gave, so that a caller can tell a test that compares
/// something from one whose model answers every input alike.
pub fn check_cases(model_path: &str, cases: usize, low: f32, high: f32) -> usize {
    let path = root().join(model_path);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let model = Model::load(&bytes).unwrap_or_else(|e| panic!("{model_path}: {e:?}"));
    exact_arena(model_path, model);
    let mut arena = vec![0u8; 256 * 1024];
    let mut interp = Interpreter::<128, 64>::new(model, &mut arena).unwrap();
    let oracle = oracle(&path, 7, cases, low, high);
    let mut distinct = std::collections::BTreeSet::new();
    for (n, case) in oracle.cases.iter().enumerate() {
        distinct.insert(&case[oracle.inputs.len()..]);
        for (i, data) in case[..oracle.inputs.len()].iter().enumerate() {
            interp.input(i).unwrap().copy_from_slice(data);
        }
        interp.invoke().unwrap();
        for (o, (want, t)) in case[oracle.inputs.len()..].iter().zip(&oracle.outputs).enumerate() {
            let got = interp.output(o).unwrap();
            if t.dtype == 2 {
                for (k, (g, w)) in got.chunks(4).zip(want.chunks(4)).enumerate() {
                    let (g, w) = (
                        f32::from_le_bytes(g.try_into().unwrap()),
                        f32::from_le_bytes(w.try_into().unwrap()),
                    );
                    assert!((g - w).abs() <= 1e-6, "{model_path} case {n} output {o}[{k}]: {g} vs TFLM {w}");
                }
            } else {
                assert_eq!(got, &want[..], "{model_path} case {n} output {o}: bytes differ from TFLM");
            }
        }
    }
    distinct.len()
}

/// Runs `tests/<script>` (a generator of derived models, in the venv's Python) into a
/// scratch directory; returns the model paths it printed.
pub fn generate(script: &str) -> Vec<PathBuf> {
    let python = std::env::var("SI_PYTHON")
        .unwrap_or_else(|_| panic!("SI_PYTHON is not set: run the tests with `cargo xtask test`"));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(script.trim_end_matches(".py"));
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join(script);
    let out = Command::new(python).arg(path).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(PathBuf::from).collect()
}

/// The models among `all` whose file name starts with `prefix` (there must be some).
pub fn named<'a>(all: &'a [PathBuf], prefix: &str) -> Vec<&'a PathBuf> {
    let found: Vec<_> =
        all.iter().filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix)).collect();
    assert!(!found.is_empty(), "no {prefix}* models");
    found
}

/// Loads, plans and runs `rounds` copies of each model with three random bytes
/// changed (xorshift32 from `seed`): none may panic.
pub fn flip_bytes<P: AsRef<Path>>(models: impl IntoIterator<Item = P>, seed: u32, rounds: usize) {
    let mut state = seed;
    let mut arena = vec![0u8; 64 * 1024];
    for model in models {
        let bytes = std::fs::read(model.as_ref()).unwrap();
        for _ in 0..rounds {
            let mut m = bytes.clone();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let at = state as usize % m.len();
                m[at] = (state >> 8) as u8;
            }
            if let Ok(model) = Model::load(&m) {
                if let Ok(mut interp) = Interpreter::<64, 32>::new(model, &mut arena) {
                    let _ = interp.invoke();
                }
            }
        }
    }
}
