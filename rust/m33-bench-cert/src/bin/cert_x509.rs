//! The same checks made with x509-cert's owned types over a bump heap
//! (`ns_app::provision::x509_reference::verify`): what moving ns-app to x509-cert would
//! cost the non-secure image (flash, heap, stack, instructions).
#![no_std]
#![no_main]

use core::hint::black_box;
use m33_bench_cert::{CA, CERT, CSR, DEVICE_POINT};
use m33_rt::bench;

fn main() -> u32 {
    bench::calibrate();
    let checked = bench::measure("verify", || {
        ns_app::provision::x509_reference::verify(
            black_box(CERT),
            black_box(CA),
            black_box(CSR),
            black_box(DEVICE_POINT),
        )
    });
    m33_rt::println!("report: heap used {} B", m33_rt::heap::used_bytes());
    m33_rt::stack::report_peak();
    u32::from(checked.is_err())
}

m33_rt::image_main!(main);
