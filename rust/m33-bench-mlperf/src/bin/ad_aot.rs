//! MLPerf Tiny's AD autoencoder on the Cortex-M33, compiled ahead of time (`cargo
//! xtask bench ad ad_aot`): the peer of `ad.rs` (the interpreter) in the same harness,
//! on the same bench input. `build.rs` has `inference-aot` turn the model into Rust:
//! weights as statics, requantization as constants, the arena planned (the engine
//! owns it, on main's stack here). There is no setup step to measure.
#![no_std]
#![no_main]

use core::hint::black_box;
use m33_bench_mlperf::ad::OUTPUT;
use m33_bench_mlperf::ad_aot::Engine;
use m33_rt::console::Console;
use m33_rt::{bench, stack};

fn main() -> u32 {
    bench::calibrate();
    let mut engine = Engine::new();
    for name in ["ad_aot: one inference (invoke)", "ad_aot: invoke (same input)"] {
        run(&mut engine, name);
        if !check(&engine) {
            return 5;
        }
    }
    report();
    0
}

/// Writes the bench input and runs one measured inference; a function of its own, so
/// that no console buffer is on the stack while it runs.
#[inline(never)]
fn run(engine: &mut Engine, name: &str) {
    for (i, b) in engine.input().iter_mut().enumerate() {
        *b = black_box((((i * 7919) % 256) as u8 ^ 0x80) as i8);
    }
    bench::measure(name, || engine.invoke());
}

/// Prints the output and compares it with the interpreter's on the host (which the
/// oracle tests compare with TFLM).
#[inline(never)]
fn check(engine: &Engine) -> bool {
    let out = engine.output();
    let mut console = Console::new();
    console.put("output:");
    for &v in out {
        console.put(" ").put_i32(v.into());
    }
    console.put("\n");
    if out[..] != OUTPUT[..] {
        console.put("output differs from the host's\n");
        return false;
    }
    true
}

#[inline(never)]
fn report() {
    stack::report_peak();
}

m33_rt::image_main!(main);
