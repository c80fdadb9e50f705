//! What the four MLPerf Tiny images share: the models (from `build.rs`) and the run,
//! measured as TFLM's anchor images measure it (`../shared/anchors/tflm-m33/`): setup
//! (load, validate, plan, prepare), then two inferences on the bench input (int8
//! `(i * 7919) % 256 - 128`, written again before each), whose outputs must equal
//! what our engine gives on the host (which the oracle tests compare with TFLM).
//! `<name>_aot::Engine` is each model compiled ahead of time by `inference-aot`
//! (`build.rs`), for the `<name>_aot` images ([`aot_image!`]), whose outputs must be
//! the same.
#![no_std]

/// The `main` of an image that runs model `$model` compiled ahead of time
/// (`$model_aot::Engine`) twice on the bench input and checks
/// each output against the interpreter's on the host (`$model::OUTPUT`). There is no
/// setup to measure; the engine (its input, output and arena) is on main's stack.
#[macro_export]
macro_rules! aot_image {
    ($model:ident, $aot:ident, $names:expr) => {
        use core::hint::black_box;
        use m33_bench_mlperf::$aot::Engine;
        use m33_rt::console::Console;
        use m33_rt::{bench, stack};

        fn main() -> u32 {
            bench::calibrate();
            let mut engine = Engine::new();
            for name in $names {
                run(&mut engine, name);
                if !check(&engine) {
                    return 5;
                }
            }
            report();
            0
        }

        /// A frame of its own: the report's buffer is not on the stack while the
        /// engine runs.
        #[inline(never)]
        fn report() {
            stack::report_peak();
        }

        /// Writes the bench input and runs one measured inference (no console buffer
        /// on the stack meanwhile).
        #[inline(never)]
        fn run(engine: &mut Engine, name: &str) {
            for (i, b) in engine.input().iter_mut().enumerate() {
                *b = black_box((((i * 7919) % 256) as u8 ^ 0x80) as i8);
            }
            bench::measure(name, || engine.invoke());
        }

        /// Prints the output and compares it with the interpreter's on the host.
        #[inline(never)]
        fn check(engine: &Engine) -> bool {
            let out = engine.output();
            let mut console = Console::new();
            console.put("output:");
            for &v in out {
                console.put(" ").put_i32(v.into());
            }
            console.put("\n");
            if out[..] != m33_bench_mlperf::$model::OUTPUT[..] {
                console.put("output differs from the host's\n");
                return false;
            }
            true
        }

        m33_rt::image_main!(main);
    };
}

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
        // Setup as the partition runs it at boot: the model parsed, then each operator
        // prepared (and so checked) once, by init.
        let ready = bench::measure(names[0], || interp.init(Model::parse(black_box(model))?));
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
