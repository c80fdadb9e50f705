//! MLPerf Tiny's keyword spotting DS-CNN on the Cortex-M33, compiled ahead of time (`cargo xtask
//! bench kws kws_aot`): the peer of `kws.rs` (the interpreter) in the same harness, on
//! the same bench input; `build.rs` has `inference-aot` turn the model into Rust.
#![no_std]
#![no_main]

m33_bench_mlperf::aot_image!(
    kws,
    kws_aot,
    ["kws_aot: one inference (invoke)", "kws_aot: invoke (same input)"]
);
