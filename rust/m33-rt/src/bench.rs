//! Instruction-count markers. The counting host (`tools/m33count.py` under Unicorn)
//! hooks [`m33_bench_start`] and [`m33_bench_stop`] by symbol and counts the
//! instructions retired between their entries; under QEMU they only cost a call.

/// Marks the start of the measured region named by `name`.
#[no_mangle]
#[inline(never)]
pub extern "C" fn m33_bench_start(name: *const u8, len: usize) {
    core::hint::black_box((name, len));
}

/// Marks the end of the measured region opened last.
#[no_mangle]
#[inline(never)]
pub extern "C" fn m33_bench_stop() {
    core::hint::black_box(());
}

/// Measures `f`: the counter reports the instructions retired by it (plus a fixed
/// marker overhead that the host subtracts with an empty measurement).
#[inline(never)]
pub fn measure<R>(name: &str, f: impl FnOnce() -> R) -> R {
    m33_bench_start(name.as_ptr(), name.len());
    let r = core::hint::black_box(f());
    m33_bench_stop();
    r
}

/// Runs the empty measurement the host subtracts from every other one.
pub fn calibrate() {
    measure("calibration", || ());
}
