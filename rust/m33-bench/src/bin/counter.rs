//! Proves the instruction counter: a fixed loop measured for 1000, 2000 and 4000
//! iterations must scale linearly and repeat exactly (`cargo xtask bench counter`).
#![no_std]
#![no_main]

use m33_rt::bench;

#[inline(never)]
fn spin(n: u32) -> u32 {
    let mut acc = 0u32;
    for i in 0..n {
        acc = core::hint::black_box(acc.wrapping_add(i));
    }
    acc
}

fn main() -> u32 {
    bench::calibrate();
    bench::measure("loop-1000", || spin(core::hint::black_box(1000)));
    bench::measure("loop-2000", || spin(core::hint::black_box(2000)));
    bench::measure("loop-4000", || spin(core::hint::black_box(4000)));
    m33_rt::stack::report_peak();
    0
}

m33_rt::image_main!(main);
