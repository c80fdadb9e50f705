//! The sine model on the Cortex-M33, compiled ahead of time (`cargo xtask bench
//! sine_aot`): the peer of `sine.rs` (the interpreter) and `sine_microflow.rs` in
//! the same harness, on the same model and the same int8 inputs.
//!
//! `aot-models` holds the model as Rust that `inference-aot` generated from
//! `models/sine/sine_int8.tflite` at build time: weights as statics, the
//! requantization as constants, the arena planned (the engine owns it, on main's
//! stack here). There is no setup step to measure.
#![no_std]
#![no_main]

use aot_models::sine::Engine;
use core::hint::black_box;
use m33_rt::{bench, stack};

fn main() -> u32 {
    bench::calibrate();
    let mut engine = Engine::new();
    run(&mut engine);
    outputs(&mut engine);
    report();
    0
}

/// Four measured inferences; a function of its own, so that no console buffer is
/// on the stack while they run.
#[inline(never)]
fn run(engine: &mut Engine) {
    let mut checksum = 0i32;
    for x in [-128i8, 0, 64, 127] {
        engine.input()[0] = black_box(x);
        let name = if x == 0 { "sine_aot: one inference (invoke)" } else { "sine_aot: invoke (other input)" };
        bench::measure(name, || engine.invoke());
        checksum += i32::from(engine.output()[0]);
    }
    black_box(checksum);
}

/// Every int8 input, unmeasured, for a bit-for-bit comparison with the interpreter
/// and TFLM (printed without `core::fmt`).
#[inline(never)]
fn outputs(engine: &mut Engine) {
    let mut console = m33_rt::console::Console::new();
    for x in i8::MIN..=i8::MAX {
        engine.input()[0] = black_box(x);
        engine.invoke();
        console.put("sine-output[").put_i32(x.into()).put("]: ").put_i32(engine.output()[0].into()).put("\n");
    }
}

#[inline(never)]
fn report() {
    stack::report_peak();
}

m33_rt::image_main!(main);
