//! The sine model on the Cortex-M33 (`cargo xtask bench sine`): instructions to load,
//! validate, plan and prepare it, and per inference; the image's flash and RAM (the
//! arena is on the stack, so the stack peak includes it).
//!
//! The model is the project's own `models/sine/sine_int8.tflite` (1 -> 16 -> 16 -> 1,
//! like TFLM's hello_world).
#![no_std]
#![no_main]

use core::hint::black_box;
use inference::{Interpreter, Model};
use m33_rt::{bench, stack};

static MODEL: &[u8] = include_bytes!("../../../../models/sine/sine_int8.tflite");

fn main() -> u32 {
    bench::calibrate();
    // The arena lives on the stack, so the stack peak includes it: exactly what the
    // model uses (the image prints `arena-bytes`); the interpreter is sized for the
    // model's 12 tensors and 3 operators.
    let mut arena = [0u8; 224];
    // The interpreter's storage is main's too: initialised in place, never moved.
    let mut interp = Interpreter::<12, 3>::empty(&mut arena);
    let ready = bench::measure("sine: setup (load, validate, plan, prepare)", || {
        interp.init(Model::load(black_box(MODEL))?)
    });
    if ready.is_err() {
        return 1;
    }
    run(&mut interp)
}

/// Four inferences; a function of its own, so that main's frame, on the stack during
/// setup, holds nothing of them.
#[inline(never)]
fn run(interp: &mut Interpreter<'_, '_, 12, 3>) -> u32 {
    let mut checksum = 0i32;
    for x in [-128i8, 0, 64, 127] {
        let Some(input) = interp.input(0).ok().and_then(|i| i.first_mut()) else { return 2 };
        *input = black_box(x) as u8;
        let name = if x == 0 { "sine: one inference (invoke)" } else { "sine: invoke (other input)" };
        if bench::measure(name, || interp.invoke()).is_err() {
            return 3;
        }
        checksum += interp.output(0).ok().and_then(|o| o.first()).map_or(0, |&o| o as i8 as i32);
    }
    black_box(checksum);
    report(interp.arena_used());
    0
}

/// Printed without `core::fmt`, which the image then does not link; a function of its
/// own, so that main's frame, on the stack during setup, holds no console buffer.
#[inline(never)]
fn report(arena_used: usize) {
    m33_rt::console::Console::new().put("arena-bytes: ").put_u32(arena_used as u32).put("\n");
    stack::report_peak();
}

m33_rt::image_main!(main);
