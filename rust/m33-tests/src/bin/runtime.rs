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

/// Copies and fills of every length 0..40 at every alignment 0..4 of source and
/// destination: the compiler turns them into `memcpy`/`memset` and the AEABI entry
/// points, which here are m33-rt's byte-at-a-time `small-mem` versions (this package
/// enables it so that they are tested).
fn memory_copies_and_fills_are_exact() {
    let source: [u8; 48] = core::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(1));
    for len in 0..40 {
        for (from, to) in [(0, 0), (1, 0), (0, 3), (2, 1), (3, 3)] {
            let (len, from, to) = core::hint::black_box((len, from, to));
            let mut dest = [0xEEu8; 48];
            dest[to..to + len].copy_from_slice(&source[from..from + len]);
            assert!(dest[..to].iter().chain(&dest[to + len..]).all(|&b| b == 0xEE), "copy {len} {from} {to}");
            assert_eq!(dest[to..to + len], source[from..from + len], "copy {len} {from} {to}");
            let value = core::hint::black_box(len as u8);
            dest[to..to + len].fill(value);
            assert!(dest[to..to + len].iter().all(|&b| b == value), "fill {len} {to}");
            dest[to..to + len].fill(core::hint::black_box(0));
            assert!(dest[to..to + len].iter().all(|&b| b == 0), "clear {len} {to}");
            assert!(dest[..to].iter().chain(&dest[to + len..]).all(|&b| b == 0xEE), "fill {len} {to}");
        }
    }
}

m33_rt::test_image!(
    memory_copies_and_fills_are_exact,
    data_is_copied_and_bss_is_zeroed,
    stack_peak_grows_with_use,
    u64_division_and_wrapping_arithmetic,
    soft_float_is_exact,
);
