//! MLPerf Tiny's VWW MobileNetV1 on the Cortex-M33 with our engine (`cargo xtask bench vww`):
//! setup, instructions per inference (twice, the same input), flash and RAM (the
//! arena is on the stack, so the stack peak includes it).
#![no_std]
#![no_main]

use m33_bench_mlperf::vww::{ARENA, MODEL, OPERATORS, OUTPUT, TENSORS};

fn main() -> u32 {
    m33_bench_mlperf::run::<TENSORS, OPERATORS, ARENA>(
        [
            "vww: setup (load, validate, plan, prepare)",
            "vww: one inference (invoke)",
            "vww: invoke (same input)",
        ],
        MODEL,
        &OUTPUT,
    )
}

m33_rt::image_main!(main);
