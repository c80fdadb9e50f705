//! `models/ops/conv_int8.tflite` (int8[1x10x10x3] -> three CONV_2D -> int8[1x2x2x4]) on
//! the Cortex-M33 with our engine (`cargo xtask bench conv`): setup, instructions per
//! inference, footprint; prints every output for comparison with `conv_microflow` and
//! TFLM.
#![no_std]
#![no_main]

use core::hint::black_box;
use inference::{Interpreter, Model};
use m33_bench_conv::{input, CASES};
use m33_rt::console::Console;
use m33_rt::{bench, stack};

static MODEL: &[u8] = include_bytes!("../../../../models/ops/conv_int8.tflite");

fn main() -> u32 {
    bench::calibrate();
    // Exactly what the model uses (the image prints `arena-bytes`).
    let mut arena = [0u8; 1580];
    // The interpreter's storage is main's too: initialised in place, never moved.
    let mut interp = Interpreter::<10, 3>::empty(&mut arena);
    let ready = bench::measure("conv: setup (load, validate, plan, prepare)", || {
        interp.init(Model::load(black_box(MODEL))?)
    });
    if ready.is_err() {
        return 1;
    }
    run(&mut interp)
}

/// The inferences; a function of its own, so that main's frame, on the stack during
/// setup, holds nothing of them (an input is 300 bytes).
#[inline(never)]
fn run(interp: &mut Interpreter<'_, '_, 10, 3>) -> u32 {
    for case in 0..CASES {
        let x = input(case);
        let Ok(slot) = interp.input(0) else { return 2 };
        for (s, &v) in slot.iter_mut().zip(&x) {
            *s = v as u8;
        }
        let name = if case == 0 { "conv: one inference (invoke)" } else { "conv: invoke (other input)" };
        if bench::measure(name, || interp.invoke()).is_err() {
            return 3;
        }
        let Ok(out) = interp.output(0) else { return 4 };
        print_output(case, out);
    }
    Console::new().put("arena-bytes: ").put_u32(interp.arena_used() as u32).put("\n");
    stack::report_peak();
    0
}

/// Printed without `core::fmt`, which the image then does not link; a function of its
/// own, so that main's frame, on the stack during setup, holds no console buffer.
#[inline(never)]
fn print_output(case: u32, out: &[u8]) {
    let mut console = Console::new();
    console.put("conv-output[").put_u32(case).put("]:");
    for &v in out {
        console.put(" ").put_i32(v as i8 as i32);
    }
    console.put("\n");
}

m33_rt::image_main!(main);
