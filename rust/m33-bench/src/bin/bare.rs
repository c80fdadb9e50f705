//! The runtime alone (`cargo xtask bench bare`): startup, semihosting, the markers and
//! the stack report. Its flash and RAM are the floor under every other image's, so a
//! partition's own cost is its image's figure less this one.
#![no_std]
#![no_main]

fn main() -> u32 {
    m33_rt::bench::calibrate();
    m33_rt::stack::report_peak();
    0
}

m33_rt::image_main!(main);
