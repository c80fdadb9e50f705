//! The project's int8 models, compiled ahead of time: `inference-aot` turns each
//! `.tflite` into Rust when this crate is built (`build.rs`), so an image holds the
//! weights as `static` arrays and one function per operator, with no loader, no
//! planner and no validation at run time. Results are bit-exact with TFLM's
//! reference kernels, as the interpreter's are (`tests/sine.rs` checks every int8
//! input against both).
//!
//! ```
//! let mut sine = aot_models::sine::Engine::new();
//! // sin(pi/2), quantized as the input tensor says.
//! let x = core::f32::consts::FRAC_PI_2;
//! let q = (x / aot_models::sine::INPUT_SCALE).round() as i32 + aot_models::sine::INPUT_ZERO_POINT;
//! sine.input()[0] = q.clamp(-128, 127) as i8;
//! sine.invoke();
//! let y = (sine.output()[0] as i32 - aot_models::sine::OUTPUT_ZERO_POINT) as f32 * aot_models::sine::OUTPUT_SCALE;
//! assert!((y - 1.0).abs() < 0.1, "sin(pi/2) = {y}");
//! ```
#![no_std]

/// The sine model (`models/sine/sine_int8.tflite`: 1 -> 16 -> 16 -> 1, three
/// FULLY_CONNECTED).
pub mod sine {
    include!(concat!(env!("OUT_DIR"), "/sine.rs"));
}
