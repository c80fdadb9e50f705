//! Any bytes: load them as a model; if that succeeds, plan and prepare an interpreter
//! in place over a 64 KiB arena (twice: `init` again on a used interpreter), give back
//! the unused arena, read every graph input's and output's description, fill every
//! graph input from the data and invoke twice. Errors are fine; a panic or an
//! out-of-bounds access is a bug.
#![no_main]

use inference::{Interpreter, Model};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(model) = Model::load(data) else { return };
    let mut arena = vec![0u8; 64 * 1024];
    let mut interp = Interpreter::<128, 64>::empty(&mut arena);
    if interp.init(model).is_err() || interp.init(model).is_err() {
        return;
    }
    let _ = interp.release_unused();
    for i in 0..4 {
        let _ = (interp.input_info(i), interp.output_info(i));
    }
    let mut fill = data.iter().rev().copied().cycle();
    let mut i = 0;
    while let Ok(input) = interp.input(i) {
        for b in input.iter_mut() {
            *b = fill.next().unwrap_or(0);
        }
        i += 1;
    }
    let _ = interp.invoke();
    let _ = interp.invoke();
    let mut o = 0;
    while interp.output(o).is_ok() {
        o += 1;
    }
});
