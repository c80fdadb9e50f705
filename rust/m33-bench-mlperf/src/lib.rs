//! What the four MLPerf Tiny images share: the models (from `build.rs`) and the run,
//! measured as TFLM's anchor images measure it (`../shared/anchors/tflm-m33/`): setup
//! (load, validate, plan, prepare), then two inferences on the bench input (int8
//! `(i * 7919) % 256 - 128`, written again before each), whose outputs must equal
//! what our engine gives on the host (which the oracle tests compare with TFLM).
//! `ad_aot::Engine` is AD compiled ahead of time by `inference-aot` (`build.rs`), for
//! the `ad_aot` image, whose output must be the same.
#![no_std]

#[cfg(feature = "image")]
include!(concat!(env!("OUT_DIR"), "/models.rs"));

#[cfg(feature = "image")]
pub use image::run;

#[cfg(feature = "image")]
mod image {
    use core::hint::black_box;
    use inference::{Interpreter, Model};
    use m33_rt::console::Console;
    use m33_rt::{bench, stack};

    /// Runs `model` (`name`, as the measurements call it) in an arena of exactly `A`
    /// bytes on the stack, in an interpreter of `T` tensors and `O` operators; returns
    /// the image's exit code (0: outputs as expected).
    #[inline(never)]
    pub fn run<const T: usize, const O: usize, const A: usize>(
        names: [&str; 3],
        model: &'static [u8],
        expected: &[i8],
    ) -> u32 {
        bench::calibrate();
        let mut arena = [0u8; A];
        // Initialised in place, never moved.
        let mut interp = Interpreter::<T, O>::empty(&mut arena);
        let ready = bench::measure(names[0], || interp.init(Model::load(black_box(model))?));
        if ready.is_err() {
            return 1;
        }
        let code = invoke_twice(&mut interp, [names[1], names[2]], expected);
        Console::new().put("arena-bytes: ").put_u32(interp.arena_used() as u32).put("\n");
        stack::report_peak();
        code
    }

    /// The two inferences; a function of its own, so that the frame on the stack during
    /// setup holds nothing of them.
    #[inline(never)]
    fn invoke_twice<const T: usize, const O: usize>(
        interp: &mut Interpreter<'_, '_, T, O>,
        names: [&str; 2],
        expected: &[i8],
    ) -> u32 {
        for name in names {
            let Ok(input) = interp.input(0) else { return 2 };
            for (i, b) in input.iter_mut().enumerate() {
                *b = ((i * 7919) % 256) as u8 ^ 0x80;
            }
            if bench::measure(name, || interp.invoke()).is_err() {
                return 3;
            }
            let Ok(out) = interp.output(0) else { return 4 };
            let mut console = Console::new();
            console.put("output:");
            for &v in out {
                console.put(" ").put_i32(v as i8 as i32);
            }
            console.put("\n");
            if out.len() != expected.len() || out.iter().zip(expected).any(|(&o, &e)| o as i8 != e) {
                console.put("output differs from the host's\n");
                return 5;
            }
        }
        0
    }
}
