//! The sine model on the Cortex-M33 with the `microflow` crate (`cargo xtask bench
//! sine_microflow`): the peer of `sine.rs` in the same harness, on the same model and
//! the same int8 inputs.
//!
//! MicroFlow compiles the model into Rust at build time (`#[model]` reads the
//! `.tflite` and emits the weights and the operator calls), so there is no setup step
//! to measure: the image's flash holds the generated code instead of the model.
//! `predict_quantized` takes the int8 input and returns the dequantized output; the
//! int8 output is recovered as `round(y / scale) + zero_point` and printed, for
//! comparison with our engine's (`sine.rs` prints it the same way).
#![no_std]
#![no_main]

use core::hint::black_box;
use m33_rt::{bench, stack};
use microflow::buffer::Buffer2D;
use microflow::model;

// The path is relative to the workspace root, where cargo runs rustc.
#[model("models/sine/sine_int8.tflite")]
struct Sine;

/// The output tensor's quantization in `models/sine/sine_int8.tflite`.
const OUTPUT_SCALE: f32 = 0.008_092_309;
const OUTPUT_ZERO_POINT: i32 = 5;

/// The int8 output that `predict_quantized` dequantized (exact: `q - zero_point` is a
/// small integer and one f32 multiply and divide by the same scale round back to it).
fn requantize(y: f32) -> i32 {
    libm::roundf(y / OUTPUT_SCALE) as i32 + OUTPUT_ZERO_POINT
}

fn main() -> u32 {
    bench::calibrate();
    let mut checksum = 0i32;
    for x in [-128i8, 0, 64, 127] {
        let input = Buffer2D::<i8, 1, 1>::from_element(black_box(x));
        let name =
            if x == 0 { "microflow: one inference (predict)" } else { "microflow: predict (other input)" };
        let y = bench::measure(name, || Sine::predict_quantized(input));
        checksum += requantize(y[0]);
    }
    black_box(checksum);
    // Every int8 input, outside the measurements, for a bit-for-bit comparison.
    for x in i8::MIN..=i8::MAX {
        let y = Sine::predict_quantized(Buffer2D::<i8, 1, 1>::from_element(black_box(x)));
        m33_rt::println!("sine-output[{}]: {}", x, requantize(y[0]));
    }
    stack::report_peak();
    0
}

m33_rt::image_main!(main);
