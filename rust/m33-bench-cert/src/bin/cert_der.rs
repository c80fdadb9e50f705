//! ns-app's check of an issued certificate (`ns_app::provision::x509::verify`: `der`'s
//! borrowed types, no heap), as `keys ca` runs it before storing the certificate.
#![no_std]
#![no_main]

use core::hint::black_box;
use m33_bench_cert::{CA, CERT, CSR, DEVICE_POINT};
use m33_rt::bench;

fn main() -> u32 {
    bench::calibrate();
    let checked = bench::measure("verify", || {
        ns_app::provision::x509::verify(
            black_box(CERT),
            black_box(CA),
            black_box(CSR),
            black_box(DEVICE_POINT),
            None,
        )
    });
    m33_rt::stack::report_peak();
    u32::from(checked.is_err())
}

m33_rt::image_main!(main);
