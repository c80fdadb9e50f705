//! The device-identity partition as TF-M runs it (`cargo xtask bench
//! identity_partition`): boot-time derivation, then one message of each kind through
//! the partition's dispatch, each with the deepest stack it reaches. The image's flash
//! less the `bare` image's is the partition code's flash; the largest stack peak is
//! what its manifest's stack size must cover.
#![no_std]
#![no_main]

use core::hint::black_box;
use device_identity::{EmulatedHuk, LabelExtra};
use m33_rt::{bench, stack};
use partitions::identity::IdentityService;
use psa::{Message, Service, Status};
use secure_api::identity as api;

/// TF-M's AN521 dummy HUK (bytes 0x00..0x0f twice).
const HUK: [u8; 32] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, //
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
];

/// A message over fixed buffers, as the SPM would present it.
struct Msg<'a> {
    msg_type: i32,
    inputs: [&'a [u8]; 2],
    read: [usize; 2],
    out: &'a mut [u8],
    written: usize,
}

impl Message for Msg<'_> {
    fn msg_type(&self) -> i32 {
        self.msg_type
    }
    fn client_id(&self) -> i32 {
        -1
    }
    fn in_size(&self, i: usize) -> usize {
        self.inputs.get(i).map_or(0, |v| v.len())
    }
    fn out_size(&self, i: usize) -> usize {
        if i == 0 {
            self.out.len()
        } else {
            0
        }
    }
    fn read(&mut self, i: usize, buf: &mut [u8]) -> usize {
        let Some(input) = self.inputs.get(i) else { return 0 };
        let left = &input[self.read[i]..];
        let n = left.len().min(buf.len());
        buf[..n].copy_from_slice(&left[..n]);
        self.read[i] += n;
        n
    }
    fn skip(&mut self, _: usize, _: usize) -> usize {
        0
    }
    fn write(&mut self, i: usize, data: &[u8]) -> Result<(), Status> {
        let end = self.written + data.len();
        let slot =
            self.out.get_mut(self.written..end).filter(|_| i == 0).ok_or(Status::ERROR_PROGRAMMER_ERROR)?;
        slot.copy_from_slice(data);
        self.written = end;
        Ok(())
    }
}

fn call(service: &mut IdentityService, name: &str, msg_type: i32, inputs: [&[u8]; 2], out: &mut [u8]) -> i32 {
    stack::repaint();
    let mut msg = Msg { msg_type, inputs, read: [0; 2], out, written: 0 };
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
        call(&mut service, "KEY_STATUS", api::KEY_STATUS, [&[], &[]], &mut out[..api::KEY_STATUS_LEN]),
        call(&mut service, "UUID", api::UUID, [&[], &[]], &mut out[..16]),
        call(&mut service, "PUBLIC_KEY 0x5001", api::PUBLIC_KEY, [&key, &[]], &mut out[..65]),
        call(&mut service, "CSR 0x5001", api::CSR, [&key, &[]], &mut out),
        call(&mut service, "TLS_SIGN 0x5001", api::TLS_SIGN, [&key, &[7; 32]], &mut out[..64]),
    ];
    if statuses.iter().any(|&s| s != 0) {
        return 2;
    }
    stack::report_peak();
    0
}

m33_rt::image_main!(main);
