//! MLPerf Tiny's ResNet-8 on the Cortex-M33, compiled ahead of time (`cargo xtask
//! bench resnet resnet_aot`): the peer of `resnet.rs` (the interpreter) in the same harness, on
//! the same bench input; `build.rs` has `inference-aot` turn the model into Rust.
#![no_std]
#![no_main]

m33_bench_mlperf::aot_image!(
    resnet,
    resnet_aot,
    ["resnet_aot: one inference (invoke)", "resnet_aot: invoke (same input)"]
);
