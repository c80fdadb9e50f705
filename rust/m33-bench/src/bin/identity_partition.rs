//! The device-identity partition as TF-M runs it (`cargo xtask bench
//! identity_partition`): boot-time derivation, then one message of each kind through
//! the partition's dispatch, each with the deepest stack it reaches. The image's flash
//! less the `bare` image's is the partition code's flash; the largest stack peak is
//! what its manifest's stack size must cover.
#![no_std]
#![no_main]

use core::hint::black_box;
use device_identity::test_vectors::HUK;
use device_identity::{EmulatedHuk, LabelExtra};
use m33_bench::Msg;
use m33_rt::{bench, stack};
use partitions::identity::IdentityService;
use psa::Service;
use secure_api::identity as api;

fn call(service: &mut IdentityService, name: &str, msg_type: i32, inputs: [&[u8]; 3], out: &mut [u8]) -> i32 {
    stack::repaint();
    let mut msg = Msg::new(msg_type, inputs, out);
    let status = bench::measure(name, || service.handle(black_box(&mut msg)));
    m33_rt::println!("stack-peak-bytes[{}]: {}", name, stack::peak_bytes());
    status
}

fn main() -> u32 {
    bench::calibrate();
    stack::repaint();
    m33_rt::println!("stack-peak-bytes[no operation]: {}", stack::peak_bytes());
    let Ok(extra) = LabelExtra::new("") else { return 1 };
    let mut kdf = EmulatedHuk::new(black_box(&HUK), secure_api::pid::DEVICE_IDENTITY);
    stack::repaint();
    let mut service = bench::measure("partition init: derive keys and UUID", || {
        IdentityService::new(&mut kdf, black_box(&extra), "Linaro")
    });
    m33_rt::println!("stack-peak-bytes[partition init]: {}", stack::peak_bytes());
    let key = 0x5001u32.to_le_bytes();
    let mut out = [0u8; api::CSR_MAX];
    let statuses = [
        call(&mut service, "KEY_STATUS", api::KEY_STATUS, [&[], &[], &[]], &mut out[..api::KEY_STATUS_LEN]),
        call(&mut service, "UUID", api::UUID, [&[], &[], &[]], &mut out[..16]),
        call(&mut service, "PUBLIC_KEY 0x5001", api::PUBLIC_KEY, [&key, &[], &[]], &mut out[..65]),
        call(&mut service, "CSR 0x5001", api::CSR, [&key, &[], &[]], &mut out),
        call(&mut service, "TLS_SIGN 0x5001", api::TLS_SIGN, [&key, &[7; 32], &[]], &mut out[..64]),
    ];
    if statuses.iter().any(|&s| s != 0) {
        return 2;
    }
    stack::report_peak();
    0
}

m33_rt::image_main!(main);
