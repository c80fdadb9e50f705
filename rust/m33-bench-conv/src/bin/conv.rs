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
    let arena = &mut arena;
    let interp = bench::measure("conv: setup (load, validate, plan, prepare)", || {
        let model = Model::load(black_box(MODEL)).ok()?;
        Interpreter::<10, 3>::new(model, arena).ok()
    });
    let Some(mut interp) = interp else { return 1 };
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
        // Printed without `core::fmt`, which the image then does not link.
        let mut console = Console::new();
        console.put("conv-output[").put_u32(case).put("]:");
        for &v in out {
            console.put(" ").put_i32(v as i8 as i32);
        }
        console.put("\n");
    }
    Console::new().put("arena-bytes: ").put_u32(interp.arena_used() as u32).put("\n");
    stack::report_peak();
    0
}

m33_rt::image_main!(main);
