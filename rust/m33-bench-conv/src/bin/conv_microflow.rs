//! `models/ops/conv_int8.tflite` on the Cortex-M33 with the `microflow` crate (`cargo
//! xtask bench conv_microflow`): the peer of `conv.rs` in the same harness, on the same
//! inputs. `predict_quantized` returns the dequantized output; the int8 output is
//! recovered as `round(y / scale) + zero_point` (exact: one f32 multiply and divide by
//! the same scale round back to the integer) and printed as `conv.rs` prints it.
#![no_std]
#![no_main]

use core::hint::black_box;
use m33_bench_conv::{input, CASES};
use m33_rt::{bench, stack};
use microflow::buffer::Buffer4D;
use microflow::model;
use nalgebra::SMatrix;

// The path is relative to the workspace root, where cargo runs rustc.
#[model("models/ops/conv_int8.tflite")]
struct Conv;

/// The output tensor's quantization in `models/ops/conv_int8.tflite`.
const OUTPUT_SCALE: f32 = 0.020_205_326;
const OUTPUT_ZERO_POINT: i32 = -37;

fn main() -> u32 {
    bench::calibrate();
    for case in 0..CASES {
        let x = input(case);
        // NHWC bytes into microflow's [batch] of (row, column) matrices of channels.
        let image: Buffer4D<i8, 1, 10, 10, 3> = [SMatrix::from_fn(|r, c| {
            let at = (r * 10 + c) * 3;
            [x[at], x[at + 1], x[at + 2]]
        })];
        let name =
            if case == 0 { "microflow: one inference (predict)" } else { "microflow: predict (other input)" };
        let y = bench::measure(name, || Conv::predict_quantized(black_box(image)));
        m33_rt::print!("conv-output[{}]:", case);
        for r in 0..2 {
            for c in 0..2 {
                for v in y[0][(r, c)] {
                    m33_rt::print!(" {}", libm::roundf(v / OUTPUT_SCALE) as i32 + OUTPUT_ZERO_POINT);
                }
            }
        }
        m33_rt::println!("");
    }
    stack::report_peak();
    0
}

m33_rt::image_main!(main);
