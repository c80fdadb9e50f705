//! Tests of the image runtime itself: that statics were initialised, that the stack
//! is painted and measured, and that the target does what the other images assume.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

static INITIALISED: AtomicU32 = AtomicU32::new(0x5EC0_1234);
static ZEROED: AtomicU32 = AtomicU32::new(0);

fn data_is_copied_and_bss_is_zeroed() {
    assert_eq!(INITIALISED.load(Ordering::Relaxed), 0x5EC0_1234);
    assert_eq!(ZEROED.load(Ordering::Relaxed), 0);
    // The stores keep both statics writable, in .data and .bss.
    INITIALISED.store(core::hint::black_box(1), Ordering::Relaxed);
    ZEROED.store(core::hint::black_box(2), Ordering::Relaxed);
    assert_eq!(INITIALISED.load(Ordering::Relaxed) + ZEROED.load(Ordering::Relaxed), 3);
}

#[inline(never)]
fn use_stack(depth: u32) -> u32 {
    let buf = core::hint::black_box([depth; 64]);
    if depth == 0 {
        buf[3]
    } else {
        use_stack(depth - 1).wrapping_add(buf[7])
    }
}

fn stack_peak_grows_with_use() {
    let before = m33_rt::stack::peak_bytes();
    core::hint::black_box(use_stack(8));
    let after = m33_rt::stack::peak_bytes();
    // Nine frames of at least 256 bytes each.
    assert!(after >= before + 9 * 256, "before {before} after {after}");
}

fn u64_division_and_wrapping_arithmetic() {
    let x: u64 = core::hint::black_box(0x1234_5678_9ABC_DEF0);
    assert_eq!(x / 7, 0x0299_C335_CCF6_68FD);
    assert_eq!(x % 7, 5);
    assert_eq!(core::hint::black_box(u32::MAX).wrapping_mul(3), u32::MAX - 2);
}

fn soft_float_is_exact() {
    // No FPU on this CPU: f32 goes through compiler_builtins, which must round as IEEE 754.
    let a = core::hint::black_box(0.1f32);
    let b = core::hint::black_box(0.2f32);
    assert_eq!((a + b).to_bits(), 0x3E99_999A);
    assert_eq!((a * b).to_bits(), 0x3CA3_D70B);
}

m33_rt::test_image!(
    data_is_copied_and_bss_is_zeroed,
    stack_peak_grows_with_use,
    u64_division_and_wrapping_arithmetic,
    soft_float_is_exact,
);
