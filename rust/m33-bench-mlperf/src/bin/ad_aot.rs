//! MLPerf Tiny's AD autoencoder on the Cortex-M33, compiled ahead of time (`cargo
//! xtask bench ad ad_aot`): the peer of `ad.rs` (the interpreter) in the same harness,
//! on the same bench input. `build.rs` has `inference-aot` turn the model into Rust:
//! weights as statics, requantization as constants, the arena planned (the engine
//! owns it, on main's stack here). There is no setup step to measure.
#![no_std]
#![no_main]

m33_bench_mlperf::aot_image!(ad, ad_aot, ["ad_aot: one inference (invoke)", "ad_aot: invoke (same input)"]);
