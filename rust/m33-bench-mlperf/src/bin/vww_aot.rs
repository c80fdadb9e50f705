//! MLPerf Tiny's visual wake words MobileNetV1 on the Cortex-M33, compiled ahead of time (`cargo xtask
//! bench vww vww_aot`): the peer of `vww.rs` (the interpreter) in the same harness, on
//! the same bench input; `build.rs` has `inference-aot` turn the model into Rust.
#![no_std]
#![no_main]

m33_bench_mlperf::aot_image!(
    vww,
    vww_aot,
    ["vww_aot: one inference (invoke)", "vww_aot: invoke (same input)"]
);
