//! Host timing of our engine for `cargo xtask bench host`, the peer of
//! `tools/tflm_bench.py` (TFLM's interpreter): the same model, the same input, the
//! same number of invokes.
//!
//! `host_bench MODEL INVOKES RUNS [--refill]`: one interpreter, set up once (not timed);
//! each run times INVOKES back-to-back invokes (with `--refill`, each after writing the
//! input again, timed too: for models whose invoke reuses the input's bytes); prints `median-ns-per-invoke: X` (the median
//! over the runs) and `output-checksum: C` (the sum of the output's bytes, to show
//! both engines computed the same thing).
//!
//! The input is element i = ((i * 7919) % 256) - 128 for int8, that over 128.0 for
//! float32: deterministic, and the same in the Python peer.

use inference::{DType, Interpreter, Model};
use std::hint::black_box;
use std::time::Instant;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, invokes, runs, refill) = match &args[..] {
        [path, invokes, runs] => (path, invokes, runs, false),
        [path, invokes, runs, flag] if flag == "--refill" => (path, invokes, runs, true),
        _ => return Err("usage: host_bench MODEL INVOKES RUNS [--refill]".into()),
    };
    let invokes: u32 = invokes.parse().map_err(|_| format!("bad INVOKES {invokes:?}"))?;
    let runs: usize = runs.parse().map_err(|_| format!("bad RUNS {runs:?}"))?;
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let model = Model::load(&bytes).map_err(|e| format!("{path}: {e:?}"))?;
    let mut arena = vec![0u8; 256 * 1024];
    let mut interp = Interpreter::<128, 64>::new(model, &mut arena).map_err(|e| format!("{path}: {e:?}"))?;
    let dtype = interp.input_info(0).map_err(|e| format!("{e:?}"))?.dtype;
    let mut values = vec![0u8; interp.input(0).map_err(|e| format!("{e:?}"))?.len()];
    match dtype {
        DType::I8 => values.iter_mut().enumerate().for_each(|(i, b)| *b = pattern(i) as u8),
        DType::F32 => values
            .chunks_exact_mut(4)
            .enumerate()
            .for_each(|(i, b)| b.copy_from_slice(&(pattern(i) as f32 / 128.0).to_le_bytes())),
        other => return Err(format!("unsupported input type {other:?}")),
    }
    interp.input(0).map_err(|e| format!("{e:?}"))?.copy_from_slice(&values);
    let mut per_invoke: Vec<f64> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        for _ in 0..invokes {
            if refill {
                interp.input(0).map_err(|e| format!("{e:?}"))?.copy_from_slice(black_box(&values));
            }
            black_box(&mut interp).invoke().map_err(|e| format!("invoke: {e:?}"))?;
        }
        per_invoke.push(start.elapsed().as_nanos() as f64 / f64::from(invokes));
    }
    per_invoke.sort_by(f64::total_cmp);
    let checksum: u64 = interp.output(0).map_err(|e| format!("{e:?}"))?.iter().map(|&b| u64::from(b)).sum();
    println!("median-ns-per-invoke: {:.1}", per_invoke[runs / 2]);
    println!("output-checksum: {checksum}");
    Ok(())
}

fn pattern(i: usize) -> i32 {
    ((i * 7919) % 256) as i32 - 128
}
